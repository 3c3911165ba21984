/**
 * The trusted-devices store: `trusted_devices.json` in exactly the format of the original
 * production-hub README (the "seed"), so files written by the Go hub load unchanged and files
 * written here can be read back by it:
 *
 * ```json
 * {
 *   "<ski>": {
 *     "ski": "<ski>",
 *     "brand": "Viessmann",
 *     "model": "Vitocaldens",
 *     "device_type": "HeatPump",
 *     "paired_at": "2024-01-09T10:30:00Z",
 *     "last_connection": "2024-01-09T10:30:00Z",
 *     "connection_count": 1
 *   }
 * }
 * ```
 *
 * Entries are written sorted by SKI (as Go's encoding/json orders map keys) with 2-space
 * indentation and a trailing newline. Fields a person added to an entry are kept. SKIs may be
 * written in any case and with separators; they are normalised, and key and `ski` must agree.
 *
 * A file that does not parse or holds an invalid entry is refused with a ConfigError and is never
 * overwritten: the store does not open, so it cannot write. Every change is written atomically
 * (temporary file, fsync, rename, directory fsync); writes are serialised and a burst of changes
 * made in the same tick is coalesced into one write.
 */
import { InternalError } from '../ship/errors.js';
import { parseSki, toSki, type Ski } from '../ship/ski.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { copyFile } from 'node:fs/promises';
import { removeStaleTempFiles, withWriteQueue } from '../util/atomic-file.js';
import { formatTimestamp } from '../util/rfc3339.js';
import { readJsonStoreFile } from './json-store-file.js';
import { parseDevices, serializeDevices } from './trusted-devices-format.js';
import { StoreWriter } from './store-writer.js';

/** One trusted device as stored; extra fields a person added are kept and returned too. */
export interface TrustedDevice {
  readonly ski: Ski;
  readonly brand: string;
  readonly model: string;
  readonly device_type: string;
  /** RFC 3339 time of pairing, written as "2024-01-09T10:30:00Z". */
  readonly paired_at: string;
  /** RFC 3339 time of the last connection (the pairing time until the first connection). */
  readonly last_connection: string;
  readonly connection_count: number;
  /**
   * SHA-256 of the device's public key (64 hex digits), pinned at its first trusted connection:
   * another key for this SKI is refused (a legacy certificate can claim any SKI). Beyond the
   * seed's format; absent until the device has connected once.
   */
  readonly public_key_sha256?: string;
  /**
   * Where to dial the device when mDNS does not show it ("host:port", "[ipv6]:port"; set by
   * `trust add SKI --address`). Beyond the seed's format; absent for devices found by mDNS.
   */
  readonly address?: string;
  /** Fields the seed format does not define, preserved as they are. */
  readonly [extra: string]: unknown;
}

/** What is needed to trust a device. */
export interface NewTrustedDevice {
  ski: string;
  brand?: string;
  model?: string;
  device_type?: string;
  /** A static address; undefined leaves the entry's address as it is. */
  address?: string;
}

/** Options of {@link TrustStore.open}. */
export interface TrustStoreOptions {
  /**
   * Source of `paired_at` and `last_connection`; with `statisticsDelayMs` also of the timer
   * that writes connection statistics.
   */
  clock: Pick<Clock, 'wallNow'> & Partial<Pick<Clock, 'setTimer'>>;
  /** File mode of the written file; by default an existing file keeps its mode. */
  mode?: number;
  /**
   * Write connection statistics (`last_connection`, `connection_count`) this many ms after the
   * connection instead of at once, together with whatever else changed by then. They are only
   * informational, while the atomic write (two fsyncs) was a third of the daemon's extra CPU
   * per handshake (docs/performance.md). Trust decisions (add, remove, key pin) are still
   * written before they are acknowledged, and carry waiting statistics along; flush() writes
   * them at once, reload() applies them on top of the file it read. Needs `clock.setTimer`.
   * Default: at once.
   */
  statisticsDelayMs?: number;
}

/** A promise to settle when delayed statistics are on disk (or their write failed). */
interface StatisticsWrite {
  readonly written: Promise<void>;
  readonly settle: (error?: Error) => void;
}

/** Re-exported where it was first defined (the daemon imports it from here). */
export { formatTimestamp };

/** One change of the store, re-applicable to another base state (see {@link TrustStore}). */
type Change = (devices: Map<Ski, TrustedDevice>) => void;

/** What {@link TrustStore.reload} changed. */
export interface TrustReload {
  readonly added: Ski[];
  readonly removed: Ski[];
  readonly size: number;
}

/**
 * trusted_devices.json. Mutations change the in-memory view at once (so `has()` is true right
 * after `add()`) and return a promise that settles when the change is on disk.
 *
 * A change that cannot be written (disk full, read-only file system) is undone: its promise
 * rejects with `SHIPHUB_ERR_STORAGE` and the view goes back to what the file holds, so nobody
 * acts on a trust decision that a restart would forget. To make that exact with coalesced
 * writes, the store keeps the state that is on disk (`#durable`) and the changes made since, as
 * functions: a write takes the changes made so far, and when it fails only those are dropped and
 * the view is rebuilt from the file's state plus the changes made after it.
 */
export class TrustStore {
  readonly path: string;
  readonly #clock: Pick<Clock, 'wallNow'>;
  /** The view: #durable with #inFlight and #pending applied. */
  #devices = new Map<Ski, TrustedDevice>();
  /** What the file holds (as far as this process wrote or read it). */
  #durable = new Map<Ski, TrustedDevice>();
  /** Changes the running write carries, and the state it writes. */
  #inFlight: Change[] = [];
  #next: Map<Ski, TrustedDevice> | undefined;
  /** Changes no write has taken yet. */
  #pending: Change[] = [];
  readonly #writer: StoreWriter;
  readonly #statisticsDelay:
    { readonly ms: number; readonly setTimer: Clock['setTimer'] } | undefined;
  /** Connection statistics waiting for the delayed write, its timer, and those being written. */
  #statistics: StatisticsWrite | undefined;
  #statisticsTimer: TimerHandle | undefined;
  #statisticsWriting: StatisticsWrite | undefined;
  #rejectedCopy: string | undefined;

  private constructor(path: string, options: TrustStoreOptions) {
    this.path = path;
    this.#clock = options.clock;
    const { statisticsDelayMs } = options;
    if (statisticsDelayMs !== undefined) {
      const setTimer = options.clock.setTimer?.bind(options.clock);
      if (setTimer === undefined) {
        throw new TypeError('TrustStore: statisticsDelayMs needs a clock with setTimer');
      }
      this.#statisticsDelay = { ms: statisticsDelayMs, setTimer };
    }
    this.#writer = new StoreWriter(
      path,
      () => this.#snapshot(),
      'the trusted devices file',
      options.mode,
      { rollback: true, settled: (error) => this.#settled(error) },
    );
  }

  /**
   * Opens the store. A missing file is an empty store (the file is created on the first change).
   *
   * @throws ConfigError `SHIPHUB_ERR_STORE_INVALID` if the file does not parse, holds a key twice
   *   or an entry is invalid (naming the file, the entry or line, and the problem); the file is
   *   never overwritten.
   */
  /**
   * Validates the file as {@link TrustStore.open} does, without touching anything on disk
   * (`ship-hub config check`): the number of trusted devices, 0 for a missing file.
   *
   * @throws ConfigError naming the file, the entry and the problem.
   */
  static async check(path: string): Promise<number> {
    const data = await readJsonStoreFile(path, 'the trusted devices file');
    return data === undefined ? 0 : parseDevices(path, data).size;
  }

  static async open(path: string, options: TrustStoreOptions): Promise<TrustStore> {
    const store = new TrustStore(path, options);
    const data = await readJsonStoreFile(path, 'the trusted devices file');
    if (data !== undefined) {
      store.#durable = parseDevices(path, data);
      store.#devices = new Map(store.#durable);
    }
    // Temporary files of a writer that was killed mid-write are garbage.
    await removeStaleTempFiles(path).catch(() => undefined);
    return store;
  }

  /**
   * Reads the file again (after a person edited it; the daemon does this on SIGHUP). It runs in
   * the file's write queue: writes already started land first, and none can land between the
   * read and the new state. Changes still waiting (connection statistics) are applied on top of
   * the edit and written with their timer. The file is validated like at open; when it is
   * invalid this throws and the store keeps its state, and with `keepRejectedAt` the refused
   * file is copied there first ({@link rejectedCopy}: the store's next write replaces it).
   */
  reload(options: { keepRejectedAt?: string } = {}): Promise<TrustReload> {
    return withWriteQueue(this.path, async () => {
      this.#rejectedCopy = undefined;
      let loaded: Map<Ski, TrustedDevice>;
      try {
        const data = await readJsonStoreFile(this.path, 'the trusted devices file');
        loaded = data === undefined ? new Map<Ski, TrustedDevice>() : parseDevices(this.path, data);
      } catch (error) {
        const keep = options.keepRejectedAt;
        if (keep !== undefined) {
          this.#rejectedCopy = await copyFile(this.path, keep).then(
            () => keep,
            () => undefined,
          );
        }
        throw error;
      }
      const before = new Set(this.#devices.keys());
      this.#durable = loaded;
      this.#rebuild();
      const added = [...this.#devices.keys()].filter((ski) => !before.has(ski)).sort();
      const removed = [...before].filter((ski) => !this.#devices.has(ski)).sort();
      return { added, removed, size: this.#devices.size };
    });
  }

  /** Where the last reload copied the file it refused; undefined if it did not. */
  get rejectedCopy(): string | undefined {
    return this.#rejectedCopy;
  }

  /** The error of the last write while writes of this file fail; undefined when healthy. */
  get lastWriteError(): Error | undefined {
    return this.#writer.lastError;
  }

  /** Number of trusted devices. */
  get size(): number {
    return this.#devices.size;
  }

  /** All trusted devices, sorted by SKI. */
  list(): TrustedDevice[] {
    return [...this.#devices.values()].sort((a, b) => (a.ski < b.ski ? -1 : 1));
  }

  /** The device with this SKI (any case/separators), or undefined (also for a non-SKI). */
  get(ski: string): TrustedDevice | undefined {
    const normalised = parseSki(ski);
    return normalised === undefined ? undefined : this.#devices.get(normalised);
  }

  /** True if the SKI is trusted. */
  has(ski: string): boolean {
    return this.get(ski) !== undefined;
  }

  /**
   * Trusts a device. A new entry gets paired_at = last_connection = now and connection_count 0
   * (the hub records the connection that follows). For a known SKI, brand, model and type are
   * updated when given and the history is kept.
   *
   * @throws TypeError synchronously if `ski` is not an SKI.
   */
  add(device: NewTrustedDevice): Promise<TrustedDevice> {
    const ski = toSki(device.ski);
    const now = formatTimestamp(this.#clock.wallNow());
    const change: Change = (devices) => {
      const existing = devices.get(ski);
      if (existing === undefined) {
        // Field order of the seed.
        const fresh: TrustedDevice = {
          ski,
          brand: device.brand ?? '',
          model: device.model ?? '',
          device_type: device.device_type ?? '',
          paired_at: now,
          last_connection: now,
          connection_count: 0,
          ...(device.address === undefined ? {} : { address: device.address }),
        };
        devices.set(ski, Object.freeze(fresh));
      } else {
        devices.set(
          ski,
          Object.freeze({
            ...existing,
            ...(device.brand === undefined ? {} : { brand: device.brand }),
            ...(device.model === undefined ? {} : { model: device.model }),
            ...(device.device_type === undefined ? {} : { device_type: device.device_type }),
            ...(device.address === undefined ? {} : { address: device.address }),
          }),
        );
      }
    };
    this.#apply(change);
    const entry = this.#entry(ski);
    return this.#persist().then(() => entry);
  }

  /** Removes trust. Resolves to false (and writes nothing) if the SKI was not trusted. */
  remove(ski: string): Promise<boolean> {
    const normalised = parseSki(ski);
    if (normalised === undefined || !this.#devices.has(normalised)) {
      return Promise.resolve(false);
    }
    this.#apply((devices) => devices.delete(normalised));
    return this.#persist().then(() => true);
  }

  /**
   * Records a connection of a trusted device: last_connection = now, connection_count + 1.
   * Resolves to the updated entry once it is on disk (with `statisticsDelayMs`, with the next
   * write, at the latest after that delay), or to undefined (and writes nothing) for an unknown
   * SKI; rejects with SHIPHUB_ERR_STORAGE when the write that took it failed.
   */
  recordConnection(ski: string): Promise<TrustedDevice | undefined> {
    const existing = this.get(ski);
    if (existing === undefined) return Promise.resolve(undefined);
    const now = formatTimestamp(this.#clock.wallNow());
    this.#apply((devices) => {
      const current = devices.get(existing.ski);
      if (current === undefined) return;
      devices.set(
        existing.ski,
        Object.freeze({
          ...current,
          last_connection: now,
          connection_count: current.connection_count + 1,
        }),
      );
    });
    const entry = this.#entry(existing.ski);
    const delay = this.#statisticsDelay;
    const written = delay === undefined ? this.#persist() : this.#persistLater(delay);
    return written.then(() => entry);
  }

  /**
   * Pins the public key of a trusted device (SHA-256, hex). Resolves to the updated entry, or
   * undefined (and writes nothing) for an unknown SKI or when that key is pinned already.
   */
  pinKey(ski: string, keySha256: string): Promise<TrustedDevice | undefined> {
    const existing = this.get(ski);
    if (existing === undefined || existing.public_key_sha256 === keySha256) {
      return Promise.resolve(undefined);
    }
    this.#apply((devices) => {
      const current = devices.get(existing.ski);
      if (current === undefined) return;
      devices.set(existing.ski, Object.freeze({ ...current, public_key_sha256: keySha256 }));
    });
    const entry = this.#entry(existing.ski);
    return this.#persist().then(() => entry);
  }

  /**
   * Waits until every change made so far is on disk, or was undone because its write failed
   * (the caller of that change got the error).
   */
  flush(): Promise<void> {
    // Waiting statistics make the store dirty: this write takes them (see #snapshot).
    return this.#writer.flush();
  }

  /** The file content for the current state: seed format, sorted, 2 spaces, trailing newline. */
  serialize(): string {
    return serializeDevices(this.#devices);
  }

  /** The entry a change just made (it is in the view: the change ran synchronously). */
  #entry(ski: Ski): TrustedDevice {
    const entry = this.#devices.get(ski);
    if (entry === undefined) throw new InternalError('SHIPHUB_ERR_INTERNAL', `${ski} vanished`);
    return entry;
  }

  #apply(change: Change): void {
    change(this.#devices);
    this.#pending.push(change);
  }

  /** The next write takes every change made so far. */
  #snapshot(): string {
    this.#inFlight = this.#pending.splice(0);
    // Waiting connection statistics go with this write and learn its outcome.
    this.#statisticsTimer?.cancel();
    this.#statisticsTimer = undefined;
    this.#statisticsWriting = this.#statistics;
    this.#statistics = undefined;
    const next = new Map(this.#durable);
    for (const change of this.#inFlight) change(next);
    this.#next = next;
    return serializeDevices(next);
  }

  #settled(error: Error | undefined): void {
    this.#statisticsWriting?.settle(error);
    this.#statisticsWriting = undefined;
    if (error === undefined && this.#next !== undefined) this.#durable = this.#next;
    this.#inFlight = [];
    this.#next = undefined;
    // On failure the write's changes are gone: the view is the file plus later changes.
    if (error !== undefined) this.#rebuild();
  }

  #rebuild(): void {
    const view = new Map(this.#durable);
    for (const change of this.#inFlight) change(view);
    for (const change of this.#pending) change(view);
    this.#devices = view;
  }

  #persist(): Promise<void> {
    return this.#writer.write();
  }

  /** The delayed write of connection statistics: one timer for all made before it fires. */
  #persistLater(delay: { ms: number; setTimer: Clock['setTimer'] }): Promise<void> {
    this.#writer.markDirty();
    if (this.#statistics !== undefined) return this.#statistics.written;
    let settle!: (error?: Error) => void;
    const written = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.#statistics = { written, settle };
    this.#statisticsTimer = delay.setTimer('trust-store.statistics', delay.ms, () => {
      this.#statisticsTimer = undefined;
      // The outcome reaches the callers of recordConnection through `written`.
      this.flush().catch(() => undefined);
    });
    return written;
  }
}
