/**
 * The SHIP control messages (message type 0x01, SHIP §13.4.4 and §13.4.6) and `connectionClose`
 * (message type 0x03, SHIP §13.4.7): JSON text out, model in.
 *
 * Encoders write EEBUS-JSON exactly as ship-go does (minified, XSD element order, optional elements
 * omitted; SHIP §11.4), by string concatenation: the shapes are fixed, so a generic converter would
 * only cost time. They refuse (TypeError) a model value that no peer could accept, because that is
 * a bug on our side (house style: throwing is for programmer errors).
 *
 * Decoders read the value of the root element leniently (see ./elements.ts) and check every value
 * against the SHIP XSD, throwing FieldError for the frame decoder to report as `invalidField`.
 */
import type {
  AccessMethods,
  ClosePhase,
  ConnectionClose,
  ConnectionHello,
  ConnectionPinError,
  ConnectionPinInput,
  ConnectionPinState,
  HandshakeType,
  HelloPhase,
  MessageProtocolHandshake,
  MessageProtocolHandshakeError,
  PinInputPermission,
  PinStateValue,
  ShipMessage,
} from '../messages.js';
import {
  FieldError,
  PIN_PATTERN,
  UINT16_MAX,
  UINT32_MAX,
  UINT8_MAX,
  isUint,
  optionalBoolean,
  optionalChild,
  optionalEnum,
  optionalString,
  optionalUint,
  readChildren,
  requiredChild,
  requiredEnum,
  requiredString,
  requiredUint,
} from './elements.js';
import { isJsonObject } from '../../util/json-value.js';
import { jsonString } from './json-text.js';

/** `connectionHello.phase` values (SHIP §13.4.4.1). */
const HELLO_PHASES: readonly HelloPhase[] = ['pending', 'ready', 'aborted'];
/** `messageProtocolHandshake.handshakeType` values (SHIP §13.4.4.2). */
const HANDSHAKE_TYPES: readonly HandshakeType[] = ['announceMax', 'select'];
/** `connectionPinState.pinState` values (SHIP §13.4.4.3). */
const PIN_STATES: readonly PinStateValue[] = ['required', 'optional', 'pinOk', 'none'];
/** `connectionPinState.inputPermission` values (SHIP §13.4.4.3). */
const PIN_PERMISSIONS: readonly PinInputPermission[] = ['busy', 'ok'];
/** `connectionClose.phase` values (SHIP §13.4.7). */
const CLOSE_PHASES: readonly ClosePhase[] = ['announce', 'confirm'];

// ---------------------------------------------------------------------------------------------
// Encode-side checks: a model value we would send must be one a strict peer accepts.

function refuse(path: string, problem: string): never {
  throw new TypeError(`cannot encode ${path}: ${problem}`);
}

function checkEnum(value: string, allowed: readonly string[], path: string): void {
  if (!allowed.includes(value)) refuse(path, `must be one of ${allowed.join(', ')}`);
}

function checkUint(value: number, max: number, path: string): void {
  if (!isUint(value, max)) refuse(path, `must be an integer from 0 to ${max}`);
}

function checkString(value: string, path: string): void {
  if (typeof value !== 'string') refuse(path, 'must be a string');
}

// ---------------------------------------------------------------------------------------------
// connectionHello (SHIP §13.4.4.1)

/** `{"connectionHello":[{"phase":…},{"waiting":…}?,{"prolongationRequest":…}?]}` */
export function encodeConnectionHello(value: ConnectionHello): string {
  checkEnum(value.phase, HELLO_PHASES, 'connectionHello.phase');
  // The enum values need no escaping, so they are written between quotes directly.
  let json = `{"connectionHello":[{"phase":"${value.phase}"}`;
  // SHIP §11.4 / pitfall 4: an absent optional element is omitted, never defaulted to 0 or false.
  // An explicit value in the model is written as given, so test tools can reproduce peers that
  // send `"waiting":0`; the handshake machine simply never sets one it does not mean.
  if (value.waiting !== undefined) {
    checkUint(value.waiting, UINT32_MAX, 'connectionHello.waiting');
    json += `,{"waiting":${value.waiting}}`;
  }
  if (value.prolongationRequest !== undefined) {
    if (typeof value.prolongationRequest !== 'boolean') {
      refuse('connectionHello.prolongationRequest', 'must be true or false');
    }
    json += `,{"prolongationRequest":${value.prolongationRequest}}`;
  }
  return `${json}]}`;
}

/** Decodes the value of `connectionHello`. */
export function decodeConnectionHello(value: unknown): ConnectionHello {
  const path = 'connectionHello';
  const children = readChildren(path, value);
  const hello: ConnectionHello = {
    phase: requiredEnum(children, path, 'phase', HELLO_PHASES),
  };
  // xs:unsignedInt milliseconds (SHIP §13.4.4.1). Whether a small value is acceptable is the
  // handshake's decision (ship-go aborts below 1000 ms), not the codec's.
  const waiting = optionalUint(children, path, 'waiting', UINT32_MAX);
  if (waiting !== undefined) hello.waiting = waiting;
  const prolongationRequest = optionalBoolean(children, path, 'prolongationRequest');
  if (prolongationRequest !== undefined) hello.prolongationRequest = prolongationRequest;
  return hello;
}

// ---------------------------------------------------------------------------------------------
// messageProtocolHandshake (SHIP §13.4.4.2)

/**
 * `{"messageProtocolHandshake":[{"handshakeType":…},{"version":[{"major":…},{"minor":…}]},
 * {"formats":[{"format":[…]}]}]}`: `format` is a repeated simple element, hence a flat array
 * inside the `formats` sequence (SHIP §11.4).
 */
export function encodeMessageProtocolHandshake(value: MessageProtocolHandshake): string {
  const path = 'messageProtocolHandshake';
  checkEnum(value.handshakeType, HANDSHAKE_TYPES, `${path}.handshakeType`);
  checkUint(value.version.major, UINT16_MAX, `${path}.version.major`);
  checkUint(value.version.minor, UINT16_MAX, `${path}.version.minor`);
  if (!Array.isArray(value.formats) || value.formats.length === 0) {
    refuse(`${path}.formats`, 'must list at least one format');
  }
  let formats = '';
  for (const format of value.formats) {
    checkString(format, `${path}.formats.format`);
    formats += formats === '' ? jsonString(format) : `,${jsonString(format)}`;
  }
  return (
    `{"messageProtocolHandshake":[{"handshakeType":"${value.handshakeType}"},` +
    `{"version":[{"major":${value.version.major}},{"minor":${value.version.minor}}]},` +
    `{"formats":[{"format":[${formats}]}]}]}`
  );
}

/** Decodes the value of `messageProtocolHandshake`. */
export function decodeMessageProtocolHandshake(value: unknown): MessageProtocolHandshake {
  const path = 'messageProtocolHandshake';
  const children = readChildren(path, value);
  const handshakeType = requiredEnum(children, path, 'handshakeType', HANDSHAKE_TYPES);
  const versionPath = `${path}.version`;
  const version = readChildren(versionPath, requiredChild(children, path, 'version'));
  // xs:unsignedShort in the XSD. ship-go reads them as uint8, but the range check belongs to the
  // schema; the version negotiation rejects what it does not support.
  const major = requiredUint(version, versionPath, 'major', UINT16_MAX);
  const minor = requiredUint(version, versionPath, 'minor', UINT16_MAX);
  const formatsPath = `${path}.formats`;
  const formatsChildren = readChildren(formatsPath, requiredChild(children, path, 'formats'));
  const formats: string[] = [];
  // `format` is maxOccurs > 1: the EEBUS-JSON form is one flat array, but a converter that wrote
  // each occurrence separately, or a single string, means the same list.
  for (const occurrence of formatsChildren.get('format') ?? []) {
    if (typeof occurrence === 'string') {
      formats.push(occurrence);
    } else if (Array.isArray(occurrence)) {
      for (const format of occurrence as unknown[]) {
        if (typeof format !== 'string') {
          throw new FieldError(`${formatsPath}.format must hold strings only`);
        }
        formats.push(format);
      }
    } else {
      throw new FieldError(`${formatsPath}.format must be a string or a list of strings`);
    }
  }
  if (formats.length === 0) {
    throw new FieldError(`${formatsPath} must list at least one format`);
  }
  return { handshakeType, version: { major, minor }, formats };
}

// ---------------------------------------------------------------------------------------------
// messageProtocolHandshakeError (SHIP §13.4.4.2)

/**
 * `{"messageProtocolHandshakeError":[{"error":…}]}`: we send the XSD form. ship-go sends the
 * value without its root (`{"error":3}`), which the decoder accepts as well.
 */
export function encodeMessageProtocolHandshakeError(value: MessageProtocolHandshakeError): string {
  checkUint(value.error, UINT8_MAX, 'messageProtocolHandshakeError.error');
  return `{"messageProtocolHandshakeError":[{"error":${value.error}}]}`;
}

/** Decodes the value of `messageProtocolHandshakeError` (or ship-go's root-less object). */
export function decodeMessageProtocolHandshakeError(value: unknown): MessageProtocolHandshakeError {
  const path = 'messageProtocolHandshakeError';
  const children = readChildren(path, value);
  return { error: requiredUint(children, path, 'error', UINT8_MAX) };
}

// ---------------------------------------------------------------------------------------------
// connectionPinState, connectionPinInput, connectionPinError (SHIP §13.4.4.3)

/** `{"connectionPinState":[{"pinState":…},{"inputPermission":…}?]}` */
export function encodeConnectionPinState(value: ConnectionPinState): string {
  checkEnum(value.pinState, PIN_STATES, 'connectionPinState.pinState');
  let json = `{"connectionPinState":[{"pinState":"${value.pinState}"}`;
  if (value.inputPermission !== undefined) {
    checkEnum(value.inputPermission, PIN_PERMISSIONS, 'connectionPinState.inputPermission');
    json += `,{"inputPermission":"${value.inputPermission}"}`;
  }
  return `${json}]}`;
}

/** Decodes the value of `connectionPinState`. */
export function decodeConnectionPinState(value: unknown): ConnectionPinState {
  const path = 'connectionPinState';
  const children = readChildren(path, value);
  const state: ConnectionPinState = {
    pinState: requiredEnum(children, path, 'pinState', PIN_STATES),
  };
  const inputPermission = optionalEnum(children, path, 'inputPermission', PIN_PERMISSIONS);
  if (inputPermission !== undefined) state.inputPermission = inputPermission;
  return state;
}

/** `{"connectionPinInput":[{"pin":…}]}` */
export function encodeConnectionPinInput(value: ConnectionPinInput): string {
  if (typeof value.pin !== 'string' || !PIN_PATTERN.test(value.pin)) {
    refuse('connectionPinInput.pin', 'must be 8 to 16 hexadecimal digits');
  }
  return `{"connectionPinInput":[{"pin":"${value.pin}"}]}`;
}

/** Decodes the value of `connectionPinInput`. */
export function decodeConnectionPinInput(value: unknown): ConnectionPinInput {
  const path = 'connectionPinInput';
  const pin = requiredString(readChildren(path, value), path, 'pin');
  if (!PIN_PATTERN.test(pin)) {
    // The PIN itself is a secret: the detail says what is wrong without repeating it.
    throw new FieldError(
      `${path}.pin must be 8 to 16 hexadecimal digits (got ${pin.length} characters)`,
    );
  }
  return { pin };
}

/** `{"connectionPinError":[{"error":…}]}` */
export function encodeConnectionPinError(value: ConnectionPinError): string {
  checkUint(value.error, UINT8_MAX, 'connectionPinError.error');
  return `{"connectionPinError":[{"error":${value.error}}]}`;
}

/** Decodes the value of `connectionPinError`. */
export function decodeConnectionPinError(value: unknown): ConnectionPinError {
  const path = 'connectionPinError';
  return { error: requiredUint(readChildren(path, value), path, 'error', UINT8_MAX) };
}

// ---------------------------------------------------------------------------------------------
// accessMethodsRequest, accessMethods (SHIP §13.4.6)

/** `{"accessMethodsRequest":[]}`: an empty complex element is `[]` (SHIP §11.4.6 rule 4). */
export const ACCESS_METHODS_REQUEST_JSON = '{"accessMethodsRequest":[]}';

/** Checks that the value of `accessMethodsRequest` is an element; its children are ignored. */
export function decodeAccessMethodsRequest(value: unknown): void {
  readChildren('accessMethodsRequest', value);
}

/** `{"accessMethods":[{"id":…},{"dnsSd_mDns":[]}?,{"dns":[{"uri":…}]}?]}` */
export function encodeAccessMethods(value: AccessMethods): string {
  checkString(value.id, 'accessMethods.id');
  let json = `{"accessMethods":[{"id":${jsonString(value.id)}}`;
  // `dnsSd_mDns` is an empty element: present means "reachable via mDNS/DNS-SD"; there is no way
  // to write false, so false and absent are both omitted.
  if (value.dnsSdMdns === true) json += ',{"dnsSd_mDns":[]}';
  if (value.dnsUri !== undefined) {
    checkString(value.dnsUri, 'accessMethods.dns.uri');
    json += `,{"dns":[{"uri":${jsonString(value.dnsUri)}}]}`;
  }
  return `${json}]}`;
}

/** Decodes the value of `accessMethods`. */
export function decodeAccessMethods(value: unknown): AccessMethods {
  const path = 'accessMethods';
  const children = readChildren(path, value);
  // Whether the id matches the one known for this SKI is the handshake's check (SHIP §13.4.6).
  const methods: AccessMethods = { id: requiredString(children, path, 'id') };
  const mdns = optionalChild(children, path, 'dnsSd_mDns');
  // The XSD form is the empty element (`[]`); a plain-JSON sender may write `{}` or true.
  if (mdns === true || Array.isArray(mdns) || isJsonObject(mdns)) {
    methods.dnsSdMdns = true;
  } else if (mdns !== undefined && mdns !== false) {
    throw new FieldError(`${path}.dnsSd_mDns must be an empty element (got a ${typeof mdns})`);
  }
  const dns = optionalChild(children, path, 'dns');
  if (typeof dns === 'string') {
    // Pitfall 7: SMA Sunny Home Manager 2.0 (older firmware) sends `dns` as a plain string.
    methods.dnsUri = dns;
  } else if (dns !== undefined) {
    const uri = optionalString(readChildren(`${path}.dns`, dns), `${path}.dns`, 'uri');
    // `uri` is required inside `dns` by the XSD, but nothing depends on it: a `dns` without it
    // is read as "no DNS access method" rather than failing the whole message.
    if (uri !== undefined) methods.dnsUri = uri;
  }
  return methods;
}

// ---------------------------------------------------------------------------------------------
// connectionClose (SHIP §13.4.7)

/** `{"connectionClose":[{"phase":…},{"maxTime":…}?,{"reason":…}?]}` */
export function encodeConnectionClose(value: ConnectionClose): string {
  checkEnum(value.phase, CLOSE_PHASES, 'connectionClose.phase');
  let json = `{"connectionClose":[{"phase":"${value.phase}"}`;
  if (value.maxTime !== undefined) {
    checkUint(value.maxTime, UINT32_MAX, 'connectionClose.maxTime');
    json += `,{"maxTime":${value.maxTime}}`;
  }
  if (value.reason !== undefined) {
    checkString(value.reason, 'connectionClose.reason');
    json += `,{"reason":${jsonString(value.reason)}}`;
  }
  return `${json}]}`;
}

/** Decodes the value of `connectionClose`. */
export function decodeConnectionClose(value: unknown): ConnectionClose {
  const path = 'connectionClose';
  const children = readChildren(path, value);
  const close: ConnectionClose = { phase: requiredEnum(children, path, 'phase', CLOSE_PHASES) };
  const maxTime = optionalUint(children, path, 'maxTime', UINT32_MAX);
  if (maxTime !== undefined) close.maxTime = maxTime;
  // Pitfall 9: ship-go v0.6 writes free text ("User close", Go error strings) where the XSD has
  // the enumeration unspecific/removedConnection; any string is kept so the announce is honoured.
  const reason = optionalString(children, path, 'reason');
  if (reason !== undefined) close.reason = reason;
  return close;
}

// ---------------------------------------------------------------------------------------------
// Root element table for message type 0x01

/**
 * Decoders of the root elements a control message (type 0x01) may carry (SHIP §13.4.2), keyed by
 * element name. A Map, so that peer-chosen names like `constructor` or `__proto__` never hit a
 * prototype.
 */
export const CONTROL_DECODERS: ReadonlyMap<string, (value: unknown) => ShipMessage> = new Map<
  string,
  (value: unknown) => ShipMessage
>([
  ['connectionHello', (v) => ({ kind: 'connectionHello', value: decodeConnectionHello(v) })],
  [
    'messageProtocolHandshake',
    (v) => ({ kind: 'messageProtocolHandshake', value: decodeMessageProtocolHandshake(v) }),
  ],
  [
    'messageProtocolHandshakeError',
    (v) => ({
      kind: 'messageProtocolHandshakeError',
      value: decodeMessageProtocolHandshakeError(v),
    }),
  ],
  [
    'connectionPinState',
    (v) => ({ kind: 'connectionPinState', value: decodeConnectionPinState(v) }),
  ],
  [
    'connectionPinInput',
    (v) => ({ kind: 'connectionPinInput', value: decodeConnectionPinInput(v) }),
  ],
  [
    'connectionPinError',
    (v) => ({ kind: 'connectionPinError', value: decodeConnectionPinError(v) }),
  ],
  [
    'accessMethodsRequest',
    (v) => {
      decodeAccessMethodsRequest(v);
      return { kind: 'accessMethodsRequest' };
    },
  ],
  ['accessMethods', (v) => ({ kind: 'accessMethods', value: decodeAccessMethods(v) })],
]);
