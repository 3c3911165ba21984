/**
 * Connection data exchange, SHIP §13.4.5, and access methods, SHIP §13.4.6: SPINE data flows
 * both ways; our accessMethodsRequest, sent on entry, learns the partner's SHIP ID.
 */
import { encodeMessage } from '../../codec/index.js';
import { PROTOCOL_ID_SPINE } from '../../messages.js';
import type { SmeState } from '../state.js';
import {
  failNow,
  failure,
  type PhaseHandler,
  type PhaseMessage,
  type Step,
} from '../step-context.js';
import type { TimerId } from '../timers.js';

const ACCESS_METHODS_REQUEST_BYTES = encodeMessage({ kind: 'accessMethodsRequest' });

/** True when the application may send data (SHIP §13.4.5: after PIN OK on both sides). */
export function canSendData(state: Pick<SmeState, 'sub'>): boolean {
  return state.sub === 'SME_ACCESS_METHODS_REQUEST' || state.sub === 'SME_STATE_COMPLETE';
}

export function enterDataExchange(s: Step): void {
  s.goto('SME_ACCESS_METHODS_REQUEST');
  s.emit({ type: 'dataChannelOpen' });
  // Sent at once: ship-go v0.6 ignores requests that come after it reached Complete.
  s.sendBytes(ACCESS_METHODS_REQUEST_BYTES, 'accessMethodsRequest');
  s.startTimer('accessMethodsReply', s.config.timings.accessMethodsReplyMs);
}

/** The application asks for the partner's access methods again (SHIP §13.4.6). */
export function requestAccessMethods(s: Step): void {
  if (canSendData(s.draft)) s.sendBytes(ACCESS_METHODS_REQUEST_BYTES, 'accessMethodsRequest');
}

export function onDataPhaseMessage(s: Step, message: PhaseMessage): void {
  switch (message.kind) {
    case 'data': {
      const { protocolId, payload } = message.value;
      if (protocolId !== PROTOCOL_ID_SPINE) {
        s.warn(
          'SHIPHUB_ERR_MESSAGE_INVALID',
          `data with protocolId "${protocolId}" ignored (only ${PROTOCOL_ID_SPINE} is SPINE)`,
        );
        return;
      }
      s.emit({ type: 'data', payload, protocolId });
      return;
    }
    case 'accessMethodsRequest':
      // SHIP §13.4.6.2.1: answer every request, whatever the state of our own.
      s.send({ kind: 'accessMethods', value: { id: s.config.localShipId } });
      return;
    case 'accessMethods': {
      const id = message.value.id;
      const expected = s.draft.peerShipId ?? s.config.expectedShipId;
      if (expected !== undefined && id !== expected) {
        failNow(
          s,
          failure(
            s,
            'SHIPHUB_ERR_SHIP_ID_MISMATCH',
            `the device reports SHIP ID "${id}" but "${expected}" is stored for its SKI`,
            'if the device was replaced or reset, remove and pair it again',
          ),
        );
        return;
      }
      if (s.draft.peerShipId === undefined) {
        s.set('peerShipId', id);
        s.emit({ type: 'shipId', shipId: id });
      }
      if (s.sub === 'SME_ACCESS_METHODS_REQUEST') {
        s.cancelTimer('accessMethodsReply');
        s.goto('SME_STATE_COMPLETE');
        s.emit({ type: 'complete' });
      }
      return;
    }
    case 'init':
    case 'connectionHello':
    case 'messageProtocolHandshake':
    case 'messageProtocolHandshakeError':
    case 'connectionPinState':
    case 'connectionPinInput':
    case 'connectionPinError':
      // SHIP §13.4.5.1: other control content during data exchange is ignored gracefully.
      s.warn('SHIPHUB_ERR_MESSAGE_INVALID', `${message.kind} during data exchange ignored`);
  }
}

export function onSend(s: Step, payload: unknown, protocolId: string): void {
  if (!canSendData(s.draft) && s.sub !== 'CLOSING_ANNOUNCED') {
    s.warn(
      'SHIPHUB_ERR_NOT_READY',
      `data cannot be sent in ${s.sub}; wait for the data channel to open`,
    );
    return;
  }
  if (s.sub === 'CLOSING_ANNOUNCED') {
    s.warn('SHIPHUB_ERR_CLOSED', 'the connection is closing; the data was not sent');
    return;
  }
  s.send({ kind: 'data', value: { protocolId, payload } });
}

/** SHIP-TS-MSG-01/02: ignoring keeps a working connection; a flood of garbage ends it. */
export function onInvalidDataMessage(s: Step, text: string): void {
  const count = s.draft.invalidMessages + 1;
  s.set('invalidMessages', count);
  if (count > s.config.maxInvalidMessages) {
    failNow(
      s,
      failure(
        s,
        'SHIPHUB_ERR_MESSAGE_INVALID',
        `the device sent ${count} invalid messages; last: ${text}`,
      ),
    );
    return;
  }
  s.warn('SHIPHUB_ERR_MESSAGE_INVALID', `${text}; ignored`);
}

/** The reply to our accessMethodsRequest, SHIP §13.4.6.2.1 (the requester MAY close). */
function onAccessMethodsTimer(s: Step, id: TimerId): void {
  if (id !== 'accessMethodsReply' || s.sub !== 'SME_ACCESS_METHODS_REQUEST') return;
  failNow(
    s,
    failure(
      s,
      'SHIPHUB_ERR_ACCESS_METHODS_TIMEOUT',
      `the device did not answer our access methods request within ${s.config.timings.accessMethodsReplyMs / 1000} s`,
    ),
  );
}

export const dataPhase: PhaseHandler = {
  message: onDataPhaseMessage,
  undecodable: onInvalidDataMessage,
  timer: onAccessMethodsTimer,
};
