/**
 * auto_accept_pairing opens a window at start only on the first start of an identity with
 * nothing trusted; a restart (clean or after a crash) never reopens it, so an attacker who
 * crashes the hub is not auto-accepted on the restart (SHIP §12.3.1.1: a window is a deliberate,
 * short act). In process, with the device dialling over 127.0.0.1.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connectShip } from '../../src/transport/ship-client.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import { AUTO_ACCEPT_MARKER, Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import type { HubConfig } from '../../src/ops/config.js';
import { systemClock } from '../../src/util/clock.js';
import { AdminClient } from '../../src/ops/admin-client.js';
import { freePort } from '../helpers/ports.js';
import { testIdentity } from '../helpers/certs.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface LogLine {
  event?: string;
  reason?: string;
  msg?: string;
}

/** A daemon whose JSON log lines are parsed as they come; `next(event)` waits for one. */
function daemonWithLog(config: HubConfig) {
  const lines: LogLine[] = [];
  const waiters: Array<{ event: string; resolve: (line: LogLine) => void }> = [];
  const stream = new PassThrough();
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as LogLine;
      buffered = buffered.slice(newline + 1);
      lines.push(line);
      for (const w of waiters.splice(0)) {
        if (w.event === line.event) w.resolve(line);
        else waiters.push(w);
      }
    }
  });
  const daemon = new Daemon({
    config,
    logger: createLogger({ level: 'info', format: 'json', destination: stream }),
  });
  const next = (event: string): Promise<LogLine> => {
    const seen = lines.find((l) => l.event === event);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => waiters.push({ event, resolve }));
  };
  return { daemon, lines, next };
}

describe('auto-accept at start', () => {
  it(
    'opens once per identity; a restart does not reopen it and an unknown device is asked about',
    { timeout: 60_000 },
    async () => {
      const config = await tempDaemonConfig('ship-hub-auto-accept-', dirs, {
        auto_accept_pairing: true,
        auto_accept_window_seconds: 120,
      });
      const marker = join(dirname(config.trusted_devices_file), AUTO_ACCEPT_MARKER);

      const first = daemonWithLog(config);
      await first.daemon.start();
      try {
        await first.next('auto_accept_open');
        assert.ok(existsSync(marker), 'the use is recorded before the window opens');
        const recorded = JSON.parse(readFileSync(marker, 'utf8')) as { ski: string };
        assert.equal(recorded.ski, first.daemon.ski);
      } finally {
        await first.daemon.stop();
      }

      // The restart (as after a crash): no window, and a device that connects waits for a person.
      const second = daemonWithLog(config);
      await second.daemon.start();
      try {
        const notOpened = await second.next('auto_accept_not_opened');
        assert.match(notOpened.reason ?? '', /first-start window of this identity was used/);
        assert.equal(second.lines.filter((l) => l.event === 'auto_accept_open').length, 0);
        const device = await testIdentity('auto-accept-attacker');
        const connection = await connectShip({
          host: '127.0.0.1',
          port: second.daemon.port!,
          expectedSki: second.daemon.ski!,
          tls: createShipTlsContext(device),
          localSki: device.ski,
          localShipId: 'attacker-1',
          clock: systemClock,
        });
        await second.next('trust_decision_requested');
        assert.equal(
          second.lines.filter((l) => l.event === 'auto_accepted').length,
          0,
          'not auto-accepted',
        );
        await connection.terminate(1000, 'test done');
      } finally {
        await second.daemon.stop();
      }
    },
  );

  it(
    'an operator opens a window on demand through the admin API, also after the first start',
    { timeout: 60_000 },
    async () => {
      const config = await tempDaemonConfig('ship-hub-auto-accept-', dirs, {
        admin_port: await freePort(),
      });
      const run = daemonWithLog(config);
      await run.daemon.start();
      try {
        const window = await AdminClient.fromConfig(config).pairingWindow(30);
        assert.equal(window.open, true);
        await run.next('auto_accept_open');
        const device = await testIdentity('auto-accept-window-device');
        const connection = await connectShip({
          host: '127.0.0.1',
          port: run.daemon.port!,
          expectedSki: run.daemon.ski!,
          tls: createShipTlsContext(device),
          localSki: device.ski,
          localShipId: 'window-device-1',
          clock: systemClock,
        });
        await run.next('auto_accepted');
        assert.equal((await AdminClient.fromConfig(config).pairingWindow(0)).open, false);
        await connection.close();
      } finally {
        await run.daemon.stop();
      }
    },
  );

  it(
    'does not open while devices are paired, nor with an unreadable marker',
    { timeout: 60_000 },
    async () => {
      const config = await tempDaemonConfig('ship-hub-auto-accept-', dirs, {
        auto_accept_pairing: true,
      });
      const paired = await testIdentity('auto-accept-paired');
      mkdirSync(dirname(config.trusted_devices_file), { recursive: true });
      const entry = {
        ski: paired.ski,
        brand: 'B',
        model: 'M',
        device_type: 'HeatPump',
        paired_at: '2026-01-01T00:00:00Z',
        last_connection: '2026-01-01T00:00:00Z',
        connection_count: 1,
      };
      writeFileSync(config.trusted_devices_file, JSON.stringify({ [paired.ski]: entry }));
      const withTrust = daemonWithLog(config);
      await withTrust.daemon.start();
      try {
        const line = await withTrust.next('auto_accept_not_opened');
        assert.match(line.reason ?? '', /devices are paired already/);
      } finally {
        await withTrust.daemon.stop();
      }

      const fresh = await tempDaemonConfig('ship-hub-auto-accept-', dirs, {
        auto_accept_pairing: true,
      });
      mkdirSync(dirname(fresh.trusted_devices_file), { recursive: true });
      writeFileSync(join(dirname(fresh.trusted_devices_file), AUTO_ACCEPT_MARKER), '{broken');
      const withBrokenMarker = daemonWithLog(fresh);
      await withBrokenMarker.daemon.start();
      try {
        const line = await withBrokenMarker.next('auto_accept_not_opened');
        assert.match(line.reason ?? '', /cannot be read \(counted as used\)/);
      } finally {
        await withBrokenMarker.daemon.stop();
      }
    },
  );
});
