/**
 * The daemon as a real child process (`node build/src/cli/main.js config.json`), with mDNS off
 * and everything on 127.0.0.1: first start, restart with the same SKI and a trusted peer that
 * reconnects, pairing through the CLI, broken config and trust files, SIGTERM with SHIP close, a
 * second signal during a slow shutdown, and the admin API's credential (the 0600 token file the
 * CLI reads) with slow and reset clients.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hub } from '../../src/hub/hub.js';
import { TlsTransport } from '../../src/hub/transport.js';
import { toSki, type Ski } from '../../src/ship/ski.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import type { NodeIdentity } from '../../src/trust/identity.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { StaticDiscovery, serviceAt } from '../helpers/static-discovery.js';
import { freePort } from '../helpers/ports.js';
import { startDaemonProcess, type DaemonProcess } from '../helpers/daemon-process.js';
import { rawHandshake, rawShipClient } from '../reliability/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(here, '../../src/cli/main.js');
const children = new Set<ChildProcess>();
const dirs: string[] = [];

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function workDir(
  config: Record<string, unknown> = {},
): Promise<{ dir: string; port: number; admin: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ship-hub-daemon-'));
  dirs.push(dir);
  const port = await freePort();
  const admin = await freePort();
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      { port, admin_port: admin, mdns_enabled: false, log_format: 'json', ...config },
      null,
      2,
    ),
  );
  return { dir, port, admin };
}

type Running = DaemonProcess;

function startDaemon(dir: string): Running {
  return startDaemonProcess(MAIN, dir, children);
}

/** Resolves with the first log line of `event` (logged already or later). */
function logged(r: Running, event: string, what: string): Promise<Record<string, unknown>> {
  return r.line((l) => l.event === event, what);
}

function hasEvent(r: Running, event: string): boolean {
  return r.lines.some((l) => l.event === event);
}

function cli(
  dir: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A peer device (our library hub) that trusts the daemon and dials it. */
async function peerHub(identity: NodeIdentity, daemonSki: Ski, port: number) {
  const hub = new Hub({
    localSki: identity.ski,
    localShipId: 'peer-device',
    transport: new TlsTransport({
      tls: createShipTlsContext(identity),
      localSki: identity.ski,
      localShipId: 'peer-device',
      port: 0,
      host: '127.0.0.1',
      clock: systemClock,
    }),
    clock: systemClock,
    discovery: new StaticDiscovery([serviceAt(daemonSki, port)]),
    trusted: [{ ski: daemonSki }],
  });
  await hub.start();
  return hub;
}

function daemonSki(dir: string): Ski {
  const out = cli(dir, ['cert', 'show', '--json']);
  assert.equal(out.status, 0, out.stderr);
  return toSki((JSON.parse(out.stdout) as { ski: string }).ski);
}

describe('the daemon as a child process', () => {
  it('first start creates the identity and state; restart keeps the SKI; a trusted peer reconnects', async () => {
    const { dir, port } = await workDir();
    const first = startDaemon(dir);
    await logged(first, 'listening', 'listening');
    assert.ok(existsSync(join(dir, 'certs/ship.crt')));
    const keyMode = statSync(join(dir, 'certs/ship.key')).mode & 0o777;
    assert.equal(keyMode, 0o600, 'private key is 0600');
    assert.ok(existsSync(join(dir, 'data/hub_state.json')));
    const ski = daemonSki(dir);

    const peerIdentity = await testIdentity('peer-1');
    assert.equal(
      cli(dir, ['trust', 'add', peerIdentity.ski, '--brand', 'Acme', '--model', 'Box']).status,
      0,
    );
    const peer = await peerHub(peerIdentity, ski, port);
    try {
      await logged(first, 'device_connected', 'first connection');
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);

      const second = startDaemon(dir);
      await logged(second, 'listening', 'listening again');
      assert.equal(daemonSki(dir), ski, 'the SKI survives a restart');
      await logged(second, 'device_connected', 'the peer reconnects');
      const trusted = () =>
        (
          JSON.parse(readFileSync(join(dir, 'data/trusted_devices.json'), 'utf8')) as Record<
            string,
            { connection_count: number; brand: string }
          >
        )[peerIdentity.ski];
      // Connection statistics wait in memory for a delayed write (TRUST_STATISTICS_DELAY_MS);
      // a stop writes them, so after it the file counts both connections.
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
      // (At least: the peer may have reconnected once more before the stop.)
      const written = trusted()?.connection_count ?? 0;
      assert.ok(written >= 2, `both connections written by the stop, got ${written}`);
      assert.equal(trusted()?.brand, 'Acme');
    } finally {
      await peer.stop(1_000);
    }
  });

  it('a probe that gives up while a pairing decision is pending is information, not an error', async () => {
    const { dir, port } = await workDir();
    const daemon = startDaemon(dir);
    await logged(daemon, 'listening', 'listening');
    const run = cli(dir, [
      'probe',
      `127.0.0.1:${port}`,
      '--ski',
      daemonSki(dir),
      '--temporary-identity',
      '--timeout',
      '1',
      '--json',
    ]);
    assert.equal(run.status, 1, 'the probe was not trusted: it failed and said so');
    const probeSki = (
      JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { local_ski?: string }
    ).local_ski;
    await logged(daemon, 'device_ended_handshake', 'the planned end logged');
    const ended = daemon.lines.find((l) => l.event === 'device_ended_handshake');
    assert.equal(ended?.level, 30, 'info, not error');
    assert.equal(ended?.ski, probeSki);
    assert.match(
      String(ended?.msg),
      /ended the handshake: the device closed the connection while this node waited for a pairing decision about it \(close code 4500: probe done\)/,
    );
    // Neither the seed's error line nor its ConnectionStateError line for a planned end.
    for (const event of ['device_error', 'connection_state']) {
      assert.equal(hasEvent(daemon, event), false, `no ${event} line`);
    }
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
  });

  it('pairing through the CLI: pending, approve, trusted in the seed format', async () => {
    const { dir, port } = await workDir();
    const daemon = startDaemon(dir);
    await logged(daemon, 'listening', 'listening');
    const ski = daemonSki(dir);
    const peerIdentity = await testIdentity('peer-2');
    const peer = await peerHub(peerIdentity, ski, port);
    try {
      await logged(daemon, 'trust_decision_requested', 'pairing request');
      // No terminal: the daemon says how to decide, naming its config file for another directory.
      await logged(daemon, 'pairing_hint', 'pairing hint');
      const hint = daemon.lines.find((l) => l.event === 'pairing_hint');
      assert.equal(
        hint?.msg,
        `   decide with: ship-hub pairing approve ${peerIdentity.ski} --config ${join(dir, 'config.json')} (or deny)`,
      );
      const list = cli(dir, ['pairing', 'list', '--json']);
      const pending = JSON.parse(list.stdout) as Array<{ ski: string }>;
      assert.deepEqual(
        pending.map((p) => p.ski),
        [peerIdentity.ski],
      );
      // A refusal by the daemon says which daemon refused (where the command acted).
      const notPending = cli(dir, ['pairing', 'approve', '1'.repeat(40)]);
      assert.equal(notPending.status, 1, notPending.stderr);
      assert.match(notPending.stderr, /the daemon at http:\/\/127\.0\.0\.1:\d+/);
      const spaced = peerIdentity.ski.toUpperCase().replace(/(.{4})/g, '$1 ');
      assert.equal(cli(dir, ['pairing', 'approve', spaced]).status, 0, 'SKIs typed by people work');
      await logged(daemon, 'device_connected', 'connected after approval');
      const seedLines = daemon.lines.map((l) => l.msg);
      assert.ok(seedLines.includes(`✅ User approved device: ${peerIdentity.ski.slice(0, 12)}...`));
      const file = JSON.parse(
        readFileSync(join(dir, 'data/trusted_devices.json'), 'utf8'),
      ) as Record<string, Record<string, unknown>>;
      // The seed's fields, plus the pinned key once the device's first connection is written.
      const keys = Object.keys(file[peerIdentity.ski] ?? {}).sort();
      assert.deepEqual(
        keys.filter((k) => k !== 'public_key_sha256'),
        [
          'brand',
          'connection_count',
          'device_type',
          'last_connection',
          'model',
          'paired_at',
          'ski',
        ],
      );
      const pin = file[peerIdentity.ski]?.public_key_sha256;
      assert.ok(
        pin === undefined || (typeof pin === 'string' && /^[0-9a-f]{64}$/.test(pin)),
        'a pin is a SHA-256',
      );
      // SIGTERM closes the peer with a SHIP close (announce/confirm), not a dropped socket.
      const closed = new Promise<{ failure?: unknown; closeCode?: number | undefined }>((res) =>
        peer.once('disconnected', (_ski, info) => res(info)),
      );
      daemon.child.kill('SIGTERM');
      const info = await closed;
      assert.equal(info.failure, undefined, 'a clean SHIP close');
      assert.equal(info.closeCode, 4001);
      assert.equal(await daemon.exited, 0);
      assert.ok(hasEvent(daemon, 'stopped'));
    } finally {
      await peer.stop(1_000);
    }
  });

  it('a broken config stops start-up naming the file and key, and is left untouched', async () => {
    const { dir } = await workDir();
    const path = join(dir, 'config.json');
    const broken = '{\n  "port": "abc",\n  "max_conections": 3\n}\n';
    writeFileSync(path, broken);
    const run = startDaemon(dir);
    assert.equal(await run.exited, 2);
    const stderr = run.stderr();
    assert.match(stderr, /config\.json/);
    assert.match(stderr, /"port"/);
    assert.match(stderr, /did you mean "max_connections"/);
    assert.equal(readFileSync(path, 'utf8'), broken);
  });

  it('a broken trust file stops start-up with a clear error and is never overwritten', async () => {
    const { dir } = await workDir();
    const trustPath = join(dir, 'data/trusted_devices.json');
    spawnSync('mkdir', ['-p', join(dir, 'data')]);
    const broken = '{ "abc": { "ski": "abc" ';
    writeFileSync(trustPath, broken);
    const run = startDaemon(dir);
    assert.equal(await run.exited, 2);
    const stderr = run.stderr();
    assert.match(stderr, /trusted_devices\.json/);
    assert.equal(readFileSync(trustPath, 'utf8'), broken);
  });

  it('trust add/list/remove work on the file while the daemon is stopped', async () => {
    const { dir } = await workDir({ admin_port: await freePort() });
    const ski = 'ab'.repeat(20);
    const first = cli(dir, ['trust', 'add', ski, '--brand', 'Viessmann']);
    assert.equal(first.status, 0);
    assert.match(first.stdout, new RegExp(`✅ trusted ${ski}`));
    // Adding it again says so, and what it updated.
    const again = cli(dir, ['trust', 'add', ski, '--address', '127.0.0.1:4712']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`✅ ${ski} was trusted already; updated address`));
    const listed = JSON.parse(cli(dir, ['trust', 'list', '--json']).stdout) as Array<{
      ski: string;
    }>;
    assert.deepEqual(
      listed.map((d) => d.ski),
      [ski],
    );
    assert.equal(cli(dir, ['trust', 'remove', ski]).status, 0);
    const bad = cli(dir, ['trust', 'remove', 'not-a-ski']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /not an SKI/);
  });

  it(
    'the admin API wants the 0600 token file the CLI reads; anonymous, cross-site and foreign-Host calls are refused; slow and reset clients are closed',
    { timeout: 120_000 },
    async () => {
      const { dir, admin } = await workDir();
      const daemon = startDaemon(dir);
      await logged(daemon, 'admin_listening', 'the admin API listening');
      const tokenFile = join(dir, 'data/admin.token');
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600, 'only the service user reads it');
      const token = readFileSync(tokenFile, 'utf8').trim();
      const base = `http://127.0.0.1:${admin}`;
      const ski = 'cd'.repeat(20);

      // The CLI finds the token through the config's data directory and changes state with it.
      const add = cli(dir, ['trust', 'add', ski, '--brand', 'Acme']);
      assert.equal(add.status, 0, add.stderr);
      assert.match(add.stdout, /through the daemon at http:\/\/127\.0\.0\.1:/);
      const list = cli(dir, ['pairing', 'list', '--json']);
      assert.equal(list.status, 0, list.stderr);
      const trusted = cli(dir, ['trust', 'list', '--json']);
      assert.deepEqual(
        (JSON.parse(trusted.stdout) as Array<{ ski: string }>).map((d) => d.ski),
        [ski],
      );

      // What a web page or another local user can send: refused, nothing changed.
      const post = (headers: Record<string, string>) =>
        fetch(`${base}/api/trust`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ ski: 'ef'.repeat(20) }),
        });
      assert.equal((await post({})).status, 401);
      assert.equal((await post({ authorization: 'Bearer wrong-token-0123456789' })).status, 401);
      const evil = await post({ authorization: `Bearer ${token}`, origin: 'http://evil.example' });
      assert.equal(evil.status, 403);
      const beacon = await fetch(`${base}/api/pairing/${ski}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        body: 'x',
      });
      assert.equal(beacon.status, 415);
      // fetch() will not send a foreign Host; node:http will (what a rebinding browser sends).
      const rebound = await new Promise<{ status: number | undefined; body: string }>(
        (res, rej) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port: admin,
              method: 'POST',
              path: '/api/trust',
              headers: {
                host: `attacker.example:${admin}`,
                authorization: `Bearer ${token}`,
                'content-type': 'application/json',
              },
            },
            (response) => {
              let body = '';
              response.setEncoding('utf8');
              response.on('data', (chunk: string) => (body += chunk));
              response.on('end', () => res({ status: response.statusCode, body }));
            },
          );
          req.on('error', rej);
          req.end(JSON.stringify({ ski: 'ef'.repeat(20) }));
        },
      );
      assert.equal(rebound.status, 421);
      assert.equal(
        (JSON.parse(rebound.body) as { error: { code: string } }).error.code,
        'SHIPHUB_ERR_UNAUTHORIZED',
      );
      const still = JSON.parse(cli(dir, ['trust', 'list', '--json']).stdout) as unknown[];
      assert.equal(still.length, 1, 'no refused call trusted anything');

      // /healthz without the token: no SKI, no SHIP ID.
      const ownSki = daemonSki(dir);
      const anonymous = await (await fetch(`${base}/healthz`)).text();
      assert.ok(!anonymous.includes(ownSki), anonymous);
      assert.ok(!anonymous.includes('ship_id'), anonymous);
      const operator = (await (
        await fetch(`${base}/healthz`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { ski?: string };
      assert.equal(operator.ski, ownSki);

      // A body that never arrives: the server ends the connection (no time asserted, the
      // close event is awaited) and nothing is trusted.
      const slow = connect(admin, '127.0.0.1');
      let slowAnswer = '';
      slow.setEncoding('utf8');
      slow.on('data', (chunk: string) => (slowAnswer += chunk));
      slow.on('error', () => undefined); // a reset from the server is a close too
      const slowClosed = new Promise<void>((res) => slow.once('close', () => res()));
      slow.write(
        `POST /api/trust HTTP/1.1\r\nHost: 127.0.0.1:${admin}\r\n` +
          `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
          'Content-Length: 1000\r\n\r\n{"ski": "',
      );
      await slowClosed;
      assert.doesNotMatch(slowAnswer, /^HTTP\/1\.1 20/, 'the partial request was not served');

      // A client that resets mid-request does not take the daemon down.
      const reset = connect(admin, '127.0.0.1');
      reset.on('error', () => undefined);
      await new Promise<void>((res) => reset.once('connect', () => res()));
      const resetClosed = new Promise<void>((res) => reset.once('close', () => res()));
      reset.write(`POST /api/trust HTTP/1.1\r\nHost: 127.0.0.1:${admin}\r\nContent-Le`);
      reset.resetAndDestroy();
      await resetClosed;

      const afterReset = cli(dir, ['trust', 'list', '--json']);
      assert.equal(afterReset.status, 0, afterReset.stderr);
      assert.equal(daemon.child.exitCode, null, 'the daemon still runs');
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited, 0);
    },
  );

  it('the admin token file is reused on restart, and one others may read stops start-up naming it', async () => {
    const { dir } = await workDir();
    const tokenFile = join(dir, 'data/admin.token');
    const first = startDaemon(dir);
    await logged(first, 'admin_listening', 'the admin API listening');
    const token = readFileSync(tokenFile, 'utf8');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);

    const second = startDaemon(dir);
    await logged(second, 'admin_listening', 'the admin API listening again');
    assert.equal(readFileSync(tokenFile, 'utf8'), token, 'never replaced');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.equal(cli(dir, ['pairing', 'list', '--json']).status, 0);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);

    chmodSync(tokenFile, 0o644);
    const refused = startDaemon(dir);
    assert.equal(await refused.exited, 2);
    const stderr = refused.stderr();
    assert.ok(stderr.includes(tokenFile), stderr);
    assert.match(stderr, /readable or writable by group or others/);
    assert.equal(readFileSync(tokenFile, 'utf8'), token, 'left as it was');
  });

  it('a second signal during a slow shutdown exits at once with code 1', async () => {
    const { dir, port } = await workDir();
    const running = startDaemon(dir);
    await logged(running, 'listening', 'listening');
    const peer = await testIdentity('stubborn-peer');
    assert.equal(cli(dir, ['trust', 'add', peer.ski]).status, 0);
    // A trusted peer in data exchange that never confirms a SHIP close: the first signal's
    // graceful shutdown waits for it.
    const client = await rawShipClient(port, createShipTlsContext(peer));
    try {
      await rawHandshake(client);
      await logged(running, 'device_connected', 'the peer connected');
      running.child.kill('SIGTERM');
      await logged(running, 'signal', 'the first signal logged');
      assert.equal(hasEvent(running, 'stopped'), false, 'still shutting down');
      running.child.kill('SIGTERM');
      assert.equal(await running.exited, 1);
      assert.ok(hasEvent(running, 'forced_exit'), 'the forced exit is logged');
      assert.equal(hasEvent(running, 'stopped'), false, 'the graceful shutdown did not finish');
    } finally {
      client.ws.terminate();
    }
  });
});
