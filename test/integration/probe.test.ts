/**
 * `ship-hub probe` (runProbe) against our ShipServer on 127.0.0.1: the phases it prints, the JSON
 * lines (event, phase, elapsed_ms), the failing phase in plain words, and the exit codes (0 only
 * when data exchange was reached, 1 for a failed probe, 2 for bad input).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProbe } from '../../src/cli/commands/probe.js';
import { loadConfig } from '../../src/ops/config.js';
import { saveIdentity } from '../../src/trust/identity.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import { ShipServer, type PeerDecision } from '../../src/transport/ship-server.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import type { NodeIdentity } from '../../src/trust/identity.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';

let device: NodeIdentity;
let installer: NodeIdentity;
let other: NodeIdentity;
const servers: ShipServer[] = [];
const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

before(async () => {
  device = await testIdentity('a');
  installer = await testIdentity('b');
  other = await testIdentity('c');
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function startDevice(
  decide: () => PeerDecision,
  onConnection: (connection: ShipConnection) => void = () => undefined,
  shipId = 'device-ship-id',
): Promise<number> {
  const server = new ShipServer({
    tls: createShipTlsContext(device),
    localSki: device.ski,
    localShipId: shipId,
    port: 0,
    host: '127.0.0.1',
    clock: systemClock,
    decide,
    onConnection,
  });
  servers.push(server);
  return server.listen();
}

interface ProbeRun {
  code: number;
  lines: string[];
}

async function probe(
  target: string,
  extra: { ski?: string; json?: boolean; timeoutMs?: number; temporaryIdentity?: boolean } = {},
): Promise<ProbeRun> {
  const lines: string[] = [];
  const code = await runProbe({
    target,
    json: extra.json ?? true,
    timeoutMs: extra.timeoutMs ?? 5_000,
    identity: installer,
    localShipId: 'probe-ship-id',
    write: (line) => lines.push(line),
    ...(extra.ski !== undefined ? { ski: extra.ski } : {}),
    ...(extra.temporaryIdentity !== undefined
      ? { temporaryIdentity: extra.temporaryIdentity }
      : {}),
  });
  return { code, lines };
}

interface ProbeEvent {
  event: string;
  phase: string;
  elapsed_ms: number;
  [key: string]: unknown;
}

function events(run: ProbeRun): ProbeEvent[] {
  return run.lines.map((line) => JSON.parse(line) as ProbeEvent);
}

const trusted = (): PeerDecision => ({ accept: true, sme: { initialTrust: 'trusted' } });

describe('ship-hub probe', () => {
  it('a device that trusts us: every phase with its duration, then exit 0', async () => {
    const port = await startDevice(trusted);
    const run = await probe(`127.0.0.1:${port}`);
    assert.equal(run.code, 0, run.lines.join('\n'));
    const list = events(run);
    for (const e of list) {
      assert.equal(typeof e.event, 'string');
      assert.equal(typeof e.phase, 'string');
      assert.equal(typeof e.elapsed_ms, 'number');
    }
    const elapsed = list.map((e) => e.elapsed_ms);
    assert.deepEqual(
      elapsed,
      [...elapsed].sort((a, b) => a - b),
      'elapsed_ms never decreases',
    );
    const names = list.map((e) => e.event);
    // Without --ski the probe learns the device's SKI from its certificate first.
    assert.deepEqual(names.slice(0, 6), [
      'start',
      'learned_ski',
      'tcp',
      'tls',
      'identified',
      'websocket',
    ]);
    assert.equal(list[1]!.ski, device.ski);
    for (const e of list.filter((x) => ['tcp', 'tls', 'websocket'].includes(x.event))) {
      assert.ok(
        typeof e.duration_ms === 'number' && e.duration_ms >= 0,
        `${e.event} has a duration`,
      );
    }
    const tls = list.find((e) => e.event === 'tls')!;
    assert.match(String(tls.protocol), /^TLSv1\.[23]$/);
    const states = list.filter((e) => e.event === 'state').map((e) => e.to);
    assert.ok(states.includes('SME_HELLO_STATE_READY_LISTEN'), 'hello phase shown');
    assert.ok(states.includes('SME_PIN_STATE_LISTEN'), 'PIN phase shown');
    const data = list.find((e) => e.event === 'data_exchange');
    assert.equal(data?.ship_id, 'device-ship-id');
    assert.deepEqual(list.at(-1), { ...list.at(-1), event: 'done', ok: true });
  });

  it('with --ski: no learning step; plain-text output has elapsed times and plain words', async () => {
    const port = await startDevice(trusted);
    const run = await probe(`127.0.0.1:${port}`, { ski: device.ski.toUpperCase(), json: false });
    assert.equal(run.code, 0, run.lines.join('\n'));
    assert.ok(
      run.lines.every((line) => /^\[\s*\d+\.\d ms\] /.test(line)),
      run.lines.join('\n'),
    );
    const text = run.lines.join('\n');
    assert.doesNotMatch(text, /first connection shows the device's SKI/);
    assert.match(text, /TCP connected in [\d.]+ ms/);
    assert.match(text, /TCP \+ TLS done in [\d.]+ ms \(TLSv1\.[23], /);
    assert.match(text, /WebSocket upgrade with subprotocol "ship" done/);
    assert.match(text, /data exchange reached/);
    // Without --ski the first, learning connection says that the phases that follow are another's.
    const learning = await probe(`127.0.0.1:${port}`, { json: false });
    assert.match(
      learning.lines.join('\n'),
      new RegExp(`a first connection shows the device's SKI ${device.ski} .*connecting again`),
    );
  });

  it("a device's SHIP ID with escape sequences is printed escaped, in text and JSON", async () => {
    const evil = 'Evil\x1b[2JCorp\r\u202e';
    const port = await startDevice(trusted, undefined, evil);
    // eslint-disable-next-line no-control-regex -- looking for control characters
    const unsafe = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    const text = await probe(`127.0.0.1:${port}`, { ski: device.ski, json: false });
    assert.equal(text.code, 0, text.lines.join('\n'));
    assert.ok(
      text.lines.some((l) => l.includes('SHIP ID "Evil\\x1b[2JCorp\\x0d\\u202e"')),
      text.lines.join('\n'),
    );
    for (const line of text.lines) assert.doesNotMatch(line, unsafe);
    const json = await probe(`127.0.0.1:${port}`, { ski: device.ski });
    for (const line of json.lines) assert.doesNotMatch(line, unsafe);
    assert.equal(events(json).find((e) => e.event === 'data_exchange')?.ship_id, evil);
  });

  it('another SKI than --ski: fails in the TLS phase, names both SKIs, exit 1', async () => {
    const port = await startDevice(trusted);
    const run = await probe(`127.0.0.1:${port}`, { ski: other.ski });
    assert.equal(run.code, 1);
    const failed = events(run).at(-1)!;
    assert.equal(failed.event, 'failed');
    assert.equal(failed.phase, 'tls');
    assert.equal(failed.code, 'SHIPHUB_ERR_SKI_MISMATCH');
    assert.ok(!events(run).some((e) => e.event === 'websocket'), 'no upgrade was attempted');
  });

  it('nothing listening: fails in the TCP phase with "connection refused", exit 1', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    for (const ski of [undefined, device.ski]) {
      const run = await probe(`127.0.0.1:${port}`, ski === undefined ? {} : { ski });
      assert.equal(run.code, 1);
      const failed = events(run).at(-1)!;
      assert.equal(failed.event, 'failed');
      assert.equal(failed.phase, 'tcp');
      assert.equal(failed.code, 'SHIPHUB_ERR_TRANSPORT');
    }
    const human = await probe(`127.0.0.1:${port}`, { json: false, ski: device.ski });
    assert.match(
      human.lines.join('\n'),
      /nothing listens on 127\.0\.0\.1:\d+ \(connection refused\)/,
    );
    // The JSON line carries what the human line says: message and hint, not only a code.
    const failed = events(await probe(`127.0.0.1:${port}`)).at(-1)!;
    assert.match(String(failed.message), /connection refused/);
    assert.match(String(failed.hint), /ship-hub discover/);
  });

  it('a port that does not speak TLS (HTTP): says so instead of an OpenSSL error', async () => {
    const sockets = new Set<net.Socket>();
    const http = net.createServer((socket) => {
      sockets.add(socket);
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const port = (http.address() as net.AddressInfo).port;
      for (const ski of [undefined, device.ski]) {
        const run = await probe(`127.0.0.1:${port}`, ski === undefined ? {} : { ski });
        assert.equal(run.code, 1);
        const failed = events(run).at(-1)!;
        assert.equal(failed.event, 'failed');
        assert.match(String(failed.message), /does not speak TLS/, JSON.stringify(failed));
        assert.doesNotMatch(String(failed.message), /wrong version number|SSL routines/);
        assert.match(String(failed.hint), /check the port/);
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('a device that closes right after the upgrade: most likely no trust yet, shows our SKI', async () => {
    const port = await startDevice(trusted, (connection) => {
      void connection.terminate(1000, '');
    });
    const run = await probe(`127.0.0.1:${port}`, { ski: device.ski });
    assert.equal(run.code, 1, run.lines.join('\n'));
    const failed = events(run).at(-1)!;
    assert.equal(failed.event, 'failed');
    assert.equal(failed.phase, 'cmi');
    assert.match(String(failed.hint), /does not trust this node yet/);
    assert.equal(failed.local_ski, installer.ski);
    const human = await probe(`127.0.0.1:${port}`, { ski: device.ski, json: false });
    assert.match(human.lines.join('\n'), new RegExp(`our SKI: ${installer.ski}`));
  });

  it('a device that keeps us pending: says so, gives up at --timeout, exit 1', async () => {
    const port = await startDevice(() => ({ accept: true, sme: { initialTrust: 'pending' } }));
    const run = await probe(`127.0.0.1:${port}`, { ski: device.ski, timeoutMs: 1_500 });
    assert.equal(run.code, 1);
    const list = events(run);
    const pending = list.find((e) => e.event === 'peer_pending');
    assert.ok(pending !== undefined, 'the pending hello is reported');
    assert.equal(pending.phase, 'hello');
    const failed = list.at(-1)!;
    assert.equal(failed.event, 'failed');
    assert.equal(failed.phase, 'hello');
    assert.match(String(failed.hint), new RegExp(`approve SKI ${installer.ski}`));
    // A throwaway identity is never offered for approval: the advice is to probe as the hub.
    const throwaway = await probe(`127.0.0.1:${port}`, {
      ski: device.ski,
      timeoutMs: 1_500,
      temporaryIdentity: true,
    });
    const advice = events(throwaway).at(-1)!;
    assert.match(String(advice.hint), /is temporary, approving it is of no use/);
    assert.doesNotMatch(String(advice.hint), /^approve SKI/);
  });

  it('a device that denies us: fails in the hello phase, exit 1', async () => {
    // The device's user denies us as soon as the connection asks for a decision.
    const port = await startDevice(
      () => ({ accept: true, sme: { initialTrust: 'pending' } }),
      (connection) => connection.on('trustRequired', () => connection.deny()),
    );
    const run = await probe(`127.0.0.1:${port}`, { ski: device.ski });
    assert.equal(run.code, 1);
    const failed = events(run).at(-1)!;
    assert.equal(failed.event, 'failed');
    assert.equal(failed.phase, 'hello');
    // A throwaway identity is not to be approved: the hint says so instead of "approve this node".
    const throwaway = await probe(`127.0.0.1:${port}`, {
      ski: device.ski,
      temporaryIdentity: true,
    });
    const hint = String(events(throwaway).at(-1)!.hint);
    assert.match(hint, /is temporary, approving it is of no use/);
    assert.doesNotMatch(hint, /then it reconnects/);
  });

  it('refuses an SKI that is not one with exit 2 before dialling', async () => {
    const run = await probe('127.0.0.1:1', { ski: 'not-an-ski' });
    assert.equal(run.code, 2);
    assert.equal(events(run).at(-1)!.event, 'error');
  });

  it('the ship-hub probe command exits 0 on data exchange and 1 on failure (child process)', async () => {
    const port = await startDevice(trusted);
    // No config and no identity in the working directory: the probe uses a temporary identity.
    const dir = mkdtempSync(join(tmpdir(), 'ship-hub-probe-'));
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((done) => {
        const child = spawn(process.execPath, [MAIN, 'probe', ...args], {
          cwd: dir,
          env: { ...process.env, SHIPHUB_CONFIG: '' },
        });
        let stdout = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.resume();
        const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('close', (code) => {
          clearTimeout(kill);
          done({ code, stdout });
        });
      });
    try {
      const ok = await cli([`127.0.0.1:${port}`, '--json', '--ski', device.ski]);
      assert.equal(ok.code, 0, ok.stdout);
      const lines = ok.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as ProbeEvent);
      assert.equal(lines.at(-1)?.event, 'done');
      const wrong = await cli([`127.0.0.1:${port}`, '--json', '--ski', other.ski]);
      assert.equal(wrong.code, 1, wrong.stdout);

      // With a config the probe is the hub (a device that trusts the hub trusts the probe);
      // --temporary-identity makes it a throwaway node again.
      const configFile = join(dir, 'config.json');
      writeFileSync(configFile, JSON.stringify({ mdns_enabled: false }));
      const cfg = await loadConfig(configFile, {});
      await saveIdentity(installer, cfg.certificate_file, cfg.private_key_file);
      const startSki = async (extra: string[]) => {
        const run = await cli([`127.0.0.1:${port}`, '--json', '--ski', device.ski, ...extra]);
        assert.equal(run.code, 0, run.stdout);
        const first = JSON.parse(run.stdout.split('\n')[0] ?? '{}') as ProbeEvent;
        return first.local_ski;
      };
      assert.equal(await startSki(['--config', configFile]), installer.ski);
      const throwaway = await startSki(['--config', configFile, '--temporary-identity']);
      assert.match(String(throwaway), /^[0-9a-f]{40}$/);
      assert.notEqual(throwaway, installer.ski);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
