/**
 * Protocol handshake, SHIP §13.4.4.2: the client announces its highest SHIP version and formats
 * (announceMax), the server selects, the client confirms. We speak SHIP 1.0 with JSON-UTF8 only.
 */
import {
  FORMAT_JSON_UTF8,
  ProtocolHandshakeErrorCode,
  type MessageProtocolHandshake,
  type ShipMessage,
} from '../../messages.js';
import type { ClosingShipErrorCode } from '../../errors.js';
import type { SmeFailure } from '../state.js';
import {
  failNow,
  failure,
  type PhaseHandler,
  type PhaseMessage,
  type Step,
} from '../step-context.js';
import type { TimerId } from '../timers.js';
import { enterPin } from './pin.js';

/** SHIP 1.0 is the only version we speak (SHIP §13.4.4.2). */
const SHIP_VERSION = { major: 1, minor: 0 } as const;

export function enterProtocol(s: Step): void {
  s.startTimer('protocolWait', s.config.timings.protocolWaitMs);
  if (s.config.role === 'client') {
    s.send({
      kind: 'messageProtocolHandshake',
      value: { handshakeType: 'announceMax', version: SHIP_VERSION, formats: [FORMAT_JSON_UTF8] },
    });
    s.goto('SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE');
  } else {
    // The server never sends first: it waits for announceMax.
    s.goto('SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL');
  }
}

/** Sends messageProtocolHandshakeError (XSD shape) and closes, SHIP-TS-PROT-02/03. */
function protocolError(
  s: Step,
  error: number,
  fail: SmeFailure & { readonly code: ClosingShipErrorCode },
): void {
  s.send({ kind: 'messageProtocolHandshakeError', value: { error } });
  failNow(s, fail);
}

function isShip10Select(value: MessageProtocolHandshake): boolean {
  return (
    value.handshakeType === 'select' &&
    value.version.major === SHIP_VERSION.major &&
    value.version.minor === SHIP_VERSION.minor &&
    value.formats.length === 1 &&
    value.formats[0] === FORMAT_JSON_UTF8
  );
}

export function onProtocolMessage(s: Step, message: PhaseMessage): void {
  if (message.kind === 'messageProtocolHandshakeError') {
    failNow(
      s,
      failure(
        s,
        'SHIPHUB_ERR_PROTOCOL_PEER_ERROR',
        `the device ended the protocol handshake with error ${message.value.error}`,
      ),
    );
    return;
  }
  if (message.kind !== 'messageProtocolHandshake') {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.unexpectedMessage,
      failure(
        s,
        'SHIPHUB_ERR_PROTOCOL_UNEXPECTED',
        `the device sent ${message.kind} during the protocol handshake`,
      ),
    );
    return;
  }
  if (s.sub === 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL') {
    onAnnounceMax(s, message.value);
  } else {
    // SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM or SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE.
    onSelect(s, message);
  }
}

/** The server's answer to the client's announceMax (SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL). */
function onAnnounceMax(s: Step, value: MessageProtocolHandshake): void {
  if (value.handshakeType !== 'announceMax') {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.unexpectedMessage,
      failure(s, 'SHIPHUB_ERR_PROTOCOL_UNEXPECTED', 'the device sent select before announceMax'),
    );
    return;
  }
  // Every node supports all versions from 1.0 up to its maximum: 1.0 is always common
  // unless the partner announces less than 1.0.
  const supportsV1 = value.version.major >= SHIP_VERSION.major;
  const supportsJson = value.formats.includes(FORMAT_JSON_UTF8);
  if (!supportsV1 || !supportsJson) {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.selectionMismatch,
      failure(
        s,
        'SHIPHUB_ERR_PROTOCOL_MISMATCH',
        `no common SHIP version and format: the device offers version ${value.version.major}.${value.version.minor} with ${value.formats.join(', ') || 'no format'}`,
      ),
    );
    return;
  }
  s.send({
    kind: 'messageProtocolHandshake',
    value: { handshakeType: 'select', version: SHIP_VERSION, formats: [FORMAT_JSON_UTF8] },
  });
  s.cancelTimer('protocolWait');
  s.startTimer('protocolWait', s.config.timings.protocolWaitMs);
  s.goto('SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM');
}

/** The selection: the server's confirm, or the client's choice it echoes. */
function onSelect(
  s: Step,
  message: Extract<ShipMessage, { kind: 'messageProtocolHandshake' }>,
): void {
  const value = message.value;
  if (value.handshakeType !== 'select') {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.unexpectedMessage,
      failure(s, 'SHIPHUB_ERR_PROTOCOL_UNEXPECTED', 'the device sent announceMax twice'),
    );
    return;
  }
  if (!isShip10Select(value)) {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.selectionMismatch,
      failure(
        s,
        'SHIPHUB_ERR_PROTOCOL_MISMATCH',
        `the device selected version ${value.version.major}.${value.version.minor} with ${value.formats.join(', ') || 'no format'}; we speak 1.0 with JSON-UTF8`,
      ),
    );
    return;
  }
  // The client echoes the selection (SME_PROT_H_STATE_CLIENT_OK).
  if (s.sub === 'SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE') s.send(message);
  s.cancelTimer('protocolWait');
  enterPin(s);
}

/** The protocol handshake Wait timer, SHIP §13.4.4.2. */
function onProtocolTimer(s: Step, id: TimerId): void {
  if (id !== 'protocolWait') return;
  protocolError(
    s,
    ProtocolHandshakeErrorCode.timeout,
    failure(
      s,
      'SHIPHUB_ERR_PROTOCOL_TIMEOUT',
      'the device did not continue the protocol handshake in time',
    ),
  );
}

export const protocolPhase: PhaseHandler = {
  message: onProtocolMessage,
  undecodable(s, text) {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.unexpectedMessage,
      failure(s, 'SHIPHUB_ERR_PROTOCOL_UNEXPECTED', text),
    );
  },
  timer: onProtocolTimer,
};
