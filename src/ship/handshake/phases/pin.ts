/**
 * PIN verification, SHIP §13.4.4.3: both directions (our PIN the partner must enter, the
 * partner's PIN we send) are evaluated in the one state SME_PIN_STATE_LISTEN. Data exchange
 * starts when both are done.
 */
import {
  failNow,
  failure,
  type PhaseHandler,
  type PhaseMessage,
  type Step,
} from '../step-context.js';
import type { TimerId } from '../timers.js';
import { enterDataExchange } from './access-methods.js';

export function enterPin(s: Step): void {
  const localPin = s.config.localPin;
  s.send({
    kind: 'connectionPinState',
    value:
      localPin === undefined
        ? { pinState: 'none' }
        : { pinState: 'required', inputPermission: 'ok' },
  });
  s.goto('SME_PIN_STATE_LISTEN');
  s.startTimer('pinWait', s.config.timings.pinWaitMs);
}

function maybeFinishPin(s: Step): void {
  if (s.draft.localPinDone && s.draft.remotePinDone) {
    s.cancelTimer('pinWait');
    enterDataExchange(s);
  }
}

function onPinMessage(s: Step, message: PhaseMessage): void {
  switch (message.kind) {
    case 'connectionPinState': {
      const { pinState, inputPermission } = message.value;
      s.emit(
        inputPermission === undefined
          ? { type: 'pinState', pinState }
          : { type: 'pinState', pinState, inputPermission },
      );
      if (pinState === 'none' || pinState === 'pinOk') {
        // `pinOk` accepted as "nothing more needed" (reference §7.5 interop rule).
        s.set('remotePinDone', true);
        maybeFinishPin(s);
        return;
      }
      // required / optional
      if (inputPermission === 'busy') {
        s.cancelTimer('pinWait');
        s.startTimer('pinWait', s.config.timings.pinBusyWaitMs);
        return;
      }
      const remotePin = s.config.remotePin;
      if (remotePin !== undefined && !s.draft.pinInputSent) {
        s.set('pinInputSent', true);
        s.send({ kind: 'connectionPinInput', value: { pin: remotePin } });
        s.cancelTimer('pinWait');
        s.startTimer('pinWait', s.config.timings.pinWaitMs);
        return;
      }
      if (pinState === 'optional') {
        // Skipping an optional PIN leaves restricted trust (SmePinStateAskRestricted).
        s.warn(
          'SHIPHUB_ERR_PIN_UNSUPPORTED',
          'the device offers an optional PIN; continuing without',
        );
        s.set('remotePinDone', true);
        maybeFinishPin(s);
        return;
      }
      failNow(
        s,
        failure(
          s,
          'SHIPHUB_ERR_PIN_UNSUPPORTED',
          'the device requires a PIN and none is configured for it',
          'configure the PIN printed on the device for its SKI',
        ),
      );
      return;
    }
    case 'connectionPinInput': {
      const localPin = s.config.localPin;
      if (localPin === undefined || s.draft.localPinDone) {
        s.warn('SHIPHUB_ERR_PIN_INVALID', 'the device sent a PIN that nobody asked for; ignored');
        return;
      }
      if (message.value.pin.toLowerCase() === localPin.toLowerCase()) {
        s.set('localPinDone', true);
        s.send({ kind: 'connectionPinState', value: { pinState: 'pinOk' } });
        maybeFinishPin(s);
        return;
      }
      const attempts = s.draft.pinAttempts + 1;
      s.set('pinAttempts', attempts);
      s.send({ kind: 'connectionPinError', value: { error: 1 } });
      if (attempts >= s.config.maxPinAttempts) {
        failNow(
          s,
          failure(s, 'SHIPHUB_ERR_PIN_WRONG', `the device entered a wrong PIN ${attempts} times`),
        );
      }
      return;
    }
    case 'connectionPinError':
      failNow(
        s,
        failure(
          s,
          'SHIPHUB_ERR_PIN_WRONG',
          'the device refused the PIN we sent',
          'check the PIN configured for this device',
        ),
      );
      return;
    case 'accessMethodsRequest':
      // The partner already considers the PIN phase done; answering early is harmless.
      s.send({ kind: 'accessMethods', value: { id: s.config.localShipId } });
      return;
    case 'data':
      // SHIP §13.4.5: no data before PIN OK on both sides; dropped, never delivered early.
      s.warn('SHIPHUB_ERR_NOT_READY', 'data received before the PIN phase ended; dropped');
      return;
    case 'init':
    case 'connectionHello':
    case 'messageProtocolHandshake':
    case 'messageProtocolHandshakeError':
    case 'accessMethods':
      failNow(
        s,
        failure(
          s,
          'SHIPHUB_ERR_PIN_INVALID',
          `the device sent ${message.kind} during PIN verification`,
        ),
      );
  }
}

function onPinTimer(s: Step, id: TimerId): void {
  if (id !== 'pinWait') return;
  failNow(s, failure(s, 'SHIPHUB_ERR_PIN_TIMEOUT', 'the PIN verification did not finish in time'));
}

export const pinPhase: PhaseHandler = {
  message: onPinMessage,
  undecodable(s, text) {
    failNow(s, failure(s, 'SHIPHUB_ERR_PIN_INVALID', text), true);
  },
  timer: onPinTimer,
};
