/**
 * The daemon's periodic operator lines, in process with a fake clock: the seed's health check
 * every minute and the metrics report every 5 minutes, none after stop(), and a constant number
 * of timers however long the daemon runs (they are re-armed, not accumulated).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PassThrough } from 'node:stream';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';
import { collectJsonLines } from '../helpers/ndjson.js';
import { freePort } from '../helpers/ports.js';
import { serviceAt, StaticDiscovery } from '../helpers/static-discovery.js';
import type { Ski } from '../../src/ship/ski.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function startDaemon(metricsEnabled: boolean) {
  const config = await tempDaemonConfig('ship-hub-timers-', dirs, {
    metrics_enabled: metricsEnabled,
  });
  const lines: Array<Record<string, unknown>> = [];
  const sink = new PassThrough();
  collectJsonLines(sink, lines);
  const clock = new FakeClock();
  const daemon = new Daemon({
    config,
    logger: createLogger({ level: 'info', format: 'json', destination: sink }),
    clock,
    discovery: new StaticDiscovery([]),
  });
  await daemon.start();
  const count = (event: string) => lines.filter((l) => l.event === event).length;
  return { daemon, clock, lines, count };
}

describe('the daemon periodic lines (fake clock)', () => {
  it('health check every minute, metrics report every 5 minutes, nothing after stop', async () => {
    const { daemon, clock, lines, count } = await startDaemon(true);
    try {
      await clock.advanceAsync(59_999);
      assert.equal(count('health_check'), 0, 'not before a minute');
      await clock.advanceAsync(1);
      assert.equal(count('health_check'), 1);
      const health = lines.find((l) => l.event === 'health_check') as { msg: string };
      assert.match(
        health.msg,
        /^🏥 Health Check: uptime=1m, connections=0, total=0, failed=0, goroutines=\d+$/,
      );
      await clock.advanceAsync(4 * 60_000);
      assert.equal(count('health_check'), 5);
      assert.equal(count('metrics_report'), 1);
      const report = lines.find((l) => l.event === 'metrics_report') as { msg: string };
      assert.match(report.msg, /^📊 Metrics Report:\n {2}Uptime: 5m0s\n/);
      assert.match(report.msg, /Trusted devices: 0/);

      // A day later: 1,440 health checks and 288 reports, and still one timer of each kind.
      for (let minute = 5; minute < 24 * 60; minute++) clock.advance(60_000);
      assert.equal(count('health_check'), 24 * 60);
      assert.equal(count('metrics_report'), (24 * 60) / 5);
      const periodic = clock
        .pendingTimers()
        .filter((name) => name === 'healthCheck' || name === 'metricsReport');
      assert.deepEqual(periodic.sort(), ['healthCheck', 'metricsReport']);
      // ...and the daemon holds only those two handles (it used to keep every one it armed).
      const held = (daemon as unknown as { reporter: { timers: { size: number } } }).reporter
        .timers;
      assert.equal(held.size, 2);
    } finally {
      await daemon.stop();
    }
    const before = lines.length;
    clock.advance(10 * 60_000);
    assert.equal(lines.length, before, 'no periodic line after stop()');
    assert.ok(
      !clock.pendingTimers().some((n) => n === 'healthCheck' || n === 'metricsReport'),
      'stop() cancels both timers',
    );
  });

  it('metrics_enabled false: health checks only', async () => {
    const { daemon, clock, count } = await startDaemon(false);
    try {
      await clock.advanceAsync(10 * 60_000);
      assert.equal(count('health_check'), 10);
      assert.equal(count('metrics_report'), 0);
    } finally {
      await daemon.stop();
    }
  });

  it('failed connections are part of total: failed <= total, connections <= total', async () => {
    // A trusted device announced at a port nobody listens on: every dial fails (refused).
    const ski = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0' as Ski;
    const config = await tempDaemonConfig('ship-hub-timers-', dirs);
    const device = {
      ski,
      brand: 'Acme',
      model: 'Box',
      device_type: 'HeatPump',
      paired_at: '2024-01-09T10:30:00Z',
      last_connection: '2024-01-09T10:30:00Z',
      connection_count: 0,
    };
    mkdirSync(dirname(config.trusted_devices_file), { recursive: true });
    writeFileSync(config.trusted_devices_file, JSON.stringify({ [ski]: device }));
    const lines: Array<Record<string, unknown>> = [];
    const sink = new PassThrough();
    collectJsonLines(sink, lines);
    const clock = new FakeClock();
    const daemon = new Daemon({
      config,
      logger: createLogger({ level: 'info', format: 'json', destination: sink }),
      clock,
      discovery: new StaticDiscovery([serviceAt(ski, await freePort())]),
    });
    await daemon.start();
    try {
      let health: { total: number; failed: number; connections: number } | undefined;
      for (let minute = 0; minute < 30 && (health?.failed ?? 0) < 2; minute++) {
        // Real I/O (the refused connect) needs event-loop turns between fake minutes.
        for (let turn = 0; turn < 20; turn++) await new Promise((r) => setImmediate(r));
        await clock.advanceAsync(60_000);
        health = lines.filter((l) => l.event === 'health_check').at(-1) as typeof health;
      }
      assert.ok(health !== undefined && health.failed >= 2, JSON.stringify(health));
      assert.ok(health.failed <= health.total, `failed ${health.failed} > total ${health.total}`);
      assert.ok(health.connections <= health.total);
    } finally {
      await daemon.stop();
    }
  });
});
