/**
 * Connection hello, SHIP §13.4.4.1: both sides say READY or PENDING; a PENDING side runs the
 * Wait-For-Ready timer and may ask for more time (prolongation, §13.4.4.1.3); either side may
 * abort. A person's trust decision arrives here as an input.
 */
import { CloseCode, CloseReasonText } from '../../close-codes.js';
import type { ConnectionHello } from '../../messages.js';
import { PHASE_OF, type SmeFailure } from '../state.js';
import {
  closeNow,
  failure,
  type PhaseHandler,
  type PhaseMessage,
  type Step,
} from '../step-context.js';
import { HELLO_TIMERS, type TimerId } from '../timers.js';
import { enterProtocol, onProtocolMessage } from './protocol.js';

/** After our or the partner's abort only the close (1 s later) is left to do. */
function abortDone(s: Step): boolean {
  return s.sub === 'SME_HELLO_STATE_ABORT_DONE' || s.sub === 'SME_HELLO_STATE_REMOTE_ABORT_DONE';
}

function remainingWfr(s: Step): number | undefined {
  const deadline = s.draft.wfrDeadline;
  return deadline === undefined ? undefined : Math.max(0, Math.round(deadline - s.now));
}

function startWfr(s: Step, ms: number): void {
  s.set('wfrDeadline', s.now + ms);
  s.startTimer('helloWaitForReady', ms);
}

function stopWfr(s: Step): void {
  if (s.draft.wfrDeadline !== undefined) {
    s.set('wfrDeadline', undefined);
    s.cancelTimer('helloWaitForReady');
  }
}

/** A hello update: our basic state and the remaining WFR time (omitted if WFR is not running). */
function sendHelloUpdate(s: Step): void {
  const waiting = remainingWfr(s);
  const value: ConnectionHello = { phase: s.draft.localReady ? 'ready' : 'pending' };
  if (waiting !== undefined) value.waiting = waiting;
  s.send({ kind: 'connectionHello', value });
}

export function enterHello(s: Step): void {
  startWfr(s, s.config.timings.helloInitMs);
  if (s.draft.localReady) {
    // SME_HELLO_STATE_READY_INIT → READY_LISTEN
    sendHelloUpdate(s);
    s.goto('SME_HELLO_STATE_READY_LISTEN');
  } else {
    // SME_HELLO_STATE_PENDING_INIT → PENDING_LISTEN; a person must decide.
    sendHelloUpdate(s);
    s.goto('SME_HELLO_STATE_PENDING_LISTEN');
    s.emit({ type: 'trustRequired' });
  }
}

/**
 * Abort procedure (SHIP §13.4.4.1): stop the hello timers, send `aborted`, close. Like ship-go we
 * close 1 s later with 4452, so the `aborted` reaches the partner first.
 */
function helloAbort(s: Step, fail: SmeFailure): void {
  s.cancelTimers(HELLO_TIMERS);
  s.set('wfrDeadline', undefined);
  if (s.draft.failure === undefined) s.set('failure', fail);
  s.send({ kind: 'connectionHello', value: { phase: 'aborted' } });
  s.goto('SME_HELLO_STATE_ABORT_DONE');
  s.startTimer('helloAbortClose', s.config.timings.helloAbortCloseDelayMs);
}

function helloRemoteAbort(s: Step): void {
  s.cancelTimers(HELLO_TIMERS);
  s.set('wfrDeadline', undefined);
  s.set('remoteDeniedTrust', true);
  s.set(
    'failure',
    failure(
      s,
      'SHIPHUB_ERR_REMOTE_DENIED_TRUST',
      'the device aborted the hello phase: it does not trust this node (yet)',
      'approve this node on the device (compare the SKI), then it reconnects',
    ),
  );
  s.goto('SME_HELLO_STATE_REMOTE_ABORT_DONE');
  s.startTimer('helloAbortClose', s.config.timings.helloAbortCloseDelayMs);
}

export function helloOk(s: Step): void {
  s.cancelTimers(HELLO_TIMERS);
  s.set('wfrDeadline', undefined);
  s.emit({ type: 'helloOk' });
  enterProtocol(s);
}

/** Evaluates the partner's `waiting` while we are PENDING (SHIP §13.4.4.1.3). */
function evaluatePeerWaiting(s: Step, waiting: number): boolean {
  const t = s.config.timings;
  s.set('peerWaitingMs', waiting);
  s.cancelTimer('helloSendProlongation');
  if (waiting < t.helloProlongMinMs) {
    helloAbort(
      s,
      failure(
        s,
        'SHIPHUB_ERR_HELLO_INVALID',
        `the device offered to wait only ${waiting} ms for our decision (minimum ${t.helloProlongMinMs} ms)`,
      ),
    );
    return false;
  }
  if (waiting >= t.helloProlongThresholdMs) {
    // Ask for more time T_hello_prolong_waiting_gap before the partner's deadline.
    s.startTimer('helloSendProlongation', waiting - t.helloProlongWaitingGapMs);
  }
  return true;
}

function grantProlongation(s: Step): boolean {
  if (s.draft.prolongationsGranted >= s.config.maxProlongationsGranted) return false;
  const count = s.draft.prolongationsGranted + 1;
  s.set('prolongationsGranted', count);
  const remaining = remainingWfr(s);
  if (remaining !== undefined) {
    // SHIP §13.4.4.1.3: an accepted request increases WFR by T_hello_inc.
    s.cancelTimer('helloWaitForReady');
    startWfr(s, remaining + s.config.timings.helloIncMs);
  }
  s.emit({ type: 'prolongationGranted', count });
  return true;
}

function onHelloMessage(s: Step, message: PhaseMessage): void {
  if (message.kind !== 'connectionHello') {
    // ship-go approval shortcut (pitfall 21): a partner that approved us may go straight to the
    // protocol handshake without our READY being needed. As READY server, take announceMax as
    // the partner's READY.
    if (
      s.sub === 'SME_HELLO_STATE_READY_LISTEN' &&
      s.config.role === 'server' &&
      message.kind === 'messageProtocolHandshake' &&
      message.value.handshakeType === 'announceMax'
    ) {
      helloOk(s);
      onProtocolMessage(s, message);
      return;
    }
    helloAbort(
      s,
      failure(
        s,
        'SHIPHUB_ERR_HELLO_INVALID',
        `the device sent ${message.kind} during the hello phase`,
      ),
    );
    return;
  }
  const hello = message.value;
  if (hello.phase === 'aborted') {
    helloRemoteAbort(s);
    return;
  }
  if (s.sub === 'SME_HELLO_STATE_READY_LISTEN') {
    if (hello.phase === 'ready') {
      helloOk(s);
    } else if (hello.prolongationRequest === true) {
      if (grantProlongation(s)) {
        sendHelloUpdate(s);
      } else {
        helloAbort(
          s,
          failure(
            s,
            'SHIPHUB_ERR_HELLO_TIMEOUT',
            `the device asked for more time ${s.draft.prolongationsGranted + 1} times; we stopped waiting`,
            'approve this node on the device, then it reconnects',
          ),
        );
      }
    } else {
      // SHIP-TS-HELLO-04 / TC_SHIP_HELLO_004: `pending` without prolongationRequest while we are
      // READY is ignored silently. It tells us the partner's user still has to decide.
      s.emit({ type: 'peerPending', waitingMs: hello.waiting });
    }
    return;
  }
  // SME_HELLO_STATE_PENDING_LISTEN
  if (hello.phase === 'ready') {
    if (hello.waiting === undefined) {
      helloAbort(
        s,
        failure(s, 'SHIPHUB_ERR_HELLO_INVALID', 'the device said ready without a waiting time'),
      );
      return;
    }
    s.set('peerReady', true);
    stopWfr(s);
    s.cancelTimer('helloProlongationReply');
    evaluatePeerWaiting(s, hello.waiting);
    return;
  }
  // phase pending
  if (hello.prolongationRequest === true && hello.waiting === undefined) {
    if (grantProlongation(s)) {
      sendHelloUpdate(s);
    } else {
      helloAbort(
        s,
        failure(s, 'SHIPHUB_ERR_HELLO_TIMEOUT', 'the device asked for more time too often'),
      );
    }
    return;
  }
  if (hello.waiting !== undefined) {
    // Tolerated: prolongationRequest:false next to waiting (EEBUS.Net always sends it).
    s.cancelTimer('helloProlongationReply');
    if (evaluatePeerWaiting(s, hello.waiting)) {
      s.emit({ type: 'peerPending', waitingMs: hello.waiting });
    }
    return;
  }
  helloAbort(
    s,
    failure(
      s,
      'SHIPHUB_ERR_HELLO_INVALID',
      'the device said pending without a waiting time or prolongation request',
    ),
  );
}

export function onTrustDecision(s: Step, approved: boolean): void {
  if (PHASE_OF[s.sub] !== 'hello' || s.sub === 'SME_HELLO_STATE_ABORT_DONE') return;
  if (s.sub === 'SME_HELLO_STATE_REMOTE_ABORT_DONE') return;
  if (!approved) {
    helloAbort(
      s,
      failure(
        s,
        'SHIPHUB_ERR_TRUST_DENIED',
        'the pairing request was denied here',
        'approve the device to pair it',
      ),
    );
    return;
  }
  if (s.draft.localReady) return;
  s.set('localReady', true);
  s.cancelTimer('helloSendProlongation');
  s.cancelTimer('helloProlongationReply');
  // Our hello update carries a waiting time: ship-go aborts on a `ready` without one.
  if (s.draft.wfrDeadline === undefined) startWfr(s, s.config.timings.helloInitMs);
  sendHelloUpdate(s);
  if (s.draft.peerReady) {
    helloOk(s);
  } else {
    s.goto('SME_HELLO_STATE_READY_LISTEN');
  }
}

function onHelloTimer(s: Step, id: TimerId): void {
  const t = s.config.timings;
  switch (id) {
    case 'helloWaitForReady':
      if (s.draft.wfrDeadline === undefined) return;
      s.set('wfrDeadline', undefined);
      helloAbort(
        s,
        s.sub === 'SME_HELLO_STATE_READY_LISTEN'
          ? failure(
              s,
              'SHIPHUB_ERR_HELLO_TIMEOUT',
              `the device did not become ready within the wait-for-ready time`,
              'the device has not trusted this node: approve it on the device and retry',
            )
          : failure(
              s,
              'SHIPHUB_ERR_HELLO_TIMEOUT',
              'nobody decided about this device in time',
              'approve the device earlier, or approve its SKI before it connects',
            ),
      );
      return;
    case 'helloSendProlongation': {
      if (s.sub !== 'SME_HELLO_STATE_PENDING_LISTEN') return;
      const count = s.draft.prolongationsRequested + 1;
      s.set('prolongationsRequested', count);
      s.send({ kind: 'connectionHello', value: { phase: 'pending', prolongationRequest: true } });
      // Prolongation-Request-Reply: the last waiting received, else 1.1 × T_hello_init.
      s.startTimer(
        'helloProlongationReply',
        s.draft.peerWaitingMs ?? Math.round(1.1 * t.helloInitMs),
      );
      s.emit({ type: 'prolongationRequested', count });
      return;
    }
    case 'helloProlongationReply':
      if (s.sub !== 'SME_HELLO_STATE_PENDING_LISTEN') return;
      helloAbort(
        s,
        failure(
          s,
          'SHIPHUB_ERR_HELLO_TIMEOUT',
          'the device did not answer our request for more time',
        ),
      );
      return;
    case 'helloAbortClose':
      if (s.sub === 'SME_HELLO_STATE_ABORT_DONE' || s.sub === 'SME_HELLO_STATE_REMOTE_ABORT_DONE') {
        closeNow(s, CloseCode.rejected, CloseReasonText.rejected);
      }
      return;
    case 'cmi':
    case 'protocolWait':
    case 'pinWait':
    case 'accessMethodsReply':
    case 'closeMaxTime':
      return;
  }
}

export const helloPhase: PhaseHandler = {
  message(s, message) {
    if (abortDone(s)) return;
    onHelloMessage(s, message);
  },
  undecodable(s, text) {
    if (abortDone(s)) return;
    helloAbort(s, failure(s, 'SHIPHUB_ERR_HELLO_INVALID', text));
  },
  timer: onHelloTimer,
};
