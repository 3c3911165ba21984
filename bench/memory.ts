/**
 * The server in its own process (bench/server-child.ts, --expose-gc), the clients here:
 *
 * - throughput: `total` handshakes with `inFlight` dials at a time, timed from the first dial
 *   until the server reports the last connection in data exchange (server and clients each
 *   have their own event loop, so both cores can work, as with two real nodes);
 * - memory: the server's RSS after two forced garbage collections, with no connection open and
 *   with `total` idle connections (handshake and access methods done, nothing sent since).
 *   Both readings are taken once the process has been idle for SETTLE_MS, because V8 keeps the
 *   heap it grew during a burst of handshakes for a few seconds and gives it back only then;
 *   the reading right after the burst is reported as well (`transientPerConnKiB`).
 */
import type { ChildProcess } from 'node:child_process';
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { createShipTlsContext } from '../src/transport/tls.js';
import {
  exitOf,
  log,
  nextMessage,
  now,
  round,
  sleep,
  spawnBenchChild,
  summarize,
  withTimeout,
  type BenchIdentity,
} from './common.js';
import { dialMany, dropAll, type ThroughputResult } from './handshake.js';
import type {
  MeasuredMessage,
  OpenedMessage,
  ReadyMessage,
  ServerChildCommand,
} from './server-child.js';

export interface MemoryResult {
  readonly connections: number;
  /** How long the server was idle before each settled reading. */
  readonly settleS: number;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  /** (RSS with the connections - RSS without) / connections, both settled. */
  readonly rssPerConnKiB: number;
  /** The same, read 0.5 s after the last handshake instead of settled. */
  readonly transientPerConnKiB: number;
  /** Live JS heap per connection (heapUsed after GC). */
  readonly heapUsedPerConnKiB: number;
  /** V8 heap reserved per connection (heapTotal): live data plus free space V8 keeps. */
  readonly heapTotalPerConnKiB: number;
  /** RSS not in the V8 heap: OpenSSL, Node's TLS and stream buffers, libuv, malloc. */
  readonly nativePerConnKiB: number;
  /** Server CPU time (user + system, all threads) per connection: TCP to access methods. */
  readonly serverCpuMsPerConn: number;
}

export interface ServerProcessResult {
  readonly throughput: ThroughputResult;
  readonly memory: MemoryResult;
}

const SETTLE_MS = 10_000;

function command(child: ChildProcess, message: ServerChildCommand): void {
  child.send(message);
}

async function measureChild(child: ChildProcess, gc: boolean): Promise<MeasuredMessage> {
  const reply = nextMessage<MeasuredMessage>(child, 'measured', 10_000);
  command(child, { type: 'measure', gc });
  return reply;
}

/** Polls the server until `count` connections are open (and, with `complete`, complete). */
async function serverHas(
  child: ChildProcess,
  count: number,
  complete: boolean,
): Promise<MeasuredMessage> {
  for (let i = 0; i < 100; i++) {
    const m = await measureChild(child, false);
    if (m.open === count && (!complete || m.complete === count)) return m;
    await sleep(100);
  }
  throw new Error(
    `the server did not reach ${count} ${complete ? 'complete' : 'open'} connections`,
  );
}

export async function measureServerProcess(
  serverIndex: number,
  serverSki: BenchIdentity['ski'],
  clientIdentity: BenchIdentity,
  options: { readonly total: number; readonly inFlight: number; readonly warmup: number },
): Promise<ServerProcessResult> {
  const { total, inFlight, warmup } = options;
  const child = spawnBenchChild('./server-child.js', [String(serverIndex)], ['--expose-gc']);
  const client = createShipTlsContext(clientIdentity);
  const connections: ShipConnection[] = [];
  try {
    const { port } = await nextMessage<ReadyMessage>(child, 'ready', 30_000);

    // Warm-up: code loaded and optimised on both sides, then everything closed again.
    const warm: ShipConnection[] = [];
    await withTimeout(
      dialMany(port, serverSki, client, warmup, inFlight, warm),
      30_000,
      'warm-up handshakes',
    );
    await dropAll(warm);
    await withTimeout(serverHas(child, 0, false), 15_000, 'closing the warm-up connections');
    log(`  idle ${SETTLE_MS / 1000} s before the baseline`);
    await sleep(SETTLE_MS);
    const before = await measureChild(child, true);

    // Throughput: the clock stops when the server has the last one in data exchange.
    const opened = nextMessage<OpenedMessage>(child, 'opened', 60_000);
    command(child, { type: 'waitOpen', count: warmup + total });
    const started = now();
    const [perHandshake] = await withTimeout(
      Promise.all([dialMany(port, serverSki, client, total, inFlight, connections), opened]),
      60_000,
      `${total} handshakes with ${inFlight} in flight`,
    );
    const seconds = (now() - started) / 1000;
    const throughput: ThroughputResult = {
      total,
      inFlight,
      warmup,
      seconds: round(seconds, 3),
      perSecond: round(total / seconds, 1),
      clientSideUnderLoad: summarize(perHandshake),
    };
    log(`  ${throughput.perSecond} handshakes/s with the server in its own process`);

    // Memory: all idle in data exchange, access methods done.
    await withTimeout(serverHas(child, total, true), 15_000, 'server-side completion');
    await sleep(500);
    const transient = await measureChild(child, true);
    log(`  idle ${SETTLE_MS / 1000} s with ${total} connections`);
    await sleep(SETTLE_MS);
    const after = await measureChild(child, true);
    if (after.open !== total) throw new Error(`expected ${total} open, server has ${after.open}`);
    log(
      `  server RSS ${round(before.rss / 2 ** 20, 1)} MiB -> ${round(after.rss / 2 ** 20, 1)} MiB ` +
        `with ${total} connections (${round(transient.rss / 2 ** 20, 1)} MiB right after them)`,
    );
    const perConn = (a: number, b: number) => round((a - b) / total / 1024, 1);
    const rss = perConn(after.rss, before.rss);
    const heapTotal = perConn(after.heapTotal, before.heapTotal);
    const memory: MemoryResult = {
      connections: total,
      settleS: SETTLE_MS / 1000,
      rssBeforeMiB: round(before.rss / 2 ** 20, 1),
      rssAfterMiB: round(after.rss / 2 ** 20, 1),
      rssPerConnKiB: rss,
      transientPerConnKiB: perConn(transient.rss, before.rss),
      heapUsedPerConnKiB: perConn(after.heapUsed, before.heapUsed),
      heapTotalPerConnKiB: heapTotal,
      nativePerConnKiB: round(rss - heapTotal, 1),
      serverCpuMsPerConn: round((transient.cpuMs - before.cpuMs) / total, 3),
    };
    return { throughput, memory };
  } finally {
    await dropAll(connections);
    if (child.connected) command(child, { type: 'stop' });
    await exitOf(child, 3_000);
  }
}
