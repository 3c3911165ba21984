/**
 * Start-up failures an installer meets in the field, as the daemon reports them: a SHIP or admin
 * port already taken names the key, the port and what to do, instead of a raw EADDRINUSE stack,
 * and a first start that fails so creates no identity.
 * In process; the blocking servers listen on 127.0.0.1 only.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import { ConfigError } from '../../src/ship/errors.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';
import { freePort } from '../helpers/ports.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function blocker(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('daemon start-up failures', () => {
  for (const key of ['port', 'admin_port'] as const) {
    it(`"${key}" in use: the key, the port and what to do`, { timeout: 60_000 }, async () => {
      const taken = await freePort();
      const config = await tempDaemonConfig('ship-hub-startup-', dirs, {
        log_level: 'silent',
        ...(key === 'port' ? { port: taken } : { admin_port: taken }),
      });
      const server = await blocker(taken);
      const lines: string[] = [];
      const daemon = new Daemon({
        config,
        logger: createLogger({
          level: 'info',
          format: 'json',
          destination: { write: (line: string) => lines.push(line) },
        }),
      });
      try {
        await assert.rejects(daemon.start(), (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.match(error.message, new RegExp(`^"${key}": .*${taken} is already in use`));
          assert.match(error.hint ?? '', new RegExp(`ss -ltnp 'sport = :${taken}'`));
          return true;
        });
        // A failed first start leaves no identity behind (the port is probed before it).
        assert.equal(existsSync(config.certificate_file), false);
        assert.equal(existsSync(config.private_key_file), false);
      } finally {
        await daemon.stop();
        await new Promise((resolve) => server.close(resolve));
      }
      // It never ran: no "Shutting down" / "Stopped" after the error.
      const events = lines.map((line) => (JSON.parse(line) as { event?: string }).event);
      assert.equal(events.includes('shutdown'), false, lines.join(''));
      assert.equal(events.includes('stopped'), false, lines.join(''));
    });
  }
});

describe('daemon start-up checks come before anything is created', () => {
  it(
    'an unknown interface names "network_interfaces" and creates no identity',
    { timeout: 60_000 },
    async () => {
      const config = await tempDaemonConfig('ship-hub-startup-', dirs, {
        log_level: 'silent',
        // The check runs before any mDNS socket: nothing is announced on any interface.
        mdns_enabled: true,
        network_interfaces: ['nosuch9'],
      });
      const daemon = new Daemon({
        config,
        logger: createLogger({ level: 'silent', format: 'json' }),
      });
      try {
        await assert.rejects(daemon.start(), (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.match(error.message, /^"network_interfaces": unknown network interface "nosuch9"/);
          return true;
        });
      } finally {
        await daemon.stop();
      }
      assert.equal(existsSync(config.private_key_file), false, 'no key was created');
      assert.equal(existsSync(config.certificate_file), false, 'no certificate was created');
      // Only the data directory the lock lives in (taken first, released by stop()) remains.
      const root = dirname(dirname(config.trusted_devices_file));
      assert.deepEqual(readdirSync(root, { recursive: true }), ['data']);
    },
  );
});

describe('daemon start-up log lines', () => {
  it(
    'the admin API start is logged once at info, no JSON line repeats "component"',
    { timeout: 60_000 },
    async () => {
      const adminPort = await freePort();
      const config = await tempDaemonConfig('ship-hub-startup-', dirs, {
        admin_port: adminPort,
        log_level: 'debug',
      });
      const raw: string[] = [];
      const destination = new Writable({
        write(chunk: Buffer, _encoding, done) {
          raw.push(
            ...chunk
              .toString('utf8')
              .split('\n')
              .filter((l) => l.trim() !== ''),
          );
          done();
        },
      });
      const daemon = new Daemon({
        config,
        logger: createLogger({ level: 'debug', format: 'json', destination }),
      });
      try {
        await daemon.start();
      } finally {
        await daemon.stop();
      }
      const records = raw.map((line) => JSON.parse(line) as { level: number; msg: string });
      const adminStarts = records.filter(
        (r) =>
          r.level === 30 && r.msg.includes(`:${adminPort}`) && /listening|Admin API/i.test(r.msg),
      );
      assert.equal(adminStarts.length, 1, adminStarts.map((r) => r.msg).join(' | '));
      // At debug level the admin API's own line carries its component: bound once, not twice.
      const withComponent = raw.filter((line) => line.includes('"component":'));
      assert.ok(withComponent.length > 0, 'component lines are logged');
      for (const line of withComponent) {
        assert.equal(line.split('"component":').length, 2, `"component" repeated in ${line}`);
      }
    },
  );
});
