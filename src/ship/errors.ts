/**
 * Error taxonomy (house style, after matter.js): who is at fault decides the class, every error
 * has a stable `SHIPHUB_ERR_*` code (listed in docs/errors.md) and may carry what goes on the
 * wire. Inside the pure core a peer fault is never thrown: it becomes a close effect plus an
 * error event; throwing is for programmer errors and for the layers around the core.
 */

export type ShipHubErrorCode =
  // peer faults (ProtocolError)
  | 'SHIPHUB_ERR_CMI_INVALID'
  | 'SHIPHUB_ERR_HELLO_INVALID'
  | 'SHIPHUB_ERR_HELLO_ABORTED_BY_PEER'
  | 'SHIPHUB_ERR_PROTOCOL_UNEXPECTED'
  | 'SHIPHUB_ERR_PROTOCOL_MISMATCH'
  | 'SHIPHUB_ERR_PROTOCOL_PEER_ERROR'
  | 'SHIPHUB_ERR_PIN_UNSUPPORTED'
  | 'SHIPHUB_ERR_PIN_WRONG'
  | 'SHIPHUB_ERR_PIN_INVALID'
  | 'SHIPHUB_ERR_ACCESS_METHODS_INVALID'
  | 'SHIPHUB_ERR_SHIP_ID_MISMATCH'
  | 'SHIPHUB_ERR_MESSAGE_INVALID'
  | 'SHIPHUB_ERR_FRAME_INVALID'
  // trust
  | 'SHIPHUB_ERR_TRUST_DENIED'
  | 'SHIPHUB_ERR_REMOTE_DENIED_TRUST'
  | 'SHIPHUB_ERR_SKI_MISMATCH'
  | 'SHIPHUB_ERR_CERT_INVALID'
  | 'SHIPHUB_ERR_SELF_CONNECTION'
  // timeouts
  | 'SHIPHUB_ERR_CMI_TIMEOUT'
  | 'SHIPHUB_ERR_HELLO_TIMEOUT'
  | 'SHIPHUB_ERR_PROTOCOL_TIMEOUT'
  | 'SHIPHUB_ERR_PIN_TIMEOUT'
  | 'SHIPHUB_ERR_ACCESS_METHODS_TIMEOUT'
  | 'SHIPHUB_ERR_CLOSE_TIMEOUT'
  | 'SHIPHUB_ERR_PONG_TIMEOUT'
  | 'SHIPHUB_ERR_CONNECT_TIMEOUT'
  // transport / local
  | 'SHIPHUB_ERR_TRANSPORT'
  | 'SHIPHUB_ERR_CONNECTION_LOST'
  | 'SHIPHUB_ERR_CONNECTION_LIMIT'
  | 'SHIPHUB_ERR_DOUBLE_CONNECTION'
  | 'SHIPHUB_ERR_NOT_READY'
  | 'SHIPHUB_ERR_CLOSED'
  | 'SHIPHUB_ERR_CONFIG'
  | 'SHIPHUB_ERR_STORAGE'
  // operations: persisted files, admin API and its client
  | 'SHIPHUB_ERR_STORE_INVALID'
  | 'SHIPHUB_ERR_LOCKED'
  | 'SHIPHUB_ERR_SKI_INVALID'
  | 'SHIPHUB_ERR_BAD_REQUEST'
  | 'SHIPHUB_ERR_NOT_FOUND'
  | 'SHIPHUB_ERR_UNAUTHORIZED'
  | 'SHIPHUB_ERR_DAEMON_UNREACHABLE'
  | 'SHIPHUB_ERR_INTERNAL';

export interface ShipHubErrorOptions {
  cause?: unknown;
  /** WebSocket close code sent (or to send) because of this error. */
  closeCode?: number;
  /** Handshake phase in which it happened. */
  phase?: string;
  /** What the person in front of the device can do about it. */
  hint?: string;
}

export class ShipHubError extends Error {
  readonly code: ShipHubErrorCode;
  readonly closeCode: number | undefined;
  readonly phase: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ShipHubErrorCode, message: string, options: ShipHubErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.closeCode = options.closeCode;
    this.phase = options.phase;
    this.hint = options.hint;
  }
}

/** The peer sent something SHIP does not allow. */
export class ProtocolError extends ShipHubError {}
/** The peer's identity is unknown, revoked, denied or does not match. */
export class TrustError extends ShipHubError {}
/** A SHIP or transport timer expired. */
export class TimeoutError extends ShipHubError {}
/** The configuration is invalid. */
export class ConfigError extends ShipHubError {}
/** Sockets, TLS or WebSocket failed. */
export class TransportError extends ShipHubError {}
/** A bug of ours. */
export class InternalError extends ShipHubError {}
