/**
 * Soak benchmark (not a CI test): N trusted devices stay connected to one hub for M minutes and
 * exchange data the whole time; the hub runs alone in a child process (soak-server.ts) and is
 * sampled every few seconds: RSS, heap (as is and retained after a full GC), active handles,
 * open file descriptors, connections, event-loop delay. At the end the slopes of memory and
 * handles over time are fitted (least squares, after a warm-up) and the round-trip latency of
 * the data (device → hub → echo → device) is reported as p50/p99.
 *
 *   node build/test/reliability/soak.js --minutes 10 --connections 1000 [--interval-ms 1000]
 *
 * Prints one JSON summary on stdout; progress on stderr. Exit 1 if a device was disconnected
 * or data went missing (the figures are reported, not judged).
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toSki } from '../../src/ship/ski.js';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import { createIdentity } from '../../src/trust/identity.js';
import { systemClock } from '../../src/util/clock.js';
import { HOST, raiseFdLimit, round, sleep } from './helpers.js';
import type { SoakIdentity, SoakServerCommand, SoakServerSample } from './soak-server.js';

const SERVER = fileURLToPath(new URL('./soak-server.js', import.meta.url));
const CACHE = fileURLToPath(new URL('./.cache/', import.meta.url));

function log(message: string): void {
  console.error(`[soak] ${message}`);
}

async function identities(count: number): Promise<SoakIdentity[]> {
  const file = join(CACHE, 'soak-identities-v1.json');
  let cached: SoakIdentity[] = [];
  if (existsSync(file)) cached = JSON.parse(readFileSync(file, 'utf8')) as SoakIdentity[];
  if (cached.length >= count) return cached.slice(0, count);
  const started = performance.now();
  for (let i = cached.length; i < count; i += 16) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(16, count - i) }, (_, k) =>
        createIdentity({ commonName: `soak-${i + k}`, organization: 'ship-hub soak' }),
      ),
    );
    for (const id of batch) {
      cached.push({
        certificatePem: id.certificatePem,
        privateKeyPem: id.privateKeyPem,
        ski: id.ski,
      });
    }
  }
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(cached));
  renameSync(`${file}.tmp`, file);
  log(`generated identities in ${round((performance.now() - started) / 1000)} s`);
  return cached.slice(0, count);
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface SoakSummary {
  readonly minutes: number;
  readonly connections: number;
  readonly intervalMs: number;
  readonly connectSeconds: number;
  readonly messagesSent: number;
  readonly messagesEchoed: number;
  readonly messagesPerSecond: number;
  readonly disconnects: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Per minute of the run: p50/p99 of that minute. */
  readonly latencyByMinute: ReadonlyArray<{ minute: number; p50: number; p99: number }>;
  readonly server: {
    readonly samples: number;
    readonly rssMiB: { readonly first: number; readonly last: number; readonly max: number };
    readonly heapRetainedMiB: {
      readonly first: number;
      readonly last: number;
      readonly max: number;
    };
    readonly activeHandles: { readonly first: number; readonly last: number; readonly max: number };
    readonly openFds: { readonly first: number; readonly last: number };
    /** Fitted over the samples after the warm-up, per minute. */
    readonly rssSlopeMiBPerMin: number;
    readonly heapRetainedSlopeMiBPerMin: number;
    readonly handlesSlopePerMin: number;
    readonly eventLoopDelayP99MsMax: number;
    readonly cpuPercent: number;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      connections: { type: 'string', default: '1000' },
      'interval-ms': { type: 'string', default: '1000' },
      'sample-seconds': { type: 'string', default: '5' },
    },
  });
  const minutes = Number(values.minutes);
  const count = Number(values.connections);
  const intervalMs = Number(values['interval-ms']);
  const sampleMs = Number(values['sample-seconds']) * 1000;
  if (!(minutes > 0) || !(count > 0) || !(intervalMs > 0) || !(sampleMs > 0)) {
    log('usage: soak.js --minutes N --connections N [--interval-ms N] [--sample-seconds N]');
    process.exit(2);
  }
  const fdLimit = raiseFdLimit(2 * count + 1_024);
  if (fdLimit < 2 * count + 256)
    log(`warning: file descriptor limit ${fdLimit} is low for ${count} connections`);

  const [hubIdentity, ...clientIdentities] = await identities(count + 1);
  const child = fork(SERVER, [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const command = (c: SoakServerCommand) => child.send(c);
  const replies: Array<(m: { type: string }) => void> = [];
  child.on('message', (m: { type: string }) => replies.shift()?.(m));
  const request = <T>(c: SoakServerCommand): Promise<T> =>
    new Promise((resolve) => {
      replies.push((m) => resolve(m as T));
      command(c);
    });
  const ready = await request<{ type: string; port?: number; message?: string }>({
    type: 'start',
    identity: hubIdentity!,
    trusted: clientIdentities.map((i) => i.ski),
  });
  if (ready.type !== 'ready' || ready.port === undefined)
    throw new Error(`server: ${ready.message}`);
  const port = ready.port;
  const hubSki = toSki(hubIdentity!.ski);

  // --- connect every device -------------------------------------------------------------------
  const connections: ShipConnection[] = [];
  let disconnects = 0;
  const latencies: Array<{ at: number; ms: number }> = [];
  let sent = 0;
  let echoed = 0;
  let stopping = false;
  const connectStarted = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < clientIdentities.length) {
      const identity = clientIdentities[next++]!;
      const tls = createShipTlsContext({ ...identity, ski: toSki(identity.ski) });
      let complete!: Promise<void>;
      const connection = await connectShip({
        host: HOST,
        port,
        expectedSki: hubSki,
        tls,
        localSki: tls.ski,
        localShipId: `soak-${next}`,
        clock: systemClock,
        timeoutMs: 30_000,
        onConnection: (c) => {
          complete = new Promise((resolve, reject) => {
            c.once('complete', () => resolve());
            c.once('closed', (info) => reject(new Error(info.failure?.message ?? 'closed')));
          });
        },
      });
      await complete;
      connection.on('closed', () => {
        if (!stopping) disconnects += 1;
      });
      connection.on('data', (payload) => {
        const t = (payload as { datagram: [{ t: number }] }).datagram[0].t;
        const now = performance.now();
        echoed += 1;
        if (!stopping) latencies.push({ at: now, ms: now - t });
      });
      connections.push(connection);
    }
  };
  await Promise.all(Array.from({ length: 32 }, () => worker()));
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  log(`${connections.length} devices in data exchange after ${round(connectSeconds)} s`);

  // --- exchange data for the duration, sampling the hub ----------------------------------------
  const samples: Array<{ at: number; s: SoakServerSample }> = [];
  const started = performance.now();
  const end = started + minutes * 60_000;
  // Spread the devices' sends evenly over the interval.
  const timers = connections.map((connection, i) =>
    setTimeout(
      () => {
        const tick = () => {
          if (stopping || !connection.isDataChannelOpen) return;
          sent += 1;
          connection.send({ datagram: [{ t: performance.now(), n: sent }] });
        };
        tick();
        timers[i] = setInterval(tick, intervalMs);
      },
      (intervalMs * i) / connections.length,
    ),
  );
  const cpuStart = (await request<SoakServerSample>({ type: 'sample', gc: false })).cpuMs;
  // A forced collection pauses the hub: only every 30 s, for the retained heap.
  const gcEvery = Math.max(1, Math.round(30_000 / sampleMs));
  let lastLog = started;
  while (performance.now() < end) {
    await sleep(Math.min(sampleMs, end - performance.now()));
    const s = await request<SoakServerSample>({
      type: 'sample',
      gc: samples.length % gcEvery === 0 || performance.now() >= end,
    });
    samples.push({ at: performance.now(), s });
    if (performance.now() - lastLog > 30_000) {
      lastLog = performance.now();
      log(
        `${round((performance.now() - started) / 60_000)} min: RSS ${round(s.rss / 2 ** 20)} MiB, ` +
          `heap ${round(s.heapUsed / 2 ** 20)} MiB, ${s.activeHandles} handles, ` +
          `${s.dataConnections} in data exchange, ${sent} sent, ${echoed} echoed`,
      );
    }
  }
  stopping = true;
  for (const t of timers) clearInterval(t);
  await sleep(1_000);
  const durationMin = (performance.now() - started) / 60_000;
  const lastSample = samples.at(-1)!.s;
  await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  command({ type: 'stop' });
  await Promise.race([exited, sleep(6_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');

  // --- figures ---------------------------------------------------------------------------------
  const warmup = started + Math.min(60_000, (minutes * 60_000) / 5);
  const fitted = samples.filter((x) => x.at >= warmup);
  const pts = (f: (s: SoakServerSample) => number | undefined) =>
    fitted
      .map((x) => [(x.at - started) / 60_000, f(x.s)] as const)
      .filter((p): p is readonly [number, number] => p[1] !== undefined);
  const all = latencies.map((l) => l.ms).sort((a, b) => a - b);
  const byMinute: Array<{ minute: number; p50: number; p99: number }> = [];
  for (let m = 0; m < Math.max(1, Math.floor(durationMin + 0.01)); m++) {
    const inMinute = latencies
      .filter((l) => l.at >= started + m * 60_000 && l.at < started + (m + 1) * 60_000)
      .map((l) => l.ms)
      .sort((a, b) => a - b);
    if (inMinute.length > 0) {
      byMinute.push({
        minute: m + 1,
        p50: round(percentile(inMinute, 50), 2),
        p99: round(percentile(inMinute, 99), 2),
      });
    }
  }
  const MiB = 2 ** 20;
  const stat = (f: (s: SoakServerSample) => number | undefined, scale = 1) => {
    const values = samples.map((x) => f(x.s)).filter((v): v is number => v !== undefined);
    return {
      first: round((values[0] ?? Number.NaN) / scale),
      last: round((values.at(-1) ?? Number.NaN) / scale),
      max: round(Math.max(...values) / scale),
    };
  };
  const summary: SoakSummary = {
    minutes: round(durationMin, 2),
    connections: connections.length,
    intervalMs,
    connectSeconds: round(connectSeconds),
    messagesSent: sent,
    messagesEchoed: echoed,
    messagesPerSecond: round(echoed / (durationMin * 60)),
    disconnects,
    latencyMs: {
      p50: round(percentile(all, 50), 2),
      p99: round(percentile(all, 99), 2),
      max: round(all.at(-1) ?? Number.NaN, 2),
    },
    latencyByMinute: byMinute,
    server: {
      samples: samples.length,
      rssMiB: stat((s) => s.rss, MiB),
      heapRetainedMiB: stat((s) => s.heapRetained, MiB),
      activeHandles: stat((s) => s.activeHandles),
      openFds: { first: samples[0]!.s.openFds, last: lastSample.openFds },
      rssSlopeMiBPerMin: round(slope(pts((s) => s.rss / MiB)), 3),
      heapRetainedSlopeMiBPerMin: round(
        slope(pts((s) => (s.heapRetained === undefined ? undefined : s.heapRetained / MiB))),
        3,
      ),
      handlesSlopePerMin: round(slope(pts((s) => s.activeHandles)), 3),
      eventLoopDelayP99MsMax: round(Math.max(...samples.map((x) => x.s.eventLoopDelayP99Ms)), 2),
      cpuPercent: round(((lastSample.cpuMs - cpuStart) / (durationMin * 60_000)) * 100),
    },
  };
  console.log(JSON.stringify(summary, null, 2));
  const lost = sent - echoed;
  if (disconnects > 0 || lost > 0) {
    log(`FAILED: ${disconnects} disconnects, ${lost} messages not echoed`);
    process.exit(1);
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
