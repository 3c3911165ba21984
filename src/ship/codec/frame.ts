/**
 * SHIP message framing (SHIP §13.4.2): every binary WebSocket message is one SHIP message,
 *
 * ```
 * Message      = MessageType MessageValue
 * MessageType  = 1 octet: 0x00 init (CMI), 0x01 control, 0x02 data, 0x03 end
 * MessageValue = 1*octet: the CmiHead for init, UTF-8 EEBUS-JSON otherwise
 * ```
 *
 * {@link encodeMessage} writes exactly the bytes ship-go writes; {@link decodeMessage} reads what
 * real peers send, and reports everything else as a {@link DecodeError} instead of throwing.
 */
import type { DecodeError, DecodeErrorCode, DecodeResult, ShipMessage } from '../messages.js';
import { MessageType } from '../messages.js';
import {
  ACCESS_METHODS_REQUEST_JSON,
  CONTROL_DECODERS,
  decodeConnectionClose,
  decodeMessageProtocolHandshakeError,
  encodeAccessMethods,
  encodeConnectionClose,
  encodeConnectionHello,
  encodeConnectionPinError,
  encodeConnectionPinInput,
  encodeConnectionPinState,
  encodeMessageProtocolHandshake,
  encodeMessageProtocolHandshakeError,
} from './control.js';
import { dataPayloadText, decodeData, encodeDataJson } from './data.js';
import { isJsonObject } from '../../util/json-value.js';
import { FieldError, isUint } from './elements.js';
import { frameText } from './json-text.js';

/** Options of {@link decodeMessage}. */
export interface DecodeOptions {
  /**
   * Largest accepted message in bytes, type byte included; larger ones give `tooLarge`. Unset
   * means no codec limit: the WebSocket layer's `maxPayload` is the first line of defence (house
   * style, security defaults), this is the second. ship-go dev refuses more than 100 KiB.
   */
  maxBytes?: number;
  /**
   * Deepest nesting of JSON arrays and objects accepted, checked by a scan of the text before it
   * is parsed; deeper ones give `invalidJson`. Unset means no limit.
   */
  maxJsonDepth?: number;
}

/**
 * Encodes one SHIP message to the bytes of one binary WebSocket message (SHIP §13.4.2):
 * the type byte, then minified UTF-8 EEBUS-JSON in XSD element order with absent optional
 * elements omitted (SHIP §11.4), escaped like Go's json.Marshal so that the output is
 * byte-identical with ship-go. CMI is the two bytes `00 cmiHead`, normally `00 00` (SHIP §13.4.3).
 *
 * @throws TypeError for a model value no peer could accept (a bug of the caller, never of a peer).
 */
export function encodeMessage(message: ShipMessage): Uint8Array {
  switch (message.kind) {
    case 'init': {
      // SHIP §13.4.3: the CMI message is the type byte and exactly one CmiHead byte. Values other
      // than CMI_HEAD are allowed here so that tests can play a misbehaving peer.
      if (!isUint(message.cmiHead, 0xff)) {
        throw new TypeError('cannot encode init.cmiHead: must be an integer from 0 to 255');
      }
      return Uint8Array.of(MessageType.init, message.cmiHead);
    }
    case 'data':
      return frameText(MessageType.data, encodeDataJson(message.value));
    case 'connectionClose':
      // SHIP §13.4.2: connectionClose travels as message type 0x03 (end).
      return frameText(MessageType.end, encodeConnectionClose(message.value));
    case 'connectionHello':
      return frameText(MessageType.control, encodeConnectionHello(message.value));
    case 'messageProtocolHandshake':
      return frameText(MessageType.control, encodeMessageProtocolHandshake(message.value));
    case 'messageProtocolHandshakeError':
      return frameText(MessageType.control, encodeMessageProtocolHandshakeError(message.value));
    case 'connectionPinState':
      return frameText(MessageType.control, encodeConnectionPinState(message.value));
    case 'connectionPinInput':
      return frameText(MessageType.control, encodeConnectionPinInput(message.value));
    case 'connectionPinError':
      return frameText(MessageType.control, encodeConnectionPinError(message.value));
    case 'accessMethodsRequest':
      return frameText(MessageType.control, ACCESS_METHODS_REQUEST_JSON);
    case 'accessMethods':
      return frameText(MessageType.control, encodeAccessMethods(message.value));
  }
}

/**
 * A fatal UTF-8 decoder: invalid UTF-8 is a decode error, not silently replaced text. It skips
 * one leading BOM (`ignoreBOM: false`): SHIP forbids a BOM, but dropping it is harmless leniency.
 * Non-streaming `decode()` calls keep no state between messages, so one instance is shared.
 */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function failure(
  code: DecodeErrorCode,
  detail: string,
  typeByte?: number,
  element?: string,
): DecodeResult {
  const error: DecodeError = { code, detail };
  if (typeByte !== undefined) error.typeByte = typeByte;
  if (element !== undefined) error.element = element;
  return { ok: false, error };
}

function hexByte(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

/**
 * Decodes the bytes of one binary WebSocket message into a SHIP message. Never throws.
 *
 * Checks, in order:
 * - fewer than 2 bytes → `tooShort` (SHIP-TS-MSG-01: a message needs a MessageValue);
 * - more than `maxBytes` → `tooLarge`;
 * - a type byte above 0x03 → `unknownType` (SHIP-TS-MSG-02: the caller discards it or closes);
 * - type 0x00 → `init` with `cmiHead` = the second byte; further bytes are tolerated, as ship-go
 *   does (pitfall 25). Whether the CmiHead is acceptable is the handshake's decision (SHIP §13.4.3);
 * - otherwise the value must be UTF-8 JSON (`invalidJson`), an object with one known root element
 *   allowed for the type (`unknownMessage`), with valid fields (`invalidField`).
 *
 * Tolerated on input (SHIP §11.5 and the pitfalls of the protocol reference, §11): whitespace and
 * pretty printing (TC_SHIP_MSG_003), trailing 0x00 bytes after the JSON (Porsche PMCC), a UTF-8
 * BOM, plain-object JSON instead of EEBUS arrays, ship-go's root-less protocol handshake error
 * `{"error":N}`, `dns` as a string (SMA), free-text close reasons (ship-go v0.6), unknown extra
 * elements (ignored). `connectionClose` is also accepted with type 0x01, because ship-go accepts
 * it in any message type and a peer built the same way may send it so; type 0x03 carries only
 * `connectionClose`, type 0x02 only `data`, and type 0x01 never `data`.
 */
export function decodeMessage(bytes: Uint8Array, options?: DecodeOptions): DecodeResult {
  try {
    return decodeFrame(bytes, options);
  } catch (error: unknown) {
    // Every expected problem is reported explicitly below; reaching this is a codec bug, yet the
    // contract is "never throws": a peer must not be able to crash the connection driver.
    const text = error instanceof Error ? error.message : String(error);
    return failure('invalidField', `the message could not be decoded: ${text}`);
  }
}

function decodeFrame(bytes: Uint8Array, options: DecodeOptions | undefined): DecodeResult {
  const length = bytes.length;
  if (length < 2) {
    return failure(
      'tooShort',
      `a SHIP message needs a type byte and at least one value byte, got ${length} byte${length === 1 ? '' : 's'}`,
      bytes[0],
    );
  }
  const typeByte = bytes[0] as number;
  const maxBytes = options?.maxBytes;
  if (maxBytes !== undefined && length > maxBytes) {
    return failure(
      'tooLarge',
      `the message has ${length} bytes, more than the limit of ${maxBytes}`,
      typeByte,
    );
  }
  if (typeByte > MessageType.end) {
    return failure(
      'unknownType',
      `message type ${hexByte(typeByte)} is not one of init, control, data, end (0x00-0x03)`,
      typeByte,
    );
  }
  if (typeByte === MessageType.init) {
    return { ok: true, message: { kind: 'init', cmiHead: bytes[1] as number } };
  }

  // Porsche PMCC appends 0x00 bytes after the JSON; ship-go trims them since v0.6.0 (pitfall 2).
  let end = length;
  while (end > 1 && bytes[end - 1] === 0x00) end--;
  if (end === 1) {
    return failure('invalidJson', 'the message value holds only 0x00 bytes, no JSON', typeByte);
  }
  const maxJsonDepth = options?.maxJsonDepth;
  if (maxJsonDepth !== undefined && jsonDepthExceeds(bytes, 1, end, maxJsonDepth)) {
    return failure(
      'invalidJson',
      `the message value is nested deeper than ${maxJsonDepth} levels`,
      typeByte,
    );
  }
  let text: string;
  try {
    text = utf8Decoder.decode(bytes.subarray(1, end));
  } catch {
    return failure('invalidJson', 'the message value is not valid UTF-8', typeByte);
  }
  let json: unknown;
  try {
    // JSON.parse accepts the whitespace of pretty-printed JSON (TC_SHIP_MSG_003) and parses
    // deep nesting without recursion, so hostile nesting cannot overflow the stack here.
    json = JSON.parse(text);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message.slice(0, 120) : 'syntax error';
    return failure('invalidJson', `the message value is not valid JSON: ${reason}`, typeByte);
  }
  if (!isJsonObject(json)) {
    return failure(
      'unknownMessage',
      'the JSON value is not an object holding a SHIP root element',
      typeByte,
    );
  }
  return decodeRoot(typeByte, json);
}

/**
 * True if the JSON text in `bytes[start, end)` opens more than `maxDepth` arrays and objects at
 * once. Brackets inside strings do not count; the text need not be valid JSON (JSON.parse judges
 * that afterwards), so this only bounds the work the parser would do.
 */
function jsonDepthExceeds(
  bytes: Uint8Array,
  start: number,
  end: number,
  maxDepth: number,
): boolean {
  let depth = 0;
  let inString = false;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    if (inString) {
      if (byte === 0x5c)
        i++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Which decoders apply to a root element of a message of this type (SHIP §13.4.2). */
function rootDecoder(
  typeByte: number,
  element: string,
): ((value: unknown) => ShipMessage) | undefined {
  if (typeByte === MessageType.data) return element === 'data' ? decodeDataMessage : undefined;
  if (element === 'connectionClose') return decodeCloseMessage;
  return typeByte === MessageType.control ? CONTROL_DECODERS.get(element) : undefined;
}

function decodeDataMessage(value: unknown): ShipMessage {
  return { kind: 'data', value: decodeData(value) };
}

function decodeCloseMessage(value: unknown): ShipMessage {
  return { kind: 'connectionClose', value: decodeConnectionClose(value) };
}

/** Names of all root elements SHIP defines, for a precise "wrong message type" detail. */
function isShipRoot(element: string): boolean {
  return element === 'data' || element === 'connectionClose' || CONTROL_DECODERS.has(element);
}

const TYPE_NAMES = ['init', 'control', 'data', 'end'] as const;

function decodeRoot(typeByte: number, json: Record<string, unknown>): DecodeResult {
  const keys = Object.keys(json);
  let element: string | undefined;
  let decode: ((value: unknown) => ShipMessage) | undefined;
  for (const key of keys) {
    const candidate = rootDecoder(typeByte, key);
    if (candidate === undefined) continue;
    if (element !== undefined) {
      // SHIP §13.4.2: one message carries one message. Two roots are not a message we know.
      return failure(
        'unknownMessage',
        `the message holds two root elements, ${element} and ${key}`,
        typeByte,
        element,
      );
    }
    element = key;
    decode = candidate;
  }
  if (element === undefined || decode === undefined) {
    return unknownRoot(typeByte, json, keys);
  }
  try {
    return { ok: true, message: decode(json[element]) };
  } catch (error: unknown) {
    if (error instanceof FieldError) {
      return failure('invalidField', error.detail, typeByte, element);
    }
    throw error;
  }
}

function unknownRoot(
  typeByte: number,
  json: Record<string, unknown>,
  keys: readonly string[],
): DecodeResult {
  // Pitfall 8: ship-go sends its protocol handshake error without the root element, `{"error":3}`.
  if (typeByte === MessageType.control && Object.prototype.hasOwnProperty.call(json, 'error')) {
    const element = 'messageProtocolHandshakeError';
    try {
      return {
        ok: true,
        message: { kind: element, value: decodeMessageProtocolHandshakeError(json) },
      };
    } catch (error: unknown) {
      if (error instanceof FieldError) {
        return failure('invalidField', error.detail, typeByte, element);
      }
      throw error;
    }
  }
  const typeName = TYPE_NAMES[typeByte] ?? hexByte(typeByte);
  const firstKey = keys[0];
  if (firstKey === undefined) {
    return failure('unknownMessage', 'the JSON object holds no root element', typeByte);
  }
  const misplaced = keys.find(isShipRoot);
  if (misplaced !== undefined) {
    return failure(
      'unknownMessage',
      `${misplaced} is not allowed in a ${typeName} message (type ${hexByte(typeByte)})`,
      typeByte,
      misplaced,
    );
  }
  // The name is chosen by the peer and goes into logs: cap it.
  const first = firstKey.length > 64 ? `${firstKey.slice(0, 64)}…` : firstKey;
  return failure('unknownMessage', `${first} is not a SHIP ${typeName} message`, typeByte, first);
}

/**
 * The payload text of a received SHIP `data` message (type byte 0x02), exactly as it was on the
 * wire (see {@link dataPayloadText}): for protocols that must read numbers JSON.parse would round
 * (SPINE's uint64 counters). Trailing 0x00 bytes are trimmed as in {@link decodeMessage};
 * undefined for other messages and for bytes decodeMessage would refuse.
 */
export function dataMessagePayloadText(bytes: Uint8Array): string | undefined {
  if (bytes.length < 2 || bytes[0] !== MessageType.data) return undefined;
  let end = bytes.length;
  while (end > 1 && bytes[end - 1] === 0x00) end--;
  try {
    return dataPayloadText(utf8Decoder.decode(bytes.subarray(1, end)));
  } catch {
    return undefined;
  }
}
