/**
 * `hub_state.json`: counters the hub keeps across restarts (the seed's data/hub_state.json).
 *
 * ```json
 * {
 *   "total_connections": 12,
 *   "failed_connections": 2,
 *   "handshakes": 12,
 *   "error_counts": { "connection_failed": 2, "trust_rejected": 1 },
 *   "first_started_at": "2024-01-09T08:15:00Z",
 *   "last_started_at": "2024-01-09T10:30:00Z",
 *   "restarts": 3
 * }
 * ```
 *
 * Same robustness as the trust store: a file that does not parse or holds invalid values is
 * refused with a ConfigError and never overwritten (or, with `onCorrupt`, which the daemon uses,
 * moved aside so the hub starts with fresh counters); every write is atomic and serialised; unknown
 * fields are kept. Counters change often, so increments are coalesced: they are written after
 * `flushDelayMs` (named timer "state-store.flush"), by {@link StateStore.flush}, and on close.
 */
import { link, rename, unlink } from 'node:fs/promises';
import { ConfigError } from '../ship/errors.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { removeStaleTempFiles } from '../util/atomic-file.js';
import { StoreWriter } from './store-writer.js';
import { describeValue as describe, isJsonObject } from '../util/json-value.js';
import { formatTimestamp, isRfc3339DateTime } from '../util/rfc3339.js';
import { readJsonStoreFile } from './json-store-file.js';

/** The persisted counters. */
export interface HubState {
  readonly total_connections: number;
  readonly failed_connections: number;
  readonly handshakes: number;
  /** Error counts by reason, e.g. connection_failed, trust_rejected. */
  readonly error_counts: Readonly<Record<string, number>>;
  /** RFC 3339 time of the very first start; null before the first start. */
  readonly first_started_at: string | null;
  /** RFC 3339 time of the latest start; null before the first start. */
  readonly last_started_at: string | null;
  /** Starts after the first one. */
  readonly restarts: number;
}

/** Options of {@link StateStore.open}. */
export interface StateStoreOptions {
  clock: Clock;
  /** Delay before coalesced counter changes are written; default 5000 ms. */
  flushDelayMs?: number;
  /** Receives errors of writes nobody awaits (the delayed flush). */
  onError?: (error: unknown) => void;
  /**
   * With it, a file that does not parse or holds invalid values does not stop the caller: it is
   * renamed to `<path>.corrupt-<UTC time>` (kept for a person to look at), the store starts with
   * fresh counters, and this is called with the problem and where the file went. Counters are
   * statistics, not worth a hub that does not start. Without it, open() throws as before.
   */
  onCorrupt?: (error: ConfigError, keptAt: string) => void;
}

const COUNTERS = ['total_connections', 'failed_connections', 'handshakes', 'restarts'] as const;
/** Error reasons become JSON keys and log fields: keep them short and tame. */
const REASON = /^[A-Za-z0-9_.:-]{1,64}$/;
const DEFAULT_FLUSH_DELAY_MS = 5000;

function emptyState(): HubState {
  return {
    total_connections: 0,
    failed_connections: 0,
    handshakes: 0,
    error_counts: {},
    first_started_at: null,
    last_started_at: null,
    restarts: 0,
  };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseState(path: string, data: Record<string, unknown>): Record<string, unknown> {
  const fail = (key: string, expected: string): never => {
    throw new ConfigError(
      'SHIPHUB_ERR_STORE_INVALID',
      `${path}: "${key}": expected ${expected}, got ${describe(data[key])} ` +
        '(the file was left untouched; fix or remove it)',
    );
  };
  const state: Record<string, unknown> = { ...emptyState(), ...data };
  for (const key of COUNTERS) {
    if (key in data && !isCount(data[key])) fail(key, 'a non-negative integer');
  }
  for (const key of ['first_started_at', 'last_started_at']) {
    const value = data[key];
    if (key in data && value !== null && !isRfc3339DateTime(value)) {
      fail(key, 'an RFC 3339 time such as "2024-01-09T10:30:00Z" or null');
    }
  }
  if ('error_counts' in data) {
    const counts = data.error_counts;
    if (!isJsonObject(counts)) {
      fail('error_counts', 'an object of reason → count');
    }
    for (const [reason, count] of Object.entries(counts as Record<string, unknown>)) {
      if (!isCount(count)) {
        throw new ConfigError(
          'SHIPHUB_ERR_STORE_INVALID',
          `${path}: "error_counts"."${reason}": expected a non-negative integer, got ` +
            `${describe(count)} (the file was left untouched; fix or remove it)`,
        );
      }
    }
    state.error_counts = { ...(counts as Record<string, number>) };
  }
  return state;
}

/** Renames a broken file to `<path>.corrupt-<time>` (never over an earlier one); returns it. */
async function setAside(path: string, now: Date): Promise<string> {
  const stamp = formatTimestamp(now).replace(/[-:]/g, '');
  for (let n = 0; n < 100; n++) {
    const target = `${path}.corrupt-${stamp}${n === 0 ? '' : `-${n}`}`;
    try {
      // link + unlink rather than rename: link fails if the name exists, rename would replace it.
      await link(path, target);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'EEXIST') continue;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') {
        throw storageError(path, error);
      }
      await rename(path, target).catch((e: unknown) => {
        throw storageError(path, e);
      });
      return target;
    }
    await unlink(path).catch((e: unknown) => {
      throw storageError(path, e);
    });
    return target;
  }
  throw storageError(path, new Error('too many earlier .corrupt-* copies'));
}

function storageError(path: string, error: unknown): ConfigError {
  return new ConfigError(
    'SHIPHUB_ERR_STORAGE',
    `${path}: cannot move the broken hub state file aside: ${
      error instanceof Error ? error.message : String(error)
    }`,
    { cause: error, hint: 'check the permissions of the data directory' },
  );
}

/** hub_state.json, see the module comment. */
export class StateStore {
  readonly path: string;
  readonly #clock: Clock;
  readonly #flushDelayMs: number;
  readonly #onError: (error: unknown) => void;
  /** Known and unknown fields, in file order. */
  #state: Record<string, unknown>;
  #timer: TimerHandle | undefined;
  readonly #writer: StoreWriter;
  #closed = false;

  private constructor(path: string, options: StateStoreOptions, state: Record<string, unknown>) {
    this.path = path;
    this.#clock = options.clock;
    this.#flushDelayMs = options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS;
    this.#onError = options.onError ?? (() => undefined);
    this.#state = state;
    this.#writer = new StoreWriter(path, () => this.serialize(), 'the hub state file');
  }

  /**
   * Opens the store; a missing file means all counters at zero (created on the first write).
   *
   * @throws ConfigError `SHIPHUB_ERR_STORE_INVALID` for a file that does not parse or holds invalid
   *   values; the file is never overwritten.
   */
  /**
   * Validates the file as {@link StateStore.open} does, without touching anything on disk
   * (`ship-hub config check`).
   *
   * @throws ConfigError `SHIPHUB_ERR_STORE_INVALID` for a file that open would set aside.
   */
  static async check(path: string): Promise<void> {
    const data = await readJsonStoreFile(path, 'the hub state file');
    if (data !== undefined) parseState(path, data);
  }

  static async open(path: string, options: StateStoreOptions): Promise<StateStore> {
    let state: Record<string, unknown>;
    try {
      const data = await readJsonStoreFile(path, 'the hub state file');
      state = data === undefined ? { ...emptyState() } : parseState(path, data);
    } catch (error) {
      if (
        options.onCorrupt === undefined ||
        !(error instanceof ConfigError) ||
        error.code !== 'SHIPHUB_ERR_STORE_INVALID'
      ) {
        throw error;
      }
      const keptAt = await setAside(path, options.clock.wallNow());
      options.onCorrupt(error, keptAt);
      state = { ...emptyState() };
    }
    await removeStaleTempFiles(path).catch(() => undefined);
    return new StateStore(path, options, state);
  }

  /** The error of the last write while writes of this file fail; undefined when healthy. */
  get lastWriteError(): Error | undefined {
    return this.#writer.lastError;
  }

  /** A frozen copy of the counters. */
  get snapshot(): HubState {
    const s = this.#state as unknown as HubState;
    return Object.freeze({
      total_connections: s.total_connections,
      failed_connections: s.failed_connections,
      handshakes: s.handshakes,
      error_counts: Object.freeze({ ...s.error_counts }),
      first_started_at: s.first_started_at,
      last_started_at: s.last_started_at,
      restarts: s.restarts,
    });
  }

  /**
   * Records a start of the hub: first_started_at (once), last_started_at = now, and restarts + 1
   * unless this is the very first start. Written at once.
   */
  markStarted(): Promise<void> {
    const now = formatTimestamp(this.#clock.wallNow());
    const started = this.#state.last_started_at !== null;
    if (this.#state.first_started_at === null) this.#state.first_started_at = now;
    this.#state.last_started_at = now;
    if (started) this.#increment('restarts');
    this.#writer.markDirty();
    return this.flush();
  }

  /** A SHIP connection reached the data phase. */
  recordConnection(): void {
    this.#increment('total_connections');
  }

  /** A completed SHIP handshake. */
  recordHandshake(): void {
    this.#increment('handshakes');
  }

  /** A connection attempt failed; with a reason, the reason's error count goes up too. */
  recordFailedConnection(reason?: string): void {
    this.#increment('failed_connections');
    if (reason !== undefined) this.recordError(reason);
  }

  /** Counts an error by reason (e.g. "connection_failed", "trust_rejected"). */
  recordError(reason: string): void {
    const key = REASON.test(reason) ? reason : 'other';
    const counts = this.#state.error_counts as Record<string, number>;
    counts[key] = (counts[key] ?? 0) + 1;
    this.#changed();
  }

  /** Writes pending changes now; retries a failed write. */
  async flush(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#writer.flush();
  }

  /** Flushes and stops the delayed-write timer; later changes are written only by flush(). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** The file content: 2-space JSON with a trailing newline, unknown fields kept. */
  serialize(): string {
    return `${JSON.stringify(this.#state, null, 2)}\n`;
  }

  #increment(key: (typeof COUNTERS)[number]): void {
    this.#state[key] = (this.#state[key] as number) + 1;
    this.#changed();
  }

  #changed(): void {
    this.#writer.markDirty();
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#clock.setTimer('state-store.flush', this.#flushDelayMs, () => {
      this.#timer = undefined;
      this.flush().catch(this.#onError);
    });
  }
}
