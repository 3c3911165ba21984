/**
 * SHIP DNS-SD TXT record: build, parse, QR code text. Pure: no I/O, no clock.
 *
 * SHIP §7.3.2 defines the keys; SRIP adds brand/model/type/serial/cat and the 32-byte limits.
 * The order of the keys follows what ship-go puts on the wire (see
 * ../../shared/vectors/shipgo-mdns-netns.txt): txtvers, path, id, ski, brand, model, type,
 * register, serial, cat. Every `key=value` pair is one DNS-SD character-string (RFC 6763 §6).
 */
import { ConfigError } from '../ship/errors.js';
import { parseSki, type Ski } from '../ship/ski.js';
import { truncateUtf8, utf8ByteLength as byteLength } from '../util/utf8.js';

/** The WebSocket path ship-go and most devices announce. */
export const SHIP_DEFAULT_PATH = '/ship/';
/** SRIP: brand, model, type and serial are at most 32 bytes (ship-go truncates them). */
export const SHIP_TXT_VALUE_MAX_BYTES = 32;
/** jeebus, citing SHIP §7.3.2: the whole TXT record (length bytes included) is at most 400 bytes. */
export const SHIP_TXT_TOTAL_MAX_BYTES = 400;
/** RFC 6763 §6.1: one character-string carries at most 255 bytes. */
export const DNS_SD_STRING_MAX_BYTES = 255;
/** jeebus: the path is 1..32 bytes and starts with "/". */
export const SHIP_PATH_MAX_BYTES = 32;

/** What we announce about ourselves. */
export interface ShipTxtInfo {
  /** SHIP ID (SHIP §3); equal to `accessMethods.id`. */
  shipId: string;
  /** Our SKI in any accepted notation; announced as 40 lowercase hex digits. */
  ski: string;
  /** WebSocket path; SHIP nodes use "/ship/". */
  path?: string;
  brand: string;
  model: string;
  /** Device type, ship-go uses the SPINE device type (e.g. "EnergyManagementSystem"). */
  type: string;
  /** True while this node auto-accepts pairing requests (SHIP §5). */
  register: boolean;
  serial?: string;
  /** SRIP device categories (1 grid connection hub … 7 metering). */
  categories?: readonly number[];
}

/** A peer's TXT record after validation. */
export interface ShipTxtRecord {
  txtvers: 1;
  shipId: string;
  path: string;
  /** Normalised SKI. */
  ski: Ski;
  /** The `ski` value exactly as announced (ship-go keys its discovery table by it). */
  announcedSki: string;
  register: boolean;
  brand?: string;
  model?: string;
  type?: string;
  serial?: string;
  categories?: number[];
  /** Keys we do not know, lowercased, with their values (WWCP keeps manufacturer keys). */
  extra: Record<string, string>;
}

export type ParseShipTxtResult =
  { ok: true; record: ShipTxtRecord } | { ok: false; reason: string };

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

function txtError(message: string): ConfigError {
  return new ConfigError('SHIPHUB_ERR_CONFIG', `SHIP TXT record: ${message}`);
}

/**
 * The TXT strings we announce, in ship-go's order. Brand, model, type and serial are truncated
 * to 32 bytes as SRIP requires; everything else that does not fit throws a ConfigError.
 */
export function buildShipTxt(info: ShipTxtInfo): string[] {
  const ski = parseSki(info.ski);
  if (ski === undefined) throw txtError(`"${info.ski}" is not an SKI (40 hexadecimal digits)`);
  if (info.shipId.length === 0) throw txtError('the SHIP ID is empty');
  const path = info.path ?? SHIP_DEFAULT_PATH;
  if (!path.startsWith('/') || byteLength(path) > SHIP_PATH_MAX_BYTES) {
    throw txtError(
      `path "${path}" must start with "/" and be at most ${SHIP_PATH_MAX_BYTES} bytes`,
    );
  }
  const limited = (value: string) => truncateUtf8(value, SHIP_TXT_VALUE_MAX_BYTES);

  const entries = [
    'txtvers=1',
    `path=${path}`,
    `id=${info.shipId}`,
    `ski=${ski}`,
    `brand=${limited(info.brand)}`,
    `model=${limited(info.model)}`,
    `type=${limited(info.type)}`,
    `register=${info.register ? 'true' : 'false'}`,
  ];
  if (info.serial !== undefined && info.serial.length > 0) {
    entries.push(`serial=${limited(info.serial)}`);
  }
  if (info.categories !== undefined && info.categories.length > 0) {
    for (const category of info.categories) {
      if (!Number.isInteger(category) || category < 0 || category > 255) {
        throw txtError(`device category ${category} is not an integer 0..255`);
      }
    }
    entries.push(`cat=${info.categories.join(',')}`);
  }

  let total = 0;
  for (const entry of entries) {
    const size = byteLength(entry);
    if (size > DNS_SD_STRING_MAX_BYTES) {
      throw txtError(
        `"${entry.slice(0, 40)}…" is ${size} bytes; one TXT string holds ${DNS_SD_STRING_MAX_BYTES}`,
      );
    }
    total += 1 + size;
  }
  if (total > SHIP_TXT_TOTAL_MAX_BYTES) {
    throw txtError(
      `the record is ${total} bytes; SHIP allows ${SHIP_TXT_TOTAL_MAX_BYTES} (shorten the SHIP ID)`,
    );
  }
  return entries;
}

/** Wire size of a TXT record (each string plus its length byte). */
export function shipTxtSize(entries: readonly string[]): number {
  return entries.reduce((sum, entry) => sum + 1 + byteLength(entry), 0);
}

/** TXT strings as the byte arrays DNS and Avahi carry, one per pair. */
export function txtToBuffers(entries: readonly string[]): Buffer[] {
  return entries.map((entry) => Buffer.from(entry, 'utf8'));
}

/**
 * Splits TXT strings into lowercased keys and values. RFC 6763 §6.4: only the first occurrence of
 * a key counts; an empty string or one starting with "=" is skipped; a key without "=" has no
 * value (stored as "").
 */
export function txtToMap(
  entries: Record<string, string> | readonly string[] | readonly Uint8Array[],
): Map<string, string> {
  const map = new Map<string, string>();
  if (!Array.isArray(entries)) {
    for (const [key, value] of Object.entries(entries as Record<string, unknown>)) {
      const lower = key.toLowerCase();
      if (lower.length > 0 && !map.has(lower)) map.set(lower, String(value));
    }
    return map;
  }
  for (const raw of entries as readonly (string | Uint8Array)[]) {
    const text = typeof raw === 'string' ? raw : utf8Decoder.decode(raw);
    if (text.length === 0) continue;
    const eq = text.indexOf('=');
    const key = (eq < 0 ? text : text.slice(0, eq)).toLowerCase();
    if (key.length === 0 || map.has(key)) continue;
    map.set(key, eq < 0 ? '' : text.slice(eq + 1));
  }
  return map;
}

const KNOWN_KEYS = new Set([
  'txtvers',
  'id',
  'path',
  'ski',
  'register',
  'brand',
  'model',
  'type',
  'serial',
  'cat',
]);
const MANDATORY_KEYS = ['txtvers', 'id', 'path', 'ski', 'register'] as const;

/**
 * Validates a peer's TXT record the way ship-go does: the mandatory keys are txtvers, id, path,
 * ski and register; txtvers must be 1 (SHIP §7.3.2: otherwise the record is ignored); register
 * must be exactly "true" or "false". Keys are case-insensitive, the SKI is normalised, unknown
 * keys are kept in `extra`.
 */
export function parseShipTxt(
  entries: Record<string, string> | readonly string[] | readonly Uint8Array[],
): ParseShipTxtResult {
  const map = txtToMap(entries);
  for (const key of MANDATORY_KEYS) {
    if (!map.has(key)) return { ok: false, reason: `mandatory key "${key}" is missing` };
  }
  const txtvers = map.get('txtvers') ?? '';
  if (txtvers.trim() !== '1') {
    return { ok: false, reason: `txtvers=${txtvers} is not supported (must be 1)` };
  }
  const shipId = map.get('id') ?? '';
  if (shipId.length === 0) return { ok: false, reason: 'id is empty' };
  const path = map.get('path') ?? '';
  if (path.length === 0) return { ok: false, reason: 'path is empty' };
  const announcedSki = map.get('ski') ?? '';
  const ski = parseSki(announcedSki);
  if (ski === undefined) return { ok: false, reason: `ski="${announcedSki}" is not an SKI` };
  const register = map.get('register');
  if (register !== 'true' && register !== 'false') {
    return { ok: false, reason: `register="${register ?? ''}" is neither "true" nor "false"` };
  }

  const record: ShipTxtRecord = {
    txtvers: 1,
    shipId,
    path,
    ski,
    announcedSki,
    register: register === 'true',
    extra: {},
  };
  const optional = (key: string): string | undefined => {
    const value = map.get(key);
    return value === undefined || value.length === 0 ? undefined : value;
  };
  const brand = optional('brand');
  if (brand !== undefined) record.brand = brand;
  const model = optional('model');
  if (model !== undefined) record.model = model;
  const type = optional('type');
  if (type !== undefined) record.type = type;
  const serial = optional('serial');
  if (serial !== undefined) record.serial = serial;
  const cat = optional('cat');
  if (cat !== undefined) {
    const categories = cat
      .split(',')
      .map((part) => part.trim())
      .filter((part) => /^\d{1,3}$/.test(part))
      .map(Number);
    if (categories.length > 0) record.categories = categories;
  }
  for (const [key, value] of map) {
    if (!KNOWN_KEYS.has(key)) record.extra[key] = value;
  }
  return { ok: true, record };
}

/** What the SRIP QR code carries. */
export interface ShipQrInfo {
  ski: string;
  shipId: string;
  brand?: string;
  type?: string;
  model?: string;
  serial?: string;
  categories?: readonly number[];
}

/**
 * QR code text (SRIP, as ship-go's QRCodeText):
 * `SHIP;SKI:<ski>;ID:<shipid>;BRAND:<b>;TYPE:<t>;MODEL:<m>;SERIAL:<s>;CAT:<c>;ENDSHIP;`.
 * ";" is removed from values and empty optional values are left out.
 */
export function shipQrText(info: ShipQrInfo): string {
  const ski = parseSki(info.ski);
  if (ski === undefined) throw txtError(`"${info.ski}" is not an SKI (40 hexadecimal digits)`);
  const clean = (value: string) => value.replaceAll(';', '');
  const parts = ['SHIP', `SKI:${ski}`, `ID:${clean(info.shipId)}`];
  const add = (key: string, value: string | undefined) => {
    const cleaned = value === undefined ? '' : clean(value);
    if (cleaned.length > 0) parts.push(`${key}:${cleaned}`);
  };
  add('BRAND', info.brand);
  add('TYPE', info.type);
  add('MODEL', info.model);
  add('SERIAL', info.serial);
  add('CAT', info.categories?.join(','));
  parts.push('ENDSHIP');
  return `${parts.join(';')};`;
}
