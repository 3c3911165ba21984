/**
 * Crash safety of the daemon: `ship-hub` (build/src/cli/main.js) runs as a child process with
 * mDNS off on 127.0.0.1 and is SIGKILLed at random moments while trust changes and pairings go
 * through its admin API (the API `ship-hub trust add/remove` and `ship-hub pairing approve` use;
 * every few cycles through the real CLI as well), then restarted, at least 200 times, in three
 * lanes (three daemons with their own directories) side by side.
 *
 * After every kill, trusted_devices.json must
 * - parse as JSON and pass the daemon's own validation (TrustStore.open), in canonical form
 *   (never partial, never empty);
 * - be the old or the new version of every change: a change the API acknowledged is on disk; a
 *   change cut off by the kill is either there or not (it is then taken from the file).
 * The restarted daemon must come up (a broken file would stop it).
 *
 * Reconnection: on every CHECK_EVERY-th cycle of a lane a peer Hub that trusts the daemon (and
 * is trusted by it) is connected before the kill, and must be reconnected by its own reconnect
 * logic after the restart; at the end every real device trusted in the file (the peer and the
 * devices paired on the way) must reach data exchange again without a pairing request.
 * Checking it after all 200+ restarts would take minutes of reconnect back-off, hence every
 * CHECK_EVERY-th cycle and at the end.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hub } from '../../src/hub/hub.js';
import { AdminClient } from '../../src/ops/admin-client.js';
import { toSki, type Ski } from '../../src/ship/ski.js';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import { createShipTlsContext, type ShipTlsContext } from '../../src/transport/tls.js';
import { TrustStore } from '../../src/trust/trust-store.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { recordFigures } from './figures.js';
import { HOST, serviceAt, sleep, startHub, staticDiscovery } from './helpers.js';
import { seededRandom } from '../helpers/random.js';
import { collectJsonLines } from '../helpers/ndjson.js';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = resolve(here, '../../src/cli/main.js');

const LANES = 3;
/** The loop ends after exactly this many SIGKILLs over all lanes. */
const KILLS = 200;
/** Safety net only (the loop ends by count): CRASH_TIMEOUT_S raises it for long evidence runs. */
const TEST_TIMEOUT_MS = Number(process.env.CRASH_TIMEOUT_S ?? 1_500) * 1000;
/** CI checks the reconnection every 10th cycle; CRASH_CHECK_EVERY=1 checks it after every restart. */
const CHECK_EVERY = Math.max(1, Number(process.env.CRASH_CHECK_EVERY ?? 10) || 10);
const FAKE_SKIS_PER_LANE = 24;
const PAIRING_DEVICES_PER_LANE = 6;

const clock = { wallNow: () => new Date() };

const SEED =
  process.env.CRASH_SEED !== undefined ? Number(process.env.CRASH_SEED) : Date.now() % 1_000_000;

/**
 * A free port below the ephemeral range: a killed daemon's port must still be free when it
 * restarts, and ports of that range are handed out as source ports of outgoing connections (the
 * other reliability tests open thousands at the same time).
 */
async function freePort(): Promise<number> {
  let low = 32_768;
  try {
    low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
  } catch {
    // not Linux: take the IANA default
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000));
    const free = await new Promise<boolean>((resolvePort) => {
      const server = net.createServer();
      server.once('error', () => resolvePort(false));
      server.listen(port, () => server.close(() => resolvePort(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

interface Daemon {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly startedAt: number;
  /** Resolves once the daemon printed `count` lines (or ended). */
  linesAtLeast(count: number): Promise<void>;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

function startDaemon(dir: string): Daemon {
  const child = spawn(process.execPath, [MAIN, 'config.json'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const lines: Array<Record<string, unknown>> = [];
  let onLine: (() => void) | undefined;
  const lineWaiters: Array<{ count: number; resolve: () => void }> = [];
  const wakeLineWaiters = (all: boolean) => {
    for (const w of lineWaiters.splice(0)) {
      if (all || lines.length >= w.count) w.resolve();
      else lineWaiters.push(w);
    }
  };
  collectJsonLines(child.stdout, lines, () => {
    onLine?.();
    wakeLineWaiters(false);
  });
  child.stderr.on('data', (chunk: Buffer) => lines.push({ stderr: chunk.toString() }));
  const exited = new Promise<void>((res) =>
    child.once('close', () => {
      children.delete(child);
      onLine?.();
      wakeLineWaiters(true);
      res();
    }),
  );
  const ready = new Promise<void>((res, rej) => {
    onLine = () => {
      if (lines.some((l) => l.event === 'admin_listening')) res();
      else if (child.exitCode !== null || child.signalCode !== null) {
        rej(new Error(`the daemon exited during start-up: ${JSON.stringify(lines.slice(-5))}`));
      }
    };
  });
  ready.catch(() => undefined);
  return {
    child,
    lines,
    ready,
    exited,
    startedAt: performance.now(),
    linesAtLeast(count) {
      if (lines.length >= count || child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve();
      }
      return new Promise((resolveLines) => lineWaiters.push({ count, resolve: resolveLines }));
    },
  };
}

after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** What the test knows about one SKI in the trust file. */
interface Known {
  /** On disk for sure (acknowledged, or read from the file after a kill). */
  present: boolean;
  /** A change is under way whose outcome the file decides after the next kill. */
  uncertain: boolean;
}

interface LaneReport {
  kills: number;
  killsDuringStartup: number;
  apiChanges: number;
  cliChanges: number;
  pairings: number;
  uncertainResolved: number;
  reconnectChecks: number;
  reconnectMs: number[];
  violations: string[];
}

/** Kills over all lanes: each cycle reserves its kill, so the lanes stop together at KILLS. */
const shared = { kills: 0 };

/** Counts the hub's `connected` events; `atLeast(n)` waits for the n-th. */
function connectedCounter(hub: Hub): { atLeast(count: number): Promise<void> } {
  let seen = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  hub.on('connected', () => {
    seen += 1;
    for (const w of waiters.splice(0)) {
      if (seen >= w.count) w.resolve();
      else waiters.push(w);
    }
  });
  return {
    atLeast: (count) =>
      seen >= count
        ? Promise.resolve()
        : new Promise((res) => waiters.push({ count, resolve: res })),
  };
}

async function runLane(lane: number): Promise<LaneReport> {
  const reserveKill = () => {
    if (shared.kills >= KILLS) return false;
    shared.kills += 1;
    return true;
  };
  const report: LaneReport = {
    kills: 0,
    killsDuringStartup: 0,
    apiChanges: 0,
    cliChanges: 0,
    pairings: 0,
    uncertainResolved: 0,
    reconnectChecks: 0,
    reconnectMs: [],
    violations: [],
  };
  const random = seededRandom(SEED * 31 + lane);
  const dir = mkdtempSync(join(tmpdir(), `ship-hub-crash-${lane}-`));
  dirs.push(dir);
  const port = await freePort();
  const adminPort = await freePort();
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      port,
      admin_port: adminPort,
      mdns_enabled: false,
      log_format: 'json',
      log_level: 'info',
    }),
  );
  const trustPath = join(dir, 'data/trusted_devices.json');
  const admin = new AdminClient({
    baseUrl: `http://${HOST}:${adminPort}`,
    tokenFile: join(dir, 'data/admin.token'),
    timeoutMs: 3_000,
  });

  const peerIdentity = await testIdentity(`crash-peer-${lane}`);
  const pairingIdentities = await Promise.all(
    Array.from({ length: PAIRING_DEVICES_PER_LANE }, (_, k) =>
      testIdentity(`crash-pair-${lane}-${k}`),
    ),
  );
  const pairingTls = new Map<Ski, ShipTlsContext>(
    pairingIdentities.map((id) => [id.ski, createShipTlsContext(id)]),
  );
  const fakeSkis = Array.from({ length: FAKE_SKIS_PER_LANE }, (_, k) =>
    toSki(`${(lane + 1).toString(16)}${k.toString(16).padStart(2, '0')}`.padEnd(40, 'c')),
  );
  const known = new Map<Ski, Known>();

  const verifyFile = (when: string): void => {
    if (!existsSync(trustPath)) {
      if ([...known.values()].some((k) => k.present && !k.uncertain)) {
        report.violations.push(`${when}: the trust file is gone`);
      }
      return;
    }
    const text = readFileSync(trustPath, 'utf8');
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      report.violations.push(
        `${when}: not JSON (${String(err)}): ${JSON.stringify(text.slice(-60))}`,
      );
      return;
    }
    const onDisk = new Set(Object.keys(parsed));
    for (const [ski, k] of known) {
      const present = onDisk.has(ski);
      if (k.uncertain) {
        k.present = present;
        k.uncertain = false;
        report.uncertainResolved += 1;
      } else if (k.present !== present) {
        report.violations.push(
          `${when}: ${ski.slice(0, 8)}… is ${present ? 'on disk' : 'missing'} but the acknowledged state is ${k.present ? 'trusted' : 'removed'}`,
        );
        k.present = present;
      }
    }
    for (const ski of onDisk) {
      if (!known.has(ski as Ski)) report.violations.push(`${when}: unknown SKI ${ski} on disk`);
    }
  };
  const validateWithStore = async (when: string): Promise<void> => {
    if (!existsSync(trustPath)) return;
    const text = readFileSync(trustPath, 'utf8');
    try {
      const store = await TrustStore.open(trustPath, { clock });
      if (store.serialize() !== text)
        report.violations.push(`${when}: the file is not in canonical form`);
    } catch (err) {
      report.violations.push(`${when}: the daemon's validation refuses the file: ${String(err)}`);
    }
  };

  // --- one cycle's operations, until the kill ----------------------------------------------------
  /** Operations completed in the current cycle; the kill waits for a random number of them. */
  const done = { ops: 0, waiters: [] as Array<{ count: number; resolve: () => void }> };
  const opCompleted = () => {
    done.ops += 1;
    for (const w of done.waiters.splice(0)) {
      if (done.ops >= w.count) w.resolve();
      else done.waiters.push(w);
    }
  };
  const opsAtLeast = (count: number): Promise<void> =>
    done.ops >= count
      ? Promise.resolve()
      : new Promise((res) => done.waiters.push({ count, resolve: res }));
  const operate = async (daemon: Daemon, stop: { stopped: boolean }, devices: ShipConnection[]) => {
    const alive = () =>
      !stop.stopped && daemon.child.exitCode === null && daemon.child.signalCode === null;
    while (alive()) {
      const r = random();
      if (r < 0.78) {
        // trust add / remove through the admin API
        const idle = fakeSkis.filter((s) => !(known.get(s)?.uncertain ?? false));
        const ski = idle[Math.floor(random() * idle.length)];
        // Every fake SKI has a change cut off by a kill: nothing left to do until the next kill.
        if (ski === undefined) return;
        const k = known.get(ski) ?? { present: false, uncertain: false };
        known.set(ski, k);
        const add = !k.present || random() < 0.2;
        const viaCli = random() < 0.06;
        k.uncertain = true;
        try {
          if (viaCli) {
            await runCli(
              dir,
              add ? ['trust', 'add', ski, '--brand', `Lane${lane}`] : ['trust', 'remove', ski],
            );
            report.cliChanges += 1;
          } else if (add) {
            await admin.addTrusted(ski, {
              brand: `Lane${lane}`,
              model: 'Fake',
              device_type: 'Test',
            });
            report.apiChanges += 1;
          } else {
            await admin.removeTrusted(ski);
            report.apiChanges += 1;
          }
          k.present = add;
          k.uncertain = false;
          opCompleted();
        } catch {
          // killed mid-request: the file decides (k stays uncertain)
          return;
        }
      } else {
        // pairing: an unknown device dials in, a person approves it through the admin API
        const candidates = [...pairingTls.keys()].filter((s) => {
          const k = known.get(s);
          return k === undefined || (!k.present && !k.uncertain);
        });
        const ski = candidates[Math.floor(random() * candidates.length)];
        if (ski === undefined) {
          // all paired: un-pair one so that it can pair again later
          const paired = [...pairingTls.keys()].filter(
            (s) => known.get(s)?.present === true && !known.get(s)!.uncertain,
          );
          const victim = paired[Math.floor(random() * paired.length)];
          if (victim === undefined) continue;
          const k = known.get(victim)!;
          k.uncertain = true;
          try {
            await admin.removeTrusted(victim);
            k.present = false;
            k.uncertain = false;
            report.apiChanges += 1;
            opCompleted();
          } catch {
            return;
          }
          continue;
        }
        const tlsCtx = pairingTls.get(ski)!;
        try {
          const device = await connectShip({
            host: HOST,
            port,
            expectedSki: daemonSki!,
            tls: tlsCtx,
            localSki: tlsCtx.ski,
            localShipId: `pair-${lane}`,
            clock: systemClock,
            timeoutMs: 3_000,
          });
          devices.push(device);
          await waitForPending(admin, ski, alive);
          const k = known.get(ski) ?? { present: false, uncertain: false };
          known.set(ski, k);
          k.uncertain = true;
          await admin.approve(ski);
          // Acknowledged: on disk from now on (the admin API answers after the write).
          k.present = true;
          k.uncertain = false;
          report.pairings += 1;
          opCompleted();
        } catch {
          return;
        }
      }
    }
  };

  let daemonSki: Ski | undefined;
  let cycle = 0;
  let reconnectHub: Hub | undefined;
  let reconnectSince = 0;
  let reconnected: Promise<void> = Promise.resolve();
  try {
    while (reserveKill()) {
      cycle += 1;
      const daemon = startDaemon(dir);
      const check = cycle % CHECK_EVERY === 0;
      const devices: ShipConnection[] = [];
      if (cycle > 1 && !check && reconnectHub === undefined && random() < 0.1) {
        // Killed during start-up (identity, trust file, listeners): after 0-3 of its lines.
        await daemon.linesAtLeast(Math.floor(random() * 4));
        if (daemon.child.exitCode === null) {
          daemon.child.kill('SIGKILL');
          report.killsDuringStartup += 1;
          report.kills += 1;
        }
        await daemon.exited;
        verifyFile(`lane ${lane} cycle ${cycle} (start-up kill)`);
        continue;
      }
      try {
        await daemon.ready;
      } catch (err) {
        report.violations.push(`lane ${lane} cycle ${cycle}: ${String(err)}`);
        daemon.child.kill('SIGKILL');
        await daemon.exited;
        break;
      }
      if (daemonSki === undefined) {
        const identity = daemon.lines.find((l) => l.event === 'identity');
        daemonSki = toSki(String(identity?.ski));
        await admin.addTrusted(peerIdentity.ski, {
          brand: 'Peer',
          model: 'Hub',
          device_type: 'Test',
        });
        known.set(peerIdentity.ski, { present: true, uncertain: false });
      }
      if (reconnectHub !== undefined) {
        // The peer was connected when the daemon was killed: its own reconnect logic must bring
        // it back to the restarted daemon (data exchange, no pairing request).
        // The test's timeout is the only bound: a peer that never comes back fails the test.
        const hub: Hub = reconnectHub;
        await reconnected;
        report.reconnectMs.push(performance.now() - reconnectSince);
        report.reconnectChecks += 1;
        await hub.stop(1_000);
        reconnectHub = undefined;
      }
      if (check) {
        // A peer Hub that trusts the daemon dials it now and must reach data exchange.
        const peerTls = createShipTlsContext(peerIdentity);
        const hub = await startHub({
          tls: peerTls,
          shipId: `peer-${lane}`,
          hub: {
            trusted: [{ ski: daemonSki }],
            discovery: staticDiscovery([serviceAt(daemonSki, port, 'daemon')]),
            random: () => 0,
          },
        });
        const connections = connectedCounter(hub);
        await connections.atLeast(1);
        reconnected = connections.atLeast(2);
        reconnectHub = hub;
      }
      const stop = { stopped: false };
      done.ops = 0;
      const working = operate(daemon, stop, devices);
      // The kill lands after 0-5 completed operations, in the middle of the next one.
      await Promise.race([opsAtLeast(Math.floor(random() * 6)), working]);
      daemon.child.kill('SIGKILL');
      report.kills += 1;
      reconnectSince = performance.now();
      await daemon.exited;
      stop.stopped = true;
      await working.catch(() => undefined);
      for (const d of devices) void d.terminate(1000, 'test').catch(() => undefined);
      verifyFile(`lane ${lane} cycle ${cycle}`);
      if (cycle % 5 === 0) await validateWithStore(`lane ${lane} cycle ${cycle}`);
    }

    // --- final restart: every real trusted device must reconnect -------------------------------
    if (reconnectHub !== undefined) await reconnectHub.stop(500);
    const daemon = startDaemon(dir);
    await daemon.ready;
    await validateWithStore(`lane ${lane} final`);
    verifyFile(`lane ${lane} final`);
    const trustedReal = [peerIdentity.ski, ...pairingTls.keys()].filter(
      (s) => known.get(s)?.present === true,
    );
    for (const ski of trustedReal) {
      const ctx =
        ski === peerIdentity.ski ? createShipTlsContext(peerIdentity) : pairingTls.get(ski)!;
      let complete!: Promise<void>;
      const connection = await connectShip({
        host: HOST,
        port,
        expectedSki: daemonSki!,
        tls: ctx,
        localSki: ctx.ski,
        localShipId: 'final-check',
        clock: systemClock,
        onConnection: (c) => {
          complete = new Promise((res, rej) => {
            c.once('complete', () => res());
            c.once('closed', (info) => rej(new Error(info.failure?.message ?? 'closed')));
          });
        },
      });
      try {
        await complete;
      } catch (err) {
        report.violations.push(`lane ${lane} final: ${String(err)}`);
      }
      await connection.close();
    }
    const requested = daemon.lines.filter((l) => l.event === 'trust_decision_requested').length;
    if (requested > 0)
      report.violations.push(`lane ${lane} final: a trusted device was asked to pair again`);
    report.reconnectChecks += trustedReal.length;
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    if (daemon.child.exitCode !== 0)
      report.violations.push(`lane ${lane} final: SIGTERM exit ${daemon.child.exitCode}`);
    const leftovers = readdirSync(join(dir, 'data')).filter((n) => n.endsWith('.tmp'));
    if (leftovers.length > 0)
      report.violations.push(`lane ${lane} final: temporary files left: ${leftovers.join(', ')}`);
  } finally {
    await reconnectHub?.stop(500);
  }
  return report;
}

async function waitForPending(admin: AdminClient, ski: Ski, alive: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && alive(); i++) {
    const pending = await admin.listPending();
    if (pending.some((p) => p.ski === ski)) return;
    await sleep(10);
  }
  throw new Error('no pairing request');
}

function runCli(dir: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, ...args, '--config', 'config.json'], {
      cwd: dir,
      stdio: 'ignore',
    });
    children.add(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) res();
      else rej(new Error(`ship-hub ${args.join(' ')} exited ${code}`));
    });
  });
}

describe(`the daemon under SIGKILL (CRASH_SEED=${SEED})`, () => {
  it(`${KILLS} kills during trust changes and pairings`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const started = performance.now();
    const reports = await Promise.all(Array.from({ length: LANES }, (_, lane) => runLane(lane)));
    const kills = reports.reduce((n, r) => n + r.kills, 0);
    const seconds = (performance.now() - started) / 1000;
    const sum = (f: (r: LaneReport) => number) => reports.reduce((n, r) => n + f(r), 0);
    const reconnectMs = reports.flatMap((r) => r.reconnectMs).sort((a, b) => a - b);
    console.log(
      `crash: ${kills} SIGKILLs (${sum((r) => r.killsDuringStartup)} during start-up) in ${seconds.toFixed(0)} s ` +
        `over ${LANES} daemons; ${sum((r) => r.apiChanges)} trust changes through the admin API, ` +
        `${sum((r) => r.cliChanges)} through the CLI, ${sum((r) => r.pairings)} pairings approved; ` +
        `${sum((r) => r.uncertainResolved)} changes cut off by a kill, resolved from the file; ` +
        `${sum((r) => r.reconnectChecks)} reconnections checked ` +
        `(peer back after a kill in ${reconnectMs.length > 0 ? `${Math.round(reconnectMs[0]!)}-${Math.round(reconnectMs.at(-1)!)}` : '-'} ms)`,
    );
    recordFigures('crash', {
      seed: SEED,
      lanes: LANES,
      kills,
      startupKills: sum((r) => r.killsDuringStartup),
      seconds: Math.round(seconds),
      apiChanges: sum((r) => r.apiChanges),
      cliChanges: sum((r) => r.cliChanges),
      pairings: sum((r) => r.pairings),
      cutOff: sum((r) => r.uncertainResolved),
      reconnectChecks: sum((r) => r.reconnectChecks),
      reconnectAfterKill: reconnectMs.length,
      reconnectMinMs: Math.round(reconnectMs[0] ?? Number.NaN),
      reconnectMaxMs: Math.round(reconnectMs.at(-1) ?? Number.NaN),
      checkEvery: CHECK_EVERY,
      violations: reports.reduce((n, r) => n + r.violations.length, 0),
    });
    const violations = reports.flatMap((r) => r.violations);
    assert.deepEqual(violations, [], 'crash-safety violations');
    assert.equal(kills, KILLS);
    assert.ok(
      sum((r) => r.reconnectMs.length) >= LANES * 2,
      'too few reconnection checks after kills',
    );
  });
});
