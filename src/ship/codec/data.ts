/**
 * The SHIP `data` message (message type 0x02, SHIP §13.4.5), the hot path of every connection.
 *
 * Wire shape, as ship-go, Porsche PMCC, a CLS control box and EEBUS.Net all send it:
 * `{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":<payload>}]}` plus an optional
 * `{"extension":[…]}`. The payload (xs:anyType) is carried as the JSON value it is on the wire;
 * for SPINE that is `{"datagram":[…EEBUS-JSON…]}`, an object, not a sequence. Converting the
 * SPINE part is the SPINE layer's business (see ./eebus-json.ts).
 */
import type { DataExtension, DataMessage } from '../messages.js';
import { PROTOCOL_ID_SPINE } from '../messages.js';
import {
  FieldError,
  HEX_BINARY_PATTERN,
  isUint,
  optionalChild,
  optionalString,
  readChildren,
  requiredChild,
  requiredString,
} from './elements.js';
import { escapeLikeGo, jsonString } from './json-text.js';

/**
 * A payload that is already JSON text, sent as it is. For SPINE, whose uint64 counters
 * (spine-protocol.md §1, §2.3) JSON.stringify cannot write beyond 2^53: the SPINE layer writes
 * the datagram text itself. The text must be one valid JSON value (the caller's promise; it is
 * not parsed again on the hot path). Go's escaping is applied as to any payload.
 */
export class RawJsonPayload {
  constructor(readonly text: string) {}

  /** For logs and JSON.stringify: the value the text stands for. */
  toJSON(): unknown {
    return JSON.parse(this.text) as unknown;
  }
}

/** Everything before the payload of a SPINE data message, precomputed for the hot path. */
const SPINE_PREFIX = `{"data":[{"header":[{"protocolId":"${PROTOCOL_ID_SPINE}"}]},{"payload":`;

/**
 * JSON text of a `data` message. One `JSON.stringify` of the payload, spliced between constant
 * strings: no intermediate EEBUS arrays and no second pass over the payload except Go's escaping
 * (see ./json-text.ts), which is a regular-expression scan that allocates nothing when there is
 * nothing to escape.
 *
 * @throws TypeError if the payload has no JSON form (undefined, a function) or `protocolId` is not
 * a string; JSON.stringify's own errors (cycles, BigInt) pass through. All are caller bugs.
 */
export function encodeDataJson(value: DataMessage): string {
  const payload =
    value.payload instanceof RawJsonPayload
      ? value.payload.text
      : (JSON.stringify(value.payload) as string | undefined);
  if (payload === undefined) {
    throw new TypeError('cannot encode data.payload: the value has no JSON form');
  }
  let json: string;
  if (value.protocolId === PROTOCOL_ID_SPINE) {
    json = SPINE_PREFIX + escapeLikeGo(payload);
  } else {
    if (typeof value.protocolId !== 'string') {
      throw new TypeError('cannot encode data.header.protocolId: must be a string');
    }
    json = `{"data":[{"header":[{"protocolId":${jsonString(value.protocolId)}}]},{"payload":${escapeLikeGo(payload)}`;
  }
  if (value.extension === undefined) return `${json}}]}`;
  return `${json}},${encodeExtension(value.extension)}]}`;
}

/** `{"extension":[{"extensionId":…}?,{"binary":…}?,{"string":…}?]}` (SHIP §13.4.5). */
function encodeExtension(extension: DataExtension): string {
  const parts: string[] = [];
  if (extension.extensionId !== undefined) {
    parts.push(`{"extensionId":${jsonString(extension.extensionId)}}`);
  }
  if (extension.binary !== undefined) {
    // xs:hexBinary. ship-go models it as one byte (a bug); we only ever send the schema form.
    if (typeof extension.binary !== 'string' || !HEX_BINARY_PATTERN.test(extension.binary)) {
      throw new TypeError('cannot encode data.extension.binary: must be pairs of hex digits');
    }
    parts.push(`{"binary":"${extension.binary}"}`);
  }
  if (extension.string !== undefined) {
    parts.push(`{"string":${jsonString(extension.string)}}`);
  }
  return `{"extension":[${parts.join(',')}]}`;
}

/** Decodes the value of the `data` root element. */
export function decodeData(value: unknown): DataMessage {
  const path = 'data';
  const children = readChildren(path, value);
  const headerPath = `${path}.header`;
  const header = readChildren(headerPath, requiredChild(children, path, 'header'));
  const protocolId = requiredString(header, headerPath, 'protocolId');
  // The payload is taken as it is, including JSON null: it is xs:anyType, and what it means is
  // for the protocol named by protocolId to decide (SHIP §13.4.5).
  const payloads = children.get('payload');
  if (payloads === undefined) throw new FieldError(`${path}.payload is missing`);
  if (payloads.length > 1) {
    throw new FieldError(`${path}.payload appears ${payloads.length} times`);
  }
  const message: DataMessage = { protocolId, payload: payloads[0] };
  const extension = optionalChild(children, path, 'extension');
  if (extension !== undefined) message.extension = decodeExtension(`${path}.extension`, extension);
  return message;
}

function decodeExtension(path: string, value: unknown): DataExtension {
  const children = readChildren(path, value);
  const extension: DataExtension = {};
  const extensionId = optionalString(children, path, 'extensionId');
  if (extensionId !== undefined) extension.extensionId = extensionId;
  const binary = optionalChild(children, path, 'binary');
  if (typeof binary === 'string' && HEX_BINARY_PATTERN.test(binary)) {
    extension.binary = binary;
  } else if (isUint(binary, 0xff)) {
    // ship-go's model has a single byte here, which Go writes as a number: read it as that byte.
    extension.binary = binary.toString(16).padStart(2, '0');
  } else if (binary !== undefined) {
    throw new FieldError(`${path}.binary must be hexadecimal digit pairs (xs:hexBinary)`);
  }
  const text = optionalString(children, path, 'string');
  if (text !== undefined) extension.string = text;
  return extension;
}

/**
 * The payload of a SHIP data message as the text it was received as, cut out of the message's
 * JSON without parsing it again: `{"data":[{"header":[…]},{"payload":<this>}…]}` (or the
 * plain-object form `{"data":{"header":…,"payload":<this>}}`). For SPINE, which reads its uint64
 * counters from the text losslessly (spine-protocol.md §1); the decoded `payload` value stays what
 * the SHIP layer hands on. Undefined if the text holds no payload member where SHIP §13.4.5 puts
 * it. Expects JSON that JSON.parse accepted (the frame decoder checked it).
 */
export function dataPayloadText(json: string): string | undefined {
  let i = skipSpace(json, 0);
  const data = memberValue(json, i, 'data');
  if (data === undefined) return undefined;
  i = data;
  if (json[i] === '{') {
    const payload = memberValue(json, i, 'payload');
    return payload === undefined ? undefined : json.slice(payload, skipValue(json, payload));
  }
  if (json[i] !== '[') return undefined;
  i = skipSpace(json, i + 1);
  while (i < json.length && json[i] !== ']') {
    if (json[i] === '{') {
      const payload = memberValue(json, i, 'payload');
      if (payload !== undefined) return json.slice(payload, skipValue(json, payload));
    }
    i = skipSpace(json, skipValue(json, i));
    if (json[i] === ',') i = skipSpace(json, i + 1);
  }
  return undefined;
}

/** Where the value of member `key` of the object at `start` begins, if it has that member. */
function memberValue(json: string, start: number, key: string): number | undefined {
  if (json[start] !== '{') return undefined;
  let i = skipSpace(json, start + 1);
  while (i < json.length && json[i] === '"') {
    const keyEnd = skipValue(json, i);
    const name = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipSpace(json, keyEnd);
    if (json[i] !== ':') return undefined;
    i = skipSpace(json, i + 1);
    if (name === key) return i;
    i = skipSpace(json, skipValue(json, i));
    if (json[i] !== ',') return undefined;
    i = skipSpace(json, i + 1);
  }
  return undefined;
}

function skipSpace(json: string, i: number): number {
  while (i < json.length) {
    const c = json.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

/** The index after the JSON value starting at `start` (strings, nesting; scalars to a delimiter). */
function skipValue(json: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < json.length) {
    const c = json[i];
    if (c === '"') {
      i++;
      while (i < json.length && json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
      i++;
      if (depth === 0) return i;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === ',' || c === ' ' || c === '\t' || c === '\n' || c === '\r')) {
      return i;
    }
    i++;
  }
  return i;
}
