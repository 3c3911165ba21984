/**
 * SPINE datagram codec: EEBUS-JSON or plain JSON ⇄ the typed model of ../model/datagram.ts
 * (spine-protocol.md §1 "Where SPINE sits", §2.1 "Shape", §3.1 "Filter structure").
 *
 * Decoding never throws for peer data: every problem is a typed {@link DatagramDecodeError}
 * carrying whatever header fields could be read, so the layer above can still address a `result`
 * error to the sender (spine-protocol.md §6.3). Size and depth are bounded before any recursion.
 * Unknown elements are ignored in the header (SPINE_PS 4.3.4, SPINE-TS-COMP-03) and kept in cmds
 * and filters so that a datagram re-encodes to what was received.
 *
 * Encoding (datagram-encode.ts, re-exported here) writes the XSD element order.
 */
import { fromEebusJson } from '../../ship/codec/eebus-json.js';
import type { FeatureAddress } from '../model/address.js';
import {
  CMD_CLASSIFIERS,
  MSG_COUNTER_MAX,
  type CmdClassifier,
  type CmdControl,
  type MsgCounter,
  type SpineCmd,
  type SpineDatagram,
  type SpineFilter,
  type SpineHeader,
} from '../model/datagram.js';
import { parseJsonLossless } from './json-lossless.js';
import { asList, asObject, isObject, isUint, own, setOwn } from './values.js';

/** Why a datagram could not be decoded. */
export type DatagramErrorCode =
  /** The text is not JSON (only from {@link decodeDatagramText}). */
  | 'invalidJson'
  /** More text, values, cmds or filters than the limits allow. */
  | 'tooLarge'
  /** Nested deeper than the limit. */
  | 'tooDeep'
  /** JSON, but no `datagram` with `header` and `payload`. */
  | 'notDatagram'
  /** A mandatory element is absent. */
  | 'missingField'
  /** An element has the wrong type or value. */
  | 'invalidField';

/** A decoding failure, with the header fields that could be read (for an error `result`). */
export interface DatagramDecodeError {
  code: DatagramErrorCode;
  /** Element path, e.g. `datagram.header.msgCounter`. */
  path: string;
  /** Plain words; never the whole received value. */
  detail: string;
  /** Header fields read before the problem (or despite it). */
  header?: Partial<SpineHeader>;
}

/** Outcome of {@link decodeDatagram}. */
export type DatagramDecodeResult =
  { ok: true; datagram: SpineDatagram } | { ok: false; error: DatagramDecodeError };

/** Limits of the decoder; every field has a default in {@link DATAGRAM_DEFAULT_LIMITS}. */
export interface DatagramDecodeOptions {
  /** Longest JSON text accepted by {@link decodeDatagramText} (UTF-16 units). */
  maxTextLength?: number;
  /** Deepest nesting of arrays/objects in the received value. */
  maxDepth?: number;
  /** Most JSON values (objects, arrays, scalars) in the received value. */
  maxValues?: number;
  /** Most cmds in one datagram (senders put one; §2.1). */
  maxCmds?: number;
  /** Most filters in one cmd (at most one delete and one partial are meaningful; §3.1). */
  maxFilters?: number;
}

/**
 * Default limits. The largest recorded datagram (a KEO discovery reply, 95 kB, spine-vectors
 * devices/spelsberg…) has about 9,000 values and depth 22 in EEBUS-JSON form.
 */
export const DATAGRAM_DEFAULT_LIMITS: Required<DatagramDecodeOptions> = {
  maxTextLength: 1024 * 1024,
  maxDepth: 64,
  maxValues: 200_000,
  maxCmds: 32,
  maxFilters: 8,
};

class Fail extends Error {
  constructor(
    readonly code: DatagramErrorCode,
    readonly path: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** A short, safe description of a received value for error details. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Checks size and depth without recursion (so hostile nesting cannot overflow the stack before
 * the recursive converters run).
 */
function checkBounds(value: unknown, limits: Required<DatagramDecodeOptions>): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  let count = 0;
  while (stack.length > 0) {
    const top = stack.pop();
    if (top === undefined) break;
    const [item, depth] = top;
    if (++count > limits.maxValues) {
      throw new Fail('tooLarge', 'datagram', `more than ${limits.maxValues} JSON values`);
    }
    if (typeof item !== 'object' || item === null) continue;
    if (depth >= limits.maxDepth) {
      throw new Fail('tooDeep', 'datagram', `nested deeper than ${limits.maxDepth} levels`);
    }
    const children = Array.isArray(item) ? item : Object.values(item);
    for (const child of children) stack.push([child, depth + 1]);
  }
}

/** A uint64 counter (§2.3): a safe integer number or an exact bigint. */
function readCounter(value: unknown, path: string): MsgCounter {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= MSG_COUNTER_MAX) return value;
    throw new Fail('invalidField', path, `${describe(value)} is not a uint64`);
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    if (Number.isSafeInteger(value)) return BigInt(value);
    // JSON.parse already rounded it: answering with it would reference another counter.
    throw new Fail(
      'invalidField',
      path,
      `${describe(value)} is beyond 2^53 and was rounded by the JSON parser; decode the text with decodeDatagramText`,
    );
  }
  throw new Fail('invalidField', path, `${describe(value)} is not a uint64`);
}

/** `FeatureAddressType` (§2.1): every part optional, parts of the wrong type refused. */
function readAddress(value: unknown, path: string): FeatureAddress {
  const object = asObject(value);
  if (object === undefined) {
    throw new Fail('invalidField', path, `${describe(value)} is not an address`);
  }
  const address: FeatureAddress = {};
  const device = own(object, 'device');
  if (device !== undefined) {
    if (typeof device !== 'string') {
      throw new Fail('invalidField', `${path}.device`, `${describe(device)} is not a string`);
    }
    address.device = device;
  }
  const entity = own(object, 'entity');
  if (entity !== undefined) {
    const path_ = asList(entity);
    if (!path_.every((item) => isUint(item))) {
      throw new Fail('invalidField', `${path}.entity`, 'is not a list of unsigned integers');
    }
    address.entity = path_;
  }
  const feature = own(object, 'feature');
  if (feature !== undefined) {
    if (!isUint(feature)) {
      throw new Fail('invalidField', `${path}.feature`, `${describe(feature)} is not a uint`);
    }
    address.feature = feature;
  }
  return address;
}

/** One of the six `cmdClassifier` values (spine-protocol.md §2.2). */
function isClassifier(value: unknown): value is CmdClassifier {
  return typeof value === 'string' && (CMD_CLASSIFIERS as readonly string[]).includes(value);
}

/** The header (§2.1); fills `partial` as it goes so a failure still names the sender. */
function readHeader(value: unknown, partial: Partial<SpineHeader>): SpineHeader {
  const path = 'datagram.header';
  const object = asObject(value);
  if (object === undefined) throw new Fail('notDatagram', path, 'the header is not an element');
  /** A mandatory header field, read above when present (§2.4). */
  const required = <T>(value: T | undefined, key: string): T => {
    if (value === undefined) throw new Fail('missingField', `${path}.${key}`, 'is missing');
    return value;
  };
  // Addresses and counter first: they are what an error result needs (§2.4, §6.2).
  const source = own(object, 'addressSource');
  if (source !== undefined) partial.addressSource = readAddress(source, `${path}.addressSource`);
  const destination = own(object, 'addressDestination');
  if (destination !== undefined) {
    partial.addressDestination = readAddress(destination, `${path}.addressDestination`);
  }
  const counter = own(object, 'msgCounter');
  if (counter !== undefined) partial.msgCounter = readCounter(counter, `${path}.msgCounter`);
  const reference = own(object, 'msgCounterReference');
  if (reference !== undefined) {
    partial.msgCounterReference = readCounter(reference, `${path}.msgCounterReference`);
  }
  const classifier = own(object, 'cmdClassifier');
  if (classifier !== undefined) {
    if (!isClassifier(classifier)) {
      throw new Fail(
        'invalidField',
        `${path}.cmdClassifier`,
        `${describe(classifier)} is not a cmdClassifier`,
      );
    }
    partial.cmdClassifier = classifier;
  }
  const version = own(object, 'specificationVersion');
  if (version !== undefined) {
    if (typeof version !== 'string') {
      throw new Fail(
        'invalidField',
        `${path}.specificationVersion`,
        `${describe(version)} is not a string`,
      );
    }
    partial.specificationVersion = version;
  }
  const ack = own(object, 'ackRequest');
  if (ack !== undefined) {
    if (typeof ack !== 'boolean') {
      throw new Fail('invalidField', `${path}.ackRequest`, `${describe(ack)} is not a boolean`);
    }
    partial.ackRequest = ack;
  }
  const timestamp = own(object, 'timestamp');
  if (timestamp !== undefined) {
    if (typeof timestamp !== 'string') {
      throw new Fail('invalidField', `${path}.timestamp`, `${describe(timestamp)} is not a string`);
    }
    partial.timestamp = timestamp;
  }
  const originator = own(object, 'addressOriginator');
  if (originator !== undefined) {
    partial.addressOriginator = readAddress(originator, `${path}.addressOriginator`);
  }
  // Rebuilt in XSD order so that encoding writes it back in that order.
  const header: SpineHeader = {
    addressSource: required(partial.addressSource, 'addressSource'),
    addressDestination: required(partial.addressDestination, 'addressDestination'),
    msgCounter: required(partial.msgCounter, 'msgCounter'),
    cmdClassifier: required(partial.cmdClassifier, 'cmdClassifier'),
  };
  if (partial.specificationVersion !== undefined) {
    header.specificationVersion = partial.specificationVersion;
  }
  if (partial.addressOriginator !== undefined) {
    header.addressOriginator = partial.addressOriginator;
  }
  if (partial.msgCounterReference !== undefined) {
    header.msgCounterReference = partial.msgCounterReference;
  }
  if (partial.ackRequest !== undefined) header.ackRequest = partial.ackRequest;
  if (partial.timestamp !== undefined) header.timestamp = partial.timestamp;
  return header;
}

/** Reads the `cmdControl` of a filter (§3.1: exactly one of delete and partial). */
function readCmdControl(value: unknown, path: string): CmdControl {
  const object = asObject(value);
  if (object === undefined) {
    throw new Fail('invalidField', path, `${describe(value)} is not an element`);
  }
  const hasDelete = own(object, 'delete') !== undefined;
  const hasPartial = own(object, 'partial') !== undefined;
  if (hasDelete === hasPartial) {
    throw new Fail('invalidField', path, 'must hold exactly one of delete and partial');
  }
  return hasDelete ? 'delete' : 'partial';
}

/** One filter (§3.1). */
function readFilter(value: unknown, path: string): SpineFilter {
  const object = asObject(value);
  if (object === undefined) throw new Fail('invalidField', path, `${describe(value)} is no filter`);
  const control = own(object, 'cmdControl');
  if (control === undefined) throw new Fail('missingField', `${path}.cmdControl`, 'is missing');
  const filter: SpineFilter = { cmdControl: readCmdControl(control, `${path}.cmdControl`) };
  const unknown: Record<string, unknown> = {};
  let hasUnknown = false;
  for (const key of Object.keys(object)) {
    const child = object[key];
    if (key === 'cmdControl') continue;
    if (key === 'filterId') {
      if (!isUint(child)) {
        throw new Fail('invalidField', `${path}.filterId`, `${describe(child)} is not a uint`);
      }
      filter.filterId = child;
    } else if (key.endsWith('Selectors') && filter.selectors === undefined) {
      filter.selectors = { name: key, value: child };
    } else if (key.endsWith('Elements') && filter.elements === undefined) {
      filter.elements = { name: key, value: child };
    } else {
      setOwn(unknown, key, child);
      hasUnknown = true;
    }
  }
  if (hasUnknown) filter.unknown = unknown;
  return filter;
}

/** The keys of CmdType that are not function data (§2.1). */
const CMD_FRAME_KEYS = new Set([
  'function',
  'filter',
  'manufacturerSpecificExtension',
  'lastUpdateAt',
]);

/** One cmd (§2.1): the function element is the key `function` names, else the first other key. */
function readCmd(value: unknown, path: string, limits: Required<DatagramDecodeOptions>): SpineCmd {
  const object = asObject(value);
  if (object === undefined) throw new Fail('invalidField', path, `${describe(value)} is no cmd`);
  const cmd: SpineCmd = {};
  const fn = own(object, 'function');
  if (fn !== undefined) {
    if (typeof fn !== 'string') {
      throw new Fail('invalidField', `${path}.function`, `${describe(fn)} is not a string`);
    }
    cmd.function = fn;
  }
  const filterValue = own(object, 'filter');
  if (filterValue !== undefined) {
    const items = asList(filterValue);
    if (items.length > limits.maxFilters) {
      throw new Fail('tooLarge', `${path}.filter`, `more than ${limits.maxFilters} filters`);
    }
    cmd.filter = items.map((item, index) => readFilter(item, `${path}.filter[${index}]`));
  }
  const candidates = Object.keys(object).filter((key) => !CMD_FRAME_KEYS.has(key));
  const dataName =
    cmd.function !== undefined && candidates.includes(cmd.function) ? cmd.function : candidates[0];
  if (dataName !== undefined) {
    const data = object[dataName];
    // A function element is complex; a read carries it empty (`[]` on the wire → `{}`).
    cmd.data = { name: dataName, value: Array.isArray(data) ? (asObject(data) ?? data) : data };
  }
  const extension = own(object, 'manufacturerSpecificExtension');
  if (extension !== undefined) {
    if (typeof extension !== 'string') {
      throw new Fail(
        'invalidField',
        `${path}.manufacturerSpecificExtension`,
        `${describe(extension)} is not a string`,
      );
    }
    cmd.manufacturerSpecificExtension = extension;
  }
  const lastUpdateAt = own(object, 'lastUpdateAt');
  if (lastUpdateAt !== undefined) {
    if (typeof lastUpdateAt !== 'string') {
      throw new Fail(
        'invalidField',
        `${path}.lastUpdateAt`,
        `${describe(lastUpdateAt)} is not a string`,
      );
    }
    cmd.lastUpdateAt = lastUpdateAt;
  }
  const others = candidates.filter((key) => key !== dataName);
  if (others.length > 0) {
    const unknown: Record<string, unknown> = {};
    for (const key of others) setOwn(unknown, key, object[key]);
    cmd.unknown = unknown;
  }
  return cmd;
}

/**
 * Decodes a datagram from a parsed JSON value (spine-protocol.md §2.1). Accepted roots: the SHIP
 * data payload `{"datagram": …}` or the datagram's content `{header, payload}`, each in
 * EEBUS-JSON (array form, converted with the SHIP codec's fromEebusJson) or in plain JSON.
 * Counters must be exact: pass values from {@link parseJsonLossless} (or use
 * {@link decodeDatagramText}) when counters may exceed 2^53.
 */
export function decodeDatagram(
  value: unknown,
  options?: DatagramDecodeOptions,
): DatagramDecodeResult {
  const limits = { ...DATAGRAM_DEFAULT_LIMITS, ...options };
  const partial: Partial<SpineHeader> = {};
  try {
    checkBounds(value, limits);
    let root = value;
    if (Array.isArray(root)) root = asObject(root);
    if (isObject(root) && own(root, 'datagram') !== undefined) root = own(root, 'datagram');
    // EEBUS-JSON is unambiguous to convert as a whole (lists are arrays of arrays, §1); plain
    // JSON is taken as it is, with EEBUS parts converted where they occur (asObject).
    if (Array.isArray(root)) root = fromEebusJson(root, { maxDepth: limits.maxDepth + 1 });
    if (!isObject(root)) {
      throw new Fail('notDatagram', 'datagram', `${describe(root)} is not a datagram`);
    }
    const headerValue = own(root, 'header');
    if (headerValue === undefined) throw new Fail('notDatagram', 'datagram.header', 'is missing');
    const header = readHeader(headerValue, partial);
    const payload = asObject(own(root, 'payload'));
    if (payload === undefined) {
      throw new Fail('missingField', 'datagram.payload', 'is missing or not an element');
    }
    const cmdValue = own(payload, 'cmd');
    if (cmdValue === undefined)
      throw new Fail('missingField', 'datagram.payload.cmd', 'is missing');
    const items = asList(cmdValue);
    if (items.length > limits.maxCmds) {
      throw new Fail('tooLarge', 'datagram.payload.cmd', `more than ${limits.maxCmds} cmds`);
    }
    const cmd = items.map((item, index) => readCmd(item, `datagram.payload.cmd[${index}]`, limits));
    return { ok: true, datagram: { header, payload: { cmd } } };
  } catch (error) {
    if (error instanceof Fail) {
      const failure: DatagramDecodeError = {
        code: error.code,
        path: error.path,
        detail: error.message,
      };
      if (Object.keys(partial).length > 0) failure.header = partial;
      return { ok: false, error: failure };
    }
    if (error instanceof RangeError) {
      return { ok: false, error: { code: 'tooDeep', path: 'datagram', detail: error.message } };
    }
    throw error;
  }
}

/**
 * Decodes a datagram from JSON text, reading 64-bit integers exactly (spine-protocol.md §1
 * "TypeScript caveat"; conformance checklist item 8). The text is the SHIP data payload
 * (`{"datagram":…}`) or the datagram content.
 */
export function decodeDatagramText(
  text: string,
  options?: DatagramDecodeOptions,
): DatagramDecodeResult {
  const limits = { ...DATAGRAM_DEFAULT_LIMITS, ...options };
  if (text.length > limits.maxTextLength) {
    return {
      ok: false,
      error: {
        code: 'tooLarge',
        path: 'datagram',
        detail: `text longer than ${limits.maxTextLength}`,
      },
    };
  }
  const parsed = parseJsonLossless(text, limits.maxDepth);
  if (!parsed.ok) {
    return {
      ok: false,
      error: {
        code: parsed.reason === 'tooDeep' ? 'tooDeep' : 'invalidJson',
        path: 'datagram',
        detail: `${parsed.detail} at offset ${parsed.offset}`,
      },
    };
  }
  return decodeDatagram(parsed.value, limits);
}

export { encodeDatagram, encodeDatagramText, type DatagramForm } from './datagram-encode.js';
