/**
 * Shared helpers of the benchmark: cached identities, statistics, child processes and small
 * promise utilities. Everything here is bench-only; nothing in src/ depends on it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toSki, type Ski } from '../src/ship/ski.js';
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { createIdentity } from '../src/trust/identity.js';

/** Human progress goes to stderr; stdout carries only the final JSON object. */
export function log(message: string): void {
  console.error(`[bench] ${message}`);
}

export const now = (): number => performance.now();

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export const round = (value: number, digits = 2): number => {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

// ---------------------------------------------------------------------------------------------
// Identities

/** What the benchmark needs of an identity (the subset createShipTlsContext takes). */
export interface BenchIdentity {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly ski: Ski;
}

const CACHE_DIR = fileURLToPath(new URL('./.cache/', import.meta.url));
const CACHE_FILE = join(CACHE_DIR, 'identities-v1.json');

async function readCache(): Promise<BenchIdentity[]> {
  try {
    const raw = JSON.parse(await readFile(CACHE_FILE, 'utf8')) as {
      certificatePem: string;
      privateKeyPem: string;
      ski: string;
    }[];
    return raw.map((r) => ({ ...r, ski: toSki(r.ski) }));
  } catch {
    return [];
  }
}

/**
 * Returns `count` P-256 identities, generated once and cached under build/bench/.cache (creating
 * one costs a few milliseconds; the storm needs about 500).
 */
export async function loadIdentities(count: number): Promise<BenchIdentity[]> {
  const cached = await readCache();
  if (cached.length >= count) return cached.slice(0, count);
  const started = now();
  const generated = [...cached];
  for (let i = cached.length; i < count; i += 16) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(16, count - i) }, (_, k) =>
        createIdentity({ commonName: `bench-${i + k}`, organization: 'ship-hub bench' }),
      ),
    );
    for (const id of batch) {
      generated.push({
        certificatePem: id.certificatePem,
        privateKeyPem: id.privateKeyPem,
        ski: id.ski,
      });
    }
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const tmp = `${CACHE_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(generated));
  await rename(tmp, CACHE_FILE);
  log(`generated ${count - cached.length} identities in ${round((now() - started) / 1000, 1)} s`);
  return generated;
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** Nearest-rank percentile of an unsorted sample (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function summarize(values: readonly number[], digits = 3): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return {
    n: values.length,
    p50: round(percentile(values, 50), digits),
    p90: round(percentile(values, 90), digits),
    p99: round(percentile(values, 99), digits),
    max: round(Math.max(...values), digits),
    mean: round(mean, digits),
  };
}

// ---------------------------------------------------------------------------------------------
// Promises with deadlines

/** Rejects with `what` timed out unless `promise` settles within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * Resolves at the connection's `event`; rejects if it closes first. Attach it before the
 * connection starts (in `onConnection`), so the event cannot be missed.
 */
export function connectionEvent(
  connection: ShipConnection,
  event: 'dataChannelOpen' | 'complete',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onEvent = () => {
      connection.off('closed', onClosed);
      resolve(now());
    };
    const onClosed = (info: { failure: { message: string } | undefined }) => {
      connection.off(event, onEvent);
      reject(
        new Error(`connection closed before ${event}: ${info.failure?.message ?? 'no reason'}`),
      );
    };
    connection.once(event, onEvent);
    connection.once('closed', onClosed);
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes

const children = new Set<ChildProcess>();

/**
 * Starts `build/bench/<script>` as a Node child with an IPC channel. Its stdout goes to our
 * stderr (our stdout is reserved for the JSON result). Every child is tracked and killed by
 * {@link killChildren}, also when the parent exits on an error.
 */
export function spawnBenchChild(
  script: string,
  args: readonly string[],
  execArgv: readonly string[] = [],
): ChildProcess {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [...args], {
    execArgv: [...execArgv],
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kills the children we started that are still running (each by its own pid). */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}

process.once('exit', killChildren);

/** Waits for the child's first IPC message of `type`; rejects if it exits or `ms` pass. */
export function nextMessage<T extends { type: string }>(
  child: ChildProcess,
  type: T['type'],
  ms: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: unknown) => {
      if (typeof message === 'object' && message !== null && (message as T).type === type) {
        cleanup();
        resolve(message as T);
      } else if ((message as { type?: string }).type === 'error') {
        cleanup();
        reject(new Error(`child ${child.pid}: ${(message as { message?: string }).message}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${code ?? signal}) while waiting for ${type}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid}: no ${type} message within ${ms} ms`));
    }, ms);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Waits until the child exits, killing it after `ms`. */
export function exitOf(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** In a child: sends a message to the parent (no-op without an IPC channel). */
// The type parameter lets a caller name its message type (toParent<ReadyMessage>({...})), so the
// literal gets excess-property checks against it.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export function toParent<T extends { type: string }>(message: T): void {
  process.send?.(message);
}
