/**
 * The daemon's files and signals as a child process (mDNS off, 127.0.0.1, port 0, admin API
 * off): two daemons on one data directory, SIGHUP reloading trusted_devices.json, and the CLI
 * refusing to edit the trust file behind a running daemon. Waits are on log lines and exits,
 * never on time.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { AdminClient } from '../../src/ops/admin-client.js';
import { Daemon } from '../../src/ops/daemon.js';
import { createLogger } from '../../src/ops/logger.js';
import { loadIdentity } from '../../src/trust/identity.js';
import { tempDaemonConfig } from '../helpers/daemon-config.js';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/ports.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(here, '../../src/cli/main.js');
const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';
const children = new Set<ChildProcess>();
const dirs: string[] = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A config with mDNS and the admin API off; the SHIP port is a free loopback port (the
 * config refuses port 0). */
async function workDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ship-hub-files-'));
  dirs.push(dir);
  const port = await freePort();
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ port, admin_port: 0, mdns_enabled: false, log_format: 'json' }),
  );
  return dir;
}

type Running = DaemonProcess;

function startDaemon(dir: string): Running {
  return startDaemonProcess(MAIN, dir, children);
}

const event = (name: string) => (l: Record<string, unknown>) => l.event === name;

function cli(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function trustFile(devices: string[]): string {
  const out: Record<string, unknown> = {};
  for (const ski of devices) {
    out[ski] = {
      ski,
      brand: 'Acme',
      model: 'Box',
      device_type: 'HeatPump',
      paired_at: '2024-01-09T10:30:00Z',
      last_connection: '2024-01-09T10:30:00Z',
      connection_count: 0,
    };
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}

describe('daemon files and signals', () => {
  it(
    'two daemons on one data directory: the second exits naming the first pid; the SKI on disk is unchanged',
    {
      timeout: 60_000,
    },
    async () => {
      const dir = await workDir();
      // Both at once: without the lock both created an identity and the survivor's differed.
      const a = startDaemon(dir);
      const b = startDaemon(dir);
      const outcome = (r: Running) =>
        Promise.race([
          r.line(event('listening'), 'listening').then(() => 'running' as const),
          r.exited.then(() => 'exited' as const),
        ]).catch(() => 'exited' as const);
      const [oa, ob] = await Promise.all([outcome(a), outcome(b)]);
      assert.deepEqual([oa, ob].sort(), ['exited', 'running'], 'exactly one daemon runs');
      const [winner, loser] = oa === 'running' ? [a, b] : [b, a];
      assert.notEqual(await loser.exited, 0);
      assert.match(loser.stderr(), new RegExp(`held by process ${winner.child.pid}`));
      assert.match(loser.stderr(), /ship-hub\.lock/);
      const identityLine = await winner.line(event('identity'), 'identity');
      const onDisk = await loadIdentity(join(dir, 'certs/ship.crt'), join(dir, 'certs/ship.key'));
      assert.equal(identityLine.ski, onDisk.ski, 'the running daemon uses the SKI on disk');

      // A later second start is refused the same way and changes nothing.
      const late = startDaemon(dir);
      assert.notEqual(await late.exited, 0);
      assert.match(late.stderr(), new RegExp(`held by process ${winner.child.pid}`));
      // It never started, so it does not say it is shutting down or stopped.
      assert.deepEqual(
        late.lines.filter((l) => l.event === 'shutdown' || l.event === 'stopped'),
        [],
      );
      assert.equal(
        (await loadIdentity(join(dir, 'certs/ship.crt'), join(dir, 'certs/ship.key'))).ski,
        onDisk.ski,
      );
      assert.equal(readFileSync(join(dir, 'data/ship-hub.lock'), 'utf8'), `${winner.child.pid}\n`);

      winner.child.kill('SIGTERM');
      assert.equal(await winner.exited, 0);
      assert.equal(existsSync(join(dir, 'data/ship-hub.lock')), false, 'removed on a clean stop');
    },
  );

  it(
    'SIGHUP reloads trusted_devices.json and the daemon keeps running; a bad edit keeps the old state',
    {
      timeout: 60_000,
    },
    async () => {
      const dir = await workDir();
      const daemon = startDaemon(dir);
      await daemon.line(event('listening'), 'listening');
      const path = join(dir, 'data/trusted_devices.json');
      writeFileSync(path, trustFile([SKI]));
      daemon.child.kill('SIGHUP');
      const reloaded = await daemon.line(event('reloaded'), 'the reload');
      assert.equal(reloaded.trusted_devices, 1);
      assert.deepEqual(reloaded.added, [SKI]);
      assert.equal(daemon.child.exitCode, null, 'still running');

      const edit = `{\n  "${SKI}": {},\n  "${SKI}": {}\n}\n`;
      writeFileSync(path, edit);
      daemon.child.kill('SIGHUP');
      const failed = await daemon.line(event('reload_failed'), 'the failed reload');
      assert.match(String(failed.msg), new RegExp(`reload of ${path} failed`));
      assert.match(String(failed.msg), /keeping the 1 trusted devices/);
      assert.match(String(failed.msg), /line 3/);
      // Advice for a running daemon (not "then start again"), no stack trace, the edit kept.
      assert.match(String(failed.msg), /Fix the file and send SIGHUP again/);
      assert.doesNotMatch(String(failed.msg), /start again/);
      assert.equal(failed.err, undefined, 'the reason, not the error object with its stack');
      assert.equal(failed.kept_at, `${path}.rejected`);
      assert.equal(readFileSync(`${path}.rejected`, 'utf8'), edit);
      assert.equal(daemon.child.exitCode, null, 'still running');

      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
      assert.ok(daemon.lines.some(event('stopped')), 'a graceful stop after the SIGHUPs');
    },
  );

  it(
    'the CLI does not edit the trust file while a daemon holds the lock; edits it when none runs',
    {
      timeout: 60_000,
    },
    async () => {
      const dir = await workDir();
      const daemon = startDaemon(dir);
      await daemon.line(event('listening'), 'listening');
      const path = join(dir, 'data/trusted_devices.json');
      // The same files through a config whose admin API nobody serves (a wrong admin_port).
      const closedPort = await freePort();
      writeFileSync(
        join(dir, 'other.json'),
        JSON.stringify({ port: await freePort(), admin_port: closedPort, mdns_enabled: false }),
      );
      const refused = cli(dir, ['trust', 'add', SKI, '--config', 'other.json']);
      assert.notEqual(refused.status, 0);
      assert.match(
        refused.stderr,
        new RegExp(`admin API at http://127\\.0\\.0\\.1:${closedPort} could not be reached`),
      );
      assert.match(
        refused.stderr,
        new RegExp(`process ${daemon.child.pid} holds .*ship-hub\\.lock`),
      );
      const disabled = cli(dir, ['trust', 'remove', SKI]);
      assert.notEqual(disabled.status, 0);
      assert.match(disabled.stderr, /admin API is disabled \(admin_port 0\)/);
      assert.match(disabled.stderr, new RegExp(`process ${daemon.child.pid} holds`));
      assert.equal(existsSync(path), false, 'the file was not written');
      // Reading is allowed, and says where it came from.
      const listed = cli(dir, ['trust', 'list']);
      assert.equal(listed.status, 0, listed.stderr);
      assert.match(
        listed.stdout,
        new RegExp(`read from the file ${path}; process ${daemon.child.pid} holds`),
      );

      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
      const added = cli(dir, ['trust', 'add', SKI]);
      assert.equal(added.status, 0, added.stderr);
      assert.match(added.stdout, new RegExp(`on the file ${path} \\(no daemon running\\)`));
      assert.ok(SKI in JSON.parse(readFileSync(path, 'utf8')));
      assert.equal(existsSync(join(dir, 'data/ship-hub.lock')), false, 'the CLI released its lock');
    },
  );

  it(
    'a broken hub_state.json does not stop start-up: it is kept aside',
    { timeout: 60_000 },
    async () => {
      const dir = await workDir();
      mkdirSync(join(dir, 'data'));
      writeFileSync(join(dir, 'data/hub_state.json'), '{ "restarts": ');
      const daemon = startDaemon(dir);
      const warned = await daemon.line(event('state_file_corrupt'), 'the warning');
      await daemon.line(event('listening'), 'listening');
      assert.match(String(warned.kept_at), /hub_state\.json\.corrupt-\d{8}T\d{6}Z$/);
      assert.equal(readFileSync(String(warned.kept_at), 'utf8'), '{ "restarts": ');
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
    },
  );
});

describe('daemon storage failures (in process)', () => {
  it(
    'disk full: a trust change that cannot be saved is an API error, memory equals the file, /healthz degraded',
    {
      timeout: 60_000,
    },
    async () => {
      const config = await tempDaemonConfig('ship-hub-diskfull-', dirs, {
        admin_port: await freePort(),
        admin_host: '127.0.0.1',
      });
      const sink = new PassThrough();
      sink.resume();
      const daemon = new Daemon({
        config,
        logger: createLogger({ level: 'silent', format: 'json', destination: sink }),
      });
      await daemon.start();
      try {
        const client = AdminClient.fromConfig(config);
        assert.equal((await client.health()).status, 'ok');
        // Writes of the trust file fail from now on (a directory where the file goes: the
        // rename fails like a write on a full disk).
        mkdirSync(config.trusted_devices_file);
        await assert.rejects(client.addTrusted(SKI, {}), { code: 'SHIPHUB_ERR_STORAGE' });
        assert.deepEqual(await client.listTrusted(), [], 'not applied in memory');
        const health = await client.health();
        assert.equal(health.status, 'degraded');
        assert.match(String(health.storage_error), /trusted_devices\.json/);
        assert.equal(daemon.storageHealthy(), false);

        rmSync(config.trusted_devices_file, { recursive: true });
        await client.addTrusted(SKI, {});
        assert.equal((await client.health()).status, 'ok', 'healthy again after a good write');
        const file = JSON.parse(readFileSync(config.trusted_devices_file, 'utf8')) as object;
        assert.deepEqual(Object.keys(file), [SKI]);
        assert.deepEqual(
          (await client.listTrusted()).map((d) => d.ski),
          [SKI],
        );
      } finally {
        await daemon.stop();
      }
      assert.equal(existsSync(join(dirname(config.trusted_devices_file), 'ship-hub.lock')), false);
    },
  );
});
