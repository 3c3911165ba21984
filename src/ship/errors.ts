/**
 * The failure table of the SHIP core and its transport: for every code the protocol core, the
 * transport driver and the dial/accept path produce, who is at fault (the error class), what goes
 * on the wire when it ends a connection (SHIP defines no close codes of its own; see
 * ./close-codes.ts), the metric label and the operator hint. Inside the pure core a peer fault is
 * never thrown: it becomes a close effect plus a `closed` event carrying an SmeFailure; the layers
 * around the core turn that into an error object with `failureError()`.
 *
 * The classes themselves live in src/util/errors.ts (every layer throws them); the codes of local
 * state and of the admin API are in src/util/errors.ts and src/ops/errors.ts.
 */
import {
  ERROR_CLASSES,
  type ErrorCode,
  type FailureClose,
  type FailureInfo,
  type ShipHubError,
  type ShipHubErrorOptions,
} from '../util/errors.js';
import { CloseCode, CloseReasonText } from './close-codes.js';

export {
  ConfigError,
  InternalError,
  ProtocolError,
  ShipHubError,
  TimeoutError,
  TransportError,
  TrustError,
  type ErrorClassName,
  type ErrorCode,
  type FailureClose,
  type FailureInfo,
  type FailureSection,
  type ShipHubErrorOptions,
} from '../util/errors.js';

/** Closing with 4001 and a fixed reason: the usual end of a handshake error (ship-go). */
function shipClose(reason: string | undefined): FailureClose {
  return { code: CloseCode.shipClose, reason };
}

/** The hello abort procedure ends with 4452 "Node rejected by application" (SHIP §13.4.4.1). */
const HELLO_ABORT_CLOSE: FailureClose = {
  code: CloseCode.rejected,
  reason: CloseReasonText.rejected,
};

const FIRMWARE = 'Firmware issue of the device.';

export const SHIP_FAILURES = {
  // Peer faults -------------------------------------------------------------------------------
  SHIPHUB_ERR_CMI_INVALID: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose('invalid CMI'),
    metricLabel: 'protocol',
    meaning:
      'The connection mode initialisation (SHIP §13.4.3) was not `00 00`: the peer does not speak SHIP 1.0 or is not a SHIP node.',
    hint: 'Check that the address/port belong to a SHIP device.',
  },
  SHIPHUB_ERR_HELLO_INVALID: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: HELLO_ABORT_CLOSE,
    metricLabel: 'protocol',
    meaning:
      'Invalid or unexpected message in the ConnectionHello phase (SHIP §13.4.4.1), e.g. a wrong message type or a prolongation request below the minimum waiting time. We send hello `aborted` and close 1 s later.',
    hint: 'Usually a firmware issue of the device; update it or report to the vendor.',
  },
  SHIPHUB_ERR_PROTOCOL_UNEXPECTED: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose(undefined),
    metricLabel: 'protocol',
    meaning:
      'Unexpected message during the protocol handshake (SHIP §13.4.4.2), e.g. `select` before `announceMax`. We answer with messageProtocolHandshakeError first.',
    hint: FIRMWARE,
  },
  SHIPHUB_ERR_PROTOCOL_MISMATCH: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose(undefined),
    metricLabel: 'protocol',
    meaning:
      'No common SHIP version / format: the peer does not offer SHIP 1.0 with JSON-UTF8 (SHIP §13.4.4.2).',
    hint: 'The device needs a SHIP 1.0 compatible firmware.',
  },
  SHIPHUB_ERR_PROTOCOL_PEER_ERROR: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose('protocol handshake error'),
    metricLabel: 'protocol',
    meaning: 'The peer ended the protocol handshake with an error value.',
    hint: "See the device's log; usually a version mismatch on its side.",
  },
  SHIPHUB_ERR_PIN_UNSUPPORTED: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose('PIN required'),
    metricLabel: 'pin',
    meaning:
      'PIN verification (SHIP §13.4.4.3) is required by the peer but no PIN is configured for it (also logged as a warning when an optional PIN is skipped).',
    hint: 'Configure the PIN printed on the device for its SKI.',
  },
  SHIPHUB_ERR_PIN_WRONG: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose('wrong PIN'),
    metricLabel: 'pin',
    meaning:
      'A PIN was wrong: the peer refused ours, or it entered a wrong one too often (lockout).',
    hint: 'Check the PIN configured for this device.',
  },
  SHIPHUB_ERR_PIN_INVALID: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: {
      code: CloseCode.shipClose,
      reason: 'unexpected message',
      undecodableReason: 'invalid message',
    },
    metricLabel: 'protocol',
    meaning:
      'Malformed or unexpected message during PIN verification (SHIP §13.4.4.3); a PIN nobody asked for is ignored with a warning.',
    hint: FIRMWARE,
  },
  SHIPHUB_ERR_MESSAGE_INVALID: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: shipClose('too many invalid messages'),
    metricLabel: 'protocol',
    meaning:
      'A SHIP message does not match the schema, or arrives where it is not allowed (e.g. data with an unknown protocolId). During data exchange it is ignored with a warning; the connection is closed only when `maxInvalidMessages` is exceeded.',
    hint: 'Firmware issue of the device if frequent.',
  },
  SHIPHUB_ERR_FRAME_INVALID: {
    errorClass: 'ProtocolError',
    section: 'peer',
    close: { code: CloseCode.unsupportedData, reason: 'text frames are not allowed' },
    metricLabel: 'protocol',
    meaning:
      'A WebSocket text frame arrived; SHIP allows binary frames only (SHIP §10.3). Malformed SHIP frames inside binary frames are reported with the code of the phase they arrive in.',
    hint: FIRMWARE,
  },

  // Trust -------------------------------------------------------------------------------------
  SHIPHUB_ERR_TRUST_DENIED: {
    errorClass: 'TrustError',
    section: 'trust',
    close: HELLO_ABORT_CLOSE,
    metricLabel: 'trust_rejected',
    httpStatus: 403,
    meaning: 'The pairing request was denied here (operator said no, or the request expired).',
    hint: 'Approve the device (`ship-hub pairing approve <ski>` or `POST /api/pairing/<ski>/approve`) if it should pair.',
  },
  SHIPHUB_ERR_REMOTE_DENIED_TRUST: {
    errorClass: 'TrustError',
    section: 'trust',
    close: HELLO_ABORT_CLOSE,
    metricLabel: 'trust_rejected',
    meaning:
      'The peer does not trust this node (yet): it aborted the hello phase (we close 1 s later) or closed while we waited.',
    hint: 'Approve this node on the device (compare the SKI shown there); it then reconnects.',
  },
  SHIPHUB_ERR_SHIP_ID_MISMATCH: {
    errorClass: 'TrustError',
    section: 'trust',
    close: shipClose('SHIP ID mismatch'),
    metricLabel: 'trust_rejected',
    meaning:
      'The peer reports a SHIP ID (accessMethods, SHIP §13.4.6) different from the one stored for its SKI.',
    hint: 'If the device was replaced or reset, remove it and pair it again.',
  },
  SHIPHUB_ERR_SKI_MISMATCH: {
    errorClass: 'TrustError',
    section: 'trust',
    close: shipClose(undefined),
    metricLabel: 'tls',
    meaning:
      'The peer presented a different SKI (or key) than expected for that address, announcement or pairing.',
    hint: 'Another device answered, or the device got a new key (factory reset, replacement): remove and re-pair it if expected.',
  },
  SHIPHUB_ERR_CERT_INVALID: {
    errorClass: 'TrustError',
    section: 'trust',
    metricLabel: 'tls',
    meaning:
      "The peer's certificate is missing (SHIP requires mutual TLS, SHIP §12.1), unparsable or unusable.",
    hint: 'Check the device; for our own certificate, check `certificate_file`/`private_key_file`.',
  },
  SHIPHUB_ERR_SELF_CONNECTION: {
    errorClass: 'TrustError',
    section: 'trust',
    metricLabel: 'tls',
    httpStatus: 409,
    meaning:
      'The peer presented our own SKI: a connection to ourselves, or another node uses a copy of our key.',
    hint: "Make sure no other device was set up with a copy of this hub's key files.",
  },

  // Timeouts ----------------------------------------------------------------------------------
  SHIPHUB_ERR_CMI_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    close: shipClose('CMI timeout'),
    metricLabel: 'timeout',
    meaning: 'No connection mode initialisation in time (SHIP §13.4.3).',
    hint: 'Check that the peer is a SHIP node and the network is stable.',
  },
  SHIPHUB_ERR_HELLO_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    close: HELLO_ABORT_CLOSE,
    metricLabel: 'timeout',
    meaning:
      'The hello phase did not finish in time (no approval in time, or the peer asked for more time too often), SHIP §13.4.4.1.3.',
    hint: 'Approve the device (here or on the device) within the time window; it reconnects.',
  },
  SHIPHUB_ERR_PROTOCOL_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    close: shipClose(undefined),
    metricLabel: 'timeout',
    meaning: 'The protocol handshake did not finish in time (SHIP §13.4.4.2).',
    hint: 'Network or device firmware issue.',
  },
  SHIPHUB_ERR_PIN_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    close: shipClose('PIN timeout'),
    metricLabel: 'timeout',
    meaning: 'PIN verification did not finish in time (SHIP §13.4.4.3).',
    hint: 'Enter/configure the PIN faster; check the device.',
  },
  SHIPHUB_ERR_ACCESS_METHODS_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    close: shipClose('access methods timeout'),
    metricLabel: 'timeout',
    meaning: 'The peer did not answer our access methods request in time (SHIP §13.4.6.2.1).',
    hint: 'Network or device firmware issue.',
  },
  SHIPHUB_ERR_PONG_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    close: shipClose('pong timeout'),
    metricLabel: 'timeout',
    meaning: 'The peer did not answer a WebSocket ping in time; the connection is considered dead.',
    hint: 'Check the network path (Wi-Fi, power saving) to the device.',
  },
  SHIPHUB_ERR_CONNECT_TIMEOUT: {
    errorClass: 'TimeoutError',
    section: 'timeout',
    metricLabel: 'timeout',
    meaning:
      'No TCP/TLS/WebSocket connection to a peer in time (the deadline covers TCP, TLS and the WebSocket upgrade).',
    hint: 'Check that the device is on and reachable on that address and port.',
  },

  // Transport and connection state ------------------------------------------------------------
  SHIPHUB_ERR_TRANSPORT: {
    errorClass: 'TransportError',
    section: 'transport',
    close: shipClose('peer not reading'),
    metricLabel: 'connection_failed',
    meaning:
      'Socket, TLS, WebSocket or D-Bus failure (refused, reset, wrong subprotocol, HTTP error on upgrade, Avahi not available); also a peer that stops reading while more than `maxBufferedBytes` wait to be sent (then we close).',
    hint: 'Check network, firewall (`ufw allow 4712/tcp`), the peer, `avahi-daemon`.',
  },
  SHIPHUB_ERR_CONNECTION_LOST: {
    errorClass: 'TransportError',
    section: 'transport',
    metricLabel: 'connection_failed',
    meaning: 'The peer dropped the connection without a SHIP close.',
    hint: 'Check the device and the network; the hub reconnects.',
  },
  SHIPHUB_ERR_CONNECTION_LIMIT: {
    errorClass: 'TransportError',
    section: 'transport',
    close: shipClose(undefined),
    metricLabel: 'connection_limit',
    httpStatus: 503,
    meaning:
      '`max_connections` reached here (an untrusted connection is evicted), or the peer answered HTTP 503 (its limit).',
    hint: 'Raise `max_connections` if the host can take it; find devices that reconnect too often.',
  },
  SHIPHUB_ERR_DOUBLE_CONNECTION: {
    errorClass: 'TransportError',
    section: 'transport',
    close: { code: CloseCode.doubleConnection, reason: CloseReasonText.doubleConnection },
    metricLabel: 'double_connection',
    meaning:
      'Two connections to the same peer; one is closed by the double-connection rule (SHIP §12.2.2, `double_connection_rule`), or an older one gives way to a newer connection of the same device (reason "replaced by a newer connection of the same device").',
    hint: 'Normal when both sides dial at once; frequent ones may need `double_connection_rule`.',
  },
  SHIPHUB_ERR_NOT_READY: {
    errorClass: 'ShipHubError',
    section: 'transport',
    metricLabel: 'not_ready',
    httpStatus: 503,
    meaning:
      'Something was asked before it was possible: data before the data phase (SHIP §13.4.5), or the hub is still starting (`/readyz` 503).',
    hint: 'Wait and retry.',
  },
  SHIPHUB_ERR_CLOSED: {
    errorClass: 'ShipHubError',
    section: 'transport',
    close: { code: CloseCode.userClose, reason: CloseReasonText.userClose },
    metricLabel: 'closed',
    httpStatus: 503,
    meaning:
      'The connection or the hub is closed / closing; the request was not carried out. Before data exchange this node closes with 4500 "User close" (ship-go), after it with the SHIP connectionClose procedure (SHIP §13.4.7). A device that closes with 4500 before data exchange (or with any code while a pairing decision about it is pending) ended the handshake on purpose: logged as information, not as an error.',
    hint: 'Retry after reconnection or restart.',
  },
} as const satisfies Record<ErrorCode, FailureInfo>;

/** Every code the SHIP core and its transport produce. */
export type ShipErrorCode = keyof typeof SHIP_FAILURES;

/** Builds the error for a SHIP code with the class the table gives it (one class per code). */
export function shipError(
  code: ShipErrorCode,
  message: string,
  options: ShipHubErrorOptions = {},
): ShipHubError {
  const ErrorClass = ERROR_CLASSES[SHIP_FAILURES[code].errorClass];
  return new ErrorClass(code, message, options);
}

/** What a failure of the SHIP core looks like before it becomes an error object. */
export interface FailureDescription {
  readonly code: ShipErrorCode;
  readonly message: string;
  readonly phase?: string;
  readonly hint?: string;
  readonly closeCode?: number | undefined;
}

/**
 * The error object for a failure the core reported as data (SmeFailure): a peer fault becomes a
 * ProtocolError, a refused identity a TrustError, an expired timer a TimeoutError, as the table
 * says. The hint is the failure's own (it knows the situation) or else the table's.
 */
export function failureError(failure: FailureDescription, cause?: unknown): ShipHubError {
  return shipError(failure.code, failure.message, {
    hint: failure.hint ?? SHIP_FAILURES[failure.code].hint,
    ...(failure.phase === undefined ? {} : { phase: failure.phase }),
    ...(failure.closeCode === undefined ? {} : { closeCode: failure.closeCode }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The codes whose failure ends a connection with a close frame of this node. */
export type ClosingShipErrorCode = {
  [K in ShipErrorCode]: (typeof SHIP_FAILURES)[K] extends { readonly close: FailureClose }
    ? K
    : never;
}[ShipErrorCode];

/** The close code and reason a failure ends a connection with. */
export function failureClose(
  code: ClosingShipErrorCode,
  message: string,
  undecodable = false,
): { readonly code: number; readonly reason: string } {
  const close: FailureClose = SHIP_FAILURES[code].close;
  const reason =
    (undecodable ? close.undecodableReason : undefined) ??
    close.reason ??
    // The failure's own words, short enough for a WebSocket close frame (123 bytes).
    message.slice(0, 120);
  return { code: close.code, reason };
}
