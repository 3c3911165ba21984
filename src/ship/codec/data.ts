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
  const payload = JSON.stringify(value.payload) as string | undefined;
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
