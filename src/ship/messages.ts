/**
 * Typed model of every SHIP message (SHIP §13.4, XSD `EEBus_SHIP_TS_TransferProtocol.xsd` 1.0.1),
 * as plain objects. The codec (./codec) turns these into wire bytes and back; the handshake
 * machine (./handshake) only ever sees this model.
 */

/** SHIP message types, the first byte of every WebSocket message (SHIP §13.4.2). */
export const MessageType = {
  init: 0x00,
  control: 0x01,
  data: 0x02,
  end: 0x03,
} as const;
export type MessageTypeByte = (typeof MessageType)[keyof typeof MessageType];

/** The only CmiHead value SHIP 1.0 defines (SHIP §13.4.3). */
export const CMI_HEAD = 0x00;

/** SPINE's protocol id in the data header (SHIP §14). */
export const PROTOCOL_ID_SPINE = 'ee1.0';

/** The only format every SHIP node must support (SHIP-TS-PROT-01). */
export const FORMAT_JSON_UTF8 = 'JSON-UTF8';

export type HelloPhase = 'pending' | 'ready' | 'aborted';

/** `connectionHello` (SHIP §13.4.4.1). `waiting` is the sender's remaining WFR time in ms. */
export interface ConnectionHello {
  phase: HelloPhase;
  waiting?: number;
  prolongationRequest?: boolean;
}

export interface ProtocolVersion {
  major: number;
  minor: number;
}

export type HandshakeType = 'announceMax' | 'select';

/** `messageProtocolHandshake` (SHIP §13.4.4.2). */
export interface MessageProtocolHandshake {
  handshakeType: HandshakeType;
  version: ProtocolVersion;
  formats: string[];
}

/** Protocol handshake error values (SHIP §13.4.4.2). */
export const ProtocolHandshakeErrorCode = {
  rfu: 0,
  timeout: 1,
  unexpectedMessage: 2,
  selectionMismatch: 3,
} as const;

/** `messageProtocolHandshakeError`. ship-go sends it without its root element (`{"error":3}`). */
export interface MessageProtocolHandshakeError {
  error: number;
}

export type PinStateValue = 'required' | 'optional' | 'pinOk' | 'none';
export type PinInputPermission = 'busy' | 'ok';

/** `connectionPinState` (SHIP §13.4.4.3). */
export interface ConnectionPinState {
  pinState: PinStateValue;
  inputPermission?: PinInputPermission;
}

/** `connectionPinInput`: 8 to 16 hexadecimal digits. */
export interface ConnectionPinInput {
  pin: string;
}

/** `connectionPinError`; 1 = wrong PIN. */
export interface ConnectionPinError {
  error: number;
}

/** `accessMethods` (SHIP §13.4.6). `dns` is an object with `uri`, or a string (SMA quirk). */
export interface AccessMethods {
  id: string;
  /** Present (true) when the sender is reachable through mDNS/DNS-SD (`dnsSd_mDns` element). */
  dnsSdMdns?: boolean;
  /** The `dns.uri` element. */
  dnsUri?: string;
}

/** The optional `extension` element of a data message. */
export interface DataExtension {
  extensionId?: string;
  binary?: string;
  string?: string;
}

/**
 * `data` (SHIP §13.4.5). `payload` is the JSON value of the `payload` element exactly as on the
 * wire; for SPINE it is `{"datagram":[...EEBUS-JSON...]}`.
 */
export interface DataMessage {
  protocolId: string;
  payload: unknown;
  extension?: DataExtension;
}

export type ClosePhase = 'announce' | 'confirm';
/** Schema values of `connectionClose.reason`; ship-go v0.6 sends free text, so any string is read. */
export type CloseReason = 'unspecific' | 'removedConnection';

/** `connectionClose` (SHIP §13.4.7). */
export interface ConnectionClose {
  phase: ClosePhase;
  maxTime?: number;
  reason?: string;
}

/** One SHIP message, discriminated by `kind`. */
export type ShipMessage =
  | { kind: 'init'; cmiHead: number }
  | { kind: 'connectionHello'; value: ConnectionHello }
  | { kind: 'messageProtocolHandshake'; value: MessageProtocolHandshake }
  | { kind: 'messageProtocolHandshakeError'; value: MessageProtocolHandshakeError }
  | { kind: 'connectionPinState'; value: ConnectionPinState }
  | { kind: 'connectionPinInput'; value: ConnectionPinInput }
  | { kind: 'connectionPinError'; value: ConnectionPinError }
  | { kind: 'accessMethodsRequest' }
  | { kind: 'accessMethods'; value: AccessMethods }
  | { kind: 'data'; value: DataMessage }
  | { kind: 'connectionClose'; value: ConnectionClose };

export type ShipMessageKind = ShipMessage['kind'];

/** Why a received message could not be decoded. */
export type DecodeErrorCode =
  /** Fewer than 2 bytes: a message needs a type and at least one value byte (SHIP-TS-MSG-01). */
  | 'tooShort'
  /** A message type other than 0..3 (SHIP-TS-MSG-02: discard or close). */
  | 'unknownType'
  /** The value is not UTF-8 JSON. */
  | 'invalidJson'
  /** JSON, but not a message this SHIP version knows for that message type. */
  | 'unknownMessage'
  /** A known message whose fields are missing or of the wrong type or value. */
  | 'invalidField'
  /** Larger than the configured limit. */
  | 'tooLarge';

export interface DecodeError {
  code: DecodeErrorCode;
  /** The message type byte, if there was one. */
  typeByte?: number;
  /** The root element, if it could be read. */
  element?: string;
  /** Plain words: what was wrong. */
  detail: string;
}

export type DecodeResult = { ok: true; message: ShipMessage } | { ok: false; error: DecodeError };
