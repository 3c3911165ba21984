/**
 * The format of trusted_devices.json (the seed's, see src/trust/trust-store.ts): validating an
 * entry and a whole file, and writing it sorted by SKI with 2-space indentation.
 */
import { ConfigError } from '../ship/errors.js';
import { parseSki, type Ski } from '../ship/ski.js';
import { parseStaticAddress } from '../util/host-port.js';
import { isJsonObject } from '../util/json-value.js';
import { isRfc3339DateTime } from '../util/rfc3339.js';
import { describe } from './json-store-file.js';
import type { TrustedDevice } from './trust-store.js';

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
  if (!isJsonObject(value)) {
    return fail(`expected an object, got ${describe(value)}`);
  }
  const entry = value;
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
      return isRfc3339DateTime(v);
    });
  }
  field(
    'connection_count',
    'a non-negative integer',
    (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  );
  if ('address' in entry) {
    const address = entry.address;
    const parsed = typeof address === 'string' ? parseStaticAddress(address) : 'not a string';
    if (typeof parsed === 'string') fail(`"address": expected "host:port", ${parsed}`);
  }
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

/** Parses a whole trusted devices file (the data of {@link readJsonStoreFile}). */
export function parseDevices(path: string, data: Record<string, unknown>): Map<Ski, TrustedDevice> {
  const devices = new Map<Ski, TrustedDevice>();
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
    devices.set(device.ski, device);
  }
  return devices;
}

/** The file content: seed format, sorted by SKI, 2 spaces, trailing newline. */
export function serializeDevices(devices: Map<Ski, TrustedDevice>): string {
  const out: Record<string, TrustedDevice> = {};
  for (const [ski, device] of [...devices.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out[ski] = device;
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}
