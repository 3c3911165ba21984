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
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../ship/errors.js';
import { parseSki, toSki, type Ski } from '../ship/ski.js';
import type { Clock } from '../util/clock.js';
import { removeStaleTempFiles } from '../util/atomic-file.js';
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
  /** Fields the seed format does not define, preserved as they are. */
  readonly [extra: string]: unknown;
}

/** What is needed to trust a device. */
export interface NewTrustedDevice {
  ski: string;
  brand?: string;
  model?: string;
  device_type?: string;
}

/** Options of {@link TrustStore.open}. */
export interface TrustStoreOptions {
  /** Source of `paired_at` and `last_connection`. */
  clock: Pick<Clock, 'wallNow'>;
  /** File mode of the written file; by default an existing file keeps its mode. */
  mode?: number;
}

/** RFC 3339 date-time as Go's time.Time marshals it (fraction up to ns, Z or offset). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** "2024-01-09T10:30:00Z": UTC, whole seconds, as the seed writes it. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    return typeof error.code === 'string' ? error.code : undefined;
  }
  return undefined;
}

/**
 * Reads and parses a JSON store file. Returns undefined when it does not exist. Anything else that
 * is wrong throws a ConfigError naming the file (and line/column for bad JSON).
 *
 * @internal shared by the trust and state stores.
 */
export async function readJsonStoreFile(
  path: string,
  what: string,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new ConfigError(
      'SHIPHUB_ERR_STORAGE',
      `${path}: cannot read ${what}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error, hint: 'check the file permissions of the data directory' },
    );
  }
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const keep = 'the file was left untouched; fix or remove it, then start again';
  if (body.trim() === '') {
    throw new ConfigError('SHIPHUB_ERR_STORE_INVALID', `${path}: ${what} is empty (${keep})`, {
      hint: 'an empty file is not valid JSON; write "{}" into it for an empty store',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const match = /position (\d+)/.exec(message);
    const offset = match?.[1] !== undefined ? Number(match[1]) : body.length;
    const lines = body.slice(0, offset).split('\n');
    const line = lines.length;
    const column = (lines[lines.length - 1]?.length ?? 0) + 1;
    const detail = message.replace(/ in JSON at position \d+.*$/s, '');
    throw new ConfigError(
      'SHIPHUB_ERR_STORE_INVALID',
      `${path}: ${what} is not valid JSON at line ${line}, column ${column}: ${detail} (${keep})`,
      { cause: error },
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(
      'SHIPHUB_ERR_STORE_INVALID',
      `${path}: ${what} must be a JSON object, got ${describe(value)} (${keep})`,
    );
  }
  return value as Record<string, unknown>;
}

/** Validates one entry of trusted_devices.json; returns it with a normalised SKI. */
function parseEntry(path: string, key: string, value: unknown): TrustedDevice {
  const fail = (problem: string): never => {
    throw new ConfigError(
      'SHIPHUB_ERR_STORE_INVALID',
      `${path}: entry "${key}": ${problem} (the file was left untouched; fix or remove the entry)`,
    );
  };
  const keySki = parseSki(key);
  if (keySki === undefined) fail('the key is not an SKI (expected 40 hexadecimal digits)');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`expected an object, got ${describe(value)}`);
  }
  const entry = value as Record<string, unknown>;
  const field = (name: string, expected: string, ok: (v: unknown) => boolean): void => {
    if (!ok(entry[name])) fail(`"${name}": expected ${expected}, got ${describe(entry[name])}`);
  };
  field('ski', 'the SKI as a string', (v) => typeof v === 'string');
  const fieldSki = parseSki(entry.ski as string);
  if (fieldSki === undefined) {
    fail(`"ski": expected 40 hexadecimal digits, got ${describe(entry.ski)}`);
  }
  if (fieldSki !== keySki) {
    fail(`"ski" is ${describe(entry.ski)} but the entry's key is a different SKI`);
  }
  for (const name of ['brand', 'model', 'device_type']) {
    field(name, 'a string', (v) => typeof v === 'string');
  }
  for (const name of ['paired_at', 'last_connection']) {
    field(name, 'an RFC 3339 time such as "2024-01-09T10:30:00Z"', (v) => {
      return typeof v === 'string' && RFC3339.test(v);
    });
  }
  field(
    'connection_count',
    'a non-negative integer',
    (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  );
  if ('public_key_sha256' in entry) {
    field(
      'public_key_sha256',
      '64 lower-case hexadecimal digits (SHA-256 of the public key)',
      (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v),
    );
  }
  // Keep the entry's own field order (minimal diffs for hand-edited files), SKI normalised.
  return Object.freeze({ ...entry, ski: keySki }) as TrustedDevice;
}

/**
 * trusted_devices.json. Mutations change the in-memory view at once (so `has()` is true right
 * after `add()`) and return a promise that settles when the change is on disk.
 */
export class TrustStore {
  readonly path: string;
  readonly #clock: Pick<Clock, 'wallNow'>;
  readonly #devices = new Map<Ski, TrustedDevice>();
  readonly #writer: StoreWriter;

  private constructor(path: string, options: TrustStoreOptions) {
    this.path = path;
    this.#clock = options.clock;
    this.#writer = new StoreWriter(
      path,
      () => this.serialize(),
      'the trusted devices file',
      options.mode,
    );
  }

  /**
   * Opens the store. A missing file is an empty store (the file is created on the first change).
   *
   * @throws ConfigError `SHIPHUB_ERR_STORE_INVALID` if the file does not parse or an entry is
   *   invalid (naming the file, the entry and the problem); the file is never overwritten.
   */
  static async open(path: string, options: TrustStoreOptions): Promise<TrustStore> {
    const store = new TrustStore(path, options);
    const data = await readJsonStoreFile(path, 'the trusted devices file');
    if (data !== undefined) {
      const keyOf = new Map<Ski, string>();
      for (const [key, value] of Object.entries(data)) {
        const device = parseEntry(path, key, value);
        const previous = keyOf.get(device.ski);
        if (previous !== undefined) {
          throw new ConfigError(
            'SHIPHUB_ERR_STORE_INVALID',
            `${path}: entries "${previous}" and "${key}" are the same SKI ` +
              `(${device.ski}); remove one (the file was left untouched)`,
          );
        }
        keyOf.set(device.ski, key);
        store.#devices.set(device.ski, device);
      }
    }
    // Temporary files of a writer that was killed mid-write are garbage.
    await removeStaleTempFiles(path).catch(() => undefined);
    return store;
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
    const existing = this.#devices.get(ski);
    let entry: TrustedDevice;
    if (existing === undefined) {
      const now = formatTimestamp(this.#clock.wallNow());
      // Field order of the seed.
      const fresh: TrustedDevice = {
        ski,
        brand: device.brand ?? '',
        model: device.model ?? '',
        device_type: device.device_type ?? '',
        paired_at: now,
        last_connection: now,
        connection_count: 0,
      };
      entry = Object.freeze(fresh);
    } else {
      entry = Object.freeze({
        ...existing,
        ...(device.brand === undefined ? {} : { brand: device.brand }),
        ...(device.model === undefined ? {} : { model: device.model }),
        ...(device.device_type === undefined ? {} : { device_type: device.device_type }),
      });
    }
    this.#devices.set(ski, entry);
    return this.#persist().then(() => entry);
  }

  /** Removes trust. Resolves to false (and writes nothing) if the SKI was not trusted. */
  remove(ski: string): Promise<boolean> {
    const normalised = parseSki(ski);
    if (normalised === undefined || !this.#devices.delete(normalised)) {
      return Promise.resolve(false);
    }
    return this.#persist().then(() => true);
  }

  /**
   * Records a connection of a trusted device: last_connection = now, connection_count + 1.
   * Resolves to the updated entry, or undefined (and writes nothing) for an unknown SKI.
   */
  recordConnection(ski: string): Promise<TrustedDevice | undefined> {
    const existing = this.get(ski);
    if (existing === undefined) return Promise.resolve(undefined);
    const entry = Object.freeze({
      ...existing,
      last_connection: formatTimestamp(this.#clock.wallNow()),
      connection_count: existing.connection_count + 1,
    }) as TrustedDevice;
    this.#devices.set(existing.ski, entry);
    return this.#persist().then(() => entry);
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
    const entry = Object.freeze({ ...existing, public_key_sha256: keySha256 }) as TrustedDevice;
    this.#devices.set(existing.ski, entry);
    return this.#persist().then(() => entry);
  }

  /**
   * Waits until every change made so far is on disk; retries the write if the last one failed.
   */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /** The file content for the current state: seed format, sorted, 2 spaces, trailing newline. */
  serialize(): string {
    const out: Record<string, TrustedDevice> = {};
    for (const device of this.list()) out[device.ski] = device;
    return `${JSON.stringify(out, null, 2)}\n`;
  }

  #persist(): Promise<void> {
    return this.#writer.write();
  }
}
