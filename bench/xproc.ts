/**
 * Cross-process handshake figures: the server (our `ShipServer`, or the plain-Node floor) in one
 * child process, our `connectShip()` client in another, sequential handshakes with an idle gap
 * (as devices reconnect) and back to back. The server reports its CPU time and, for ShipServer,
 * a per-phase split from its own view. See docs/performance.md.
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { exitOf, nextMessage, round, spawnBenchChild, summarize, type Summary } from './common.js';
import type { ClientDoneMessage } from './xproc-client.js';
import type { MarkedMessage, ServerPhases } from './xproc-server.js';

export type XprocServerKind = 'ship' | 'floor' | 'daemon';

export interface XprocSeries {
  readonly gapMs: number;
  /** TCP connected → client in data exchange, as the client process sees it. */
  readonly latency: Summary;
  /** Server process CPU (user + system) per handshake, teardown included. */
  readonly serverCpuMsPerHandshake: number;
  /** Server-side phases (ShipServer only), p50 of each. */
  readonly phasesP50?: Record<keyof ServerPhases, number>;
  readonly loadAverage: number[];
}

export interface XprocOptions {
  readonly warmup: number;
  readonly count: number;
  readonly gapMs: number;
}

async function series(
  server: ChildProcess,
  port: number,
  serverIndex: number,
  clientIndex: number,
  options: XprocOptions,
): Promise<XprocSeries> {
  // Warm-up first in its own client, so the server's marks bracket only measured handshakes.
  if (options.warmup > 0) await runClient(port, serverIndex, clientIndex, options.warmup, 0, 0);
  server.send({ type: 'mark' });
  const before = await nextMessage<MarkedMessage>(server, 'marked', 10_000);
  const samples = await runClient(port, serverIndex, clientIndex, 0, options.count, options.gapMs);
  server.send({ type: 'mark' });
  const after = await nextMessage<MarkedMessage>(server, 'marked', 10_000);
  const handshakes = after.completed - before.completed;
  const phases = after.phases;
  let phasesP50: Record<keyof ServerPhases, number> | undefined;
  if (phases.length > 0) {
    const keys = Object.keys(phases[0]!) as (keyof ServerPhases)[];
    phasesP50 = Object.fromEntries(
      keys.map((k) => [k, summarize(phases.map((p) => p[k])).p50]),
    ) as Record<keyof ServerPhases, number>;
  }
  return {
    gapMs: options.gapMs,
    latency: summarize(samples),
    serverCpuMsPerHandshake: round((after.cpuMs - before.cpuMs) / Math.max(1, handshakes), 3),
    ...(phasesP50 === undefined ? {} : { phasesP50 }),
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

async function runClient(
  port: number,
  serverIndex: number,
  clientIndex: number,
  warmup: number,
  count: number,
  gapMs: number,
): Promise<number[]> {
  const args = [port, serverIndex, clientIndex, warmup, count, gapMs].map(String);
  const child = spawnBenchChild('./xproc-client.js', args);
  const budgetMs = 30_000 + (warmup + count) * (gapMs + 100);
  const done = await nextMessage<ClientDoneMessage>(child, 'done', budgetMs);
  await exitOf(child, 2_000);
  return done.samples;
}

/**
 * `SHIPHUB_BENCH_PROFILE=DIR` writes a V8 CPU profile of each server child into DIR
 * (in DIR/<kind>/; open it in Chrome DevTools or speedscope): how the figures in
 * docs/performance.md were taken apart.
 */
function serverProfileArgs(kind: XprocServerKind): string[] {
  const dir = process.env.SHIPHUB_BENCH_PROFILE;
  if (dir === undefined || dir === '') return [];
  return ['--cpu-prof', `--cpu-prof-dir=${join(dir, kind)}`];
}

/**
 * Starts the `kind` server in a child, runs one series per entry of `runs` against it (each with
 * its own client process) and stops it.
 */
export async function measureXproc(
  kind: XprocServerKind,
  serverIndex: number,
  clientIndex: number,
  runs: readonly XprocOptions[],
): Promise<XprocSeries[]> {
  const server = spawnBenchChild(
    './xproc-server.js',
    [kind, String(serverIndex), String(clientIndex)],
    serverProfileArgs(kind),
  );
  try {
    const { port } = await nextMessage<{ type: 'ready'; port: number }>(server, 'ready', 10_000);
    const results: XprocSeries[] = [];
    for (const run of runs) {
      results.push(await series(server, port, serverIndex, clientIndex, run));
    }
    return results;
  } finally {
    server.send({ type: 'stop' });
    await exitOf(server, 2_000);
  }
}
