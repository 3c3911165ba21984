/**
 * Termination, SHIP §13.4.7: the two-phase connectionClose (announce, confirm) once data exchange
 * was entered, a plain WebSocket close before it, and the end of the socket from either side.
 */
import { CloseCode, CloseReasonText } from '../../close-codes.js';
import { encodeMessage } from '../../codec/index.js';
import type { ShipMessage } from '../../messages.js';
import { PHASE_OF } from '../state.js';
import {
  activeTimers,
  closeNow,
  emitClosed,
  failNow,
  failure,
  ignore,
  type PhaseHandler,
  type Step,
} from '../step-context.js';
import type { TimerId } from '../timers.js';
import { onDataPhaseMessage, onInvalidDataMessage } from './access-methods.js';

const CLOSE_CONFIRM_BYTES = encodeMessage({
  kind: 'connectionClose',
  value: { phase: 'confirm' },
});

export function onLocalClose(s: Step, reason: string, explanation: string | undefined): void {
  const phase = PHASE_OF[s.sub];
  const message = explanation ?? 'closed by this node';
  if (phase === 'data') {
    // The two-phase close applies once data exchange was entered.
    s.cancelTimer('accessMethodsReply');
    s.send({
      kind: 'connectionClose',
      value: { phase: 'announce', maxTime: s.config.timings.closeMaxTimeMs, reason },
    });
    s.goto('CLOSING_ANNOUNCED');
    s.startTimer('closeMaxTime', s.config.timings.closeMaxTimeMs);
    return;
  }
  if (phase === 'closing') return;
  if (phase === 'init') {
    s.set('closeCode', CloseCode.userClose);
    s.effects.push({
      kind: 'closeTransport',
      code: CloseCode.userClose,
      reason: CloseReasonText.userClose,
    });
    s.goto('CLOSED');
    emitClosed(s);
    return;
  }
  // Before data exchange there is no close procedure: ship-go closes with 4500 "User close".
  failNow(s, {
    code: 'SHIPHUB_ERR_CLOSED',
    phase,
    message,
  });
}

export function onConnectionClose(
  s: Step,
  message: Extract<ShipMessage, { kind: 'connectionClose' }>,
) {
  if (message.value.phase === 'announce') {
    // Confirm every announce, whatever its reason text (ship-go v0.6 sends free text).
    s.sendBytes(CLOSE_CONFIRM_BYTES, 'connectionClose');
    s.set('closedByPeer', true);
    closeNow(s, CloseCode.shipClose, CloseReasonText.shipClose);
    return;
  }
  if (s.sub === 'CLOSING_ANNOUNCED') {
    closeNow(s, CloseCode.shipClose, CloseReasonText.shipClose);
    return;
  }
  s.warn('SHIPHUB_ERR_MESSAGE_INVALID', 'a close confirm without our announce; ignored');
}

export function onTransportClosed(
  s: Step,
  code: number | undefined,
  reason: string | undefined,
): void {
  const sub = s.sub;
  s.set('closedByPeer', true);
  if (code !== undefined) s.set('closeCode', code);
  if (s.draft.failure === undefined) {
    if (code === CloseCode.rejected || sub === 'SME_HELLO_STATE_READY_LISTEN') {
      // Pitfall 20: devices that do not trust us answer `pending` and then close (often 4452).
      s.set('remoteDeniedTrust', true);
      s.set(
        'failure',
        failure(
          s,
          'SHIPHUB_ERR_REMOTE_DENIED_TRUST',
          `the device closed the connection while we waited for it to trust us${describeClose(code, reason)}`,
          'approve this node on the device (compare the SKI shown there), then it reconnects',
        ),
      );
    } else if (
      sub !== 'CLOSING_ANNOUNCED' &&
      code === CloseCode.doubleConnection &&
      (reason === CloseReasonText.doubleConnection || reason === CloseReasonText.replacedByNewer)
    ) {
      // The device applied the double-connection rule (ship-go closes the losing connection
      // with 1000 "double connection"): another connection between the two takes its place.
      s.set(
        'failure',
        failure(
          s,
          'SHIPHUB_ERR_DOUBLE_CONNECTION',
          `the device closed this connection by the double-connection rule (SHIP §12.2.2): ` +
            `another connection between the two takes its place${describeClose(code, reason)}`,
        ),
      );
    } else if (sub === 'SME_HELLO_STATE_PENDING_LISTEN') {
      // A person had not decided about the device yet: it gave up waiting (devices wait about
      // a minute), or it was a probe. Not a fault of either side.
      s.set(
        'failure',
        failure(
          s,
          'SHIPHUB_ERR_CLOSED',
          `the device closed the connection while this node waited for a pairing decision about it${describeClose(code, reason)}`,
          'decide while the device is connected, or trust its SKI in advance: then its next connection is accepted',
        ),
      );
    } else if (code === CloseCode.userClose && HANDSHAKE_PHASES.has(PHASE_OF[sub])) {
      // Before data exchange there is no close procedure; 4500 "User close" is how ship-go (and
      // `ship-hub probe`) end a handshake on purpose, not a failure of the connection.
      const phase = PHASE_OF[sub];
      s.set(
        'failure',
        failure(
          s,
          'SHIPHUB_ERR_CLOSED',
          `the device closed the connection on purpose during the ${phase} phase${describeClose(code, reason)}`,
          phase === 'cmi' || phase === 'hello' ? EARLY_CLOSE_HINT : undefined,
        ),
      );
    } else if (sub !== 'CLOSING_ANNOUNCED') {
      const phase = PHASE_OF[sub];
      s.set(
        'failure',
        failure(
          s,
          'SHIPHUB_ERR_CONNECTION_LOST',
          phase === 'data'
            ? `the device dropped the connection without a SHIP close${describeClose(code, reason)}`
            : `the connection ended during the ${phase} phase${describeClose(code, reason)}`,
          // A device that closes right after the upgrade or in hello mostly does not trust us
          // (pitfall 20) or already holds its one connection (SHIP §12.2.2).
          phase === 'cmi' || phase === 'hello' ? EARLY_CLOSE_HINT : undefined,
        ),
      );
    }
  }
  s.cancelTimers(activeTimers(sub));
  s.cancelTimer('helloAbortClose');
  s.goto('CLOSED');
  emitClosed(s);
}

/** The phases before data exchange, where a close has no SHIP procedure (SHIP §13.4.7). */
const HANDSHAKE_PHASES: ReadonlySet<string> = new Set(['cmi', 'hello', 'protocol', 'pin']);

/** What a close before or during hello most likely means, and what to do. */
export const EARLY_CLOSE_HINT =
  'the device most likely does not trust this node yet: enter our SKI on the device or in its ' +
  'app (or put it in pairing mode); or it already has its one SHIP connection, to another hub ' +
  'or another instance of this one';

function describeClose(code: number | undefined, reason: string | undefined): string {
  if (code === undefined) return '';
  return reason ? ` (close code ${code}: ${reason})` : ` (close code ${code})`;
}

/** SHIP-TS-TERM-01: close at the latest after maxTime, even without a confirm. */
function onClosingTimer(s: Step, id: TimerId): void {
  if (id !== 'closeMaxTime' || s.sub !== 'CLOSING_ANNOUNCED') return;
  closeNow(s, CloseCode.shipClose, CloseReasonText.shipClose);
}

/** We announced the close and wait for the confirm. */
export const closingPhase: PhaseHandler = {
  message(s, message) {
    // Data the partner sent before it saw our announce is still delivered.
    if (message.kind === 'data' || message.kind === 'accessMethodsRequest') {
      onDataPhaseMessage(s, message);
    }
  },
  undecodable: onInvalidDataMessage,
  timer: onClosingTimer,
};

/** Nothing reaches a closed machine (step() answers before the table is asked). */
export const closedPhase: PhaseHandler = {
  bytes: ignore,
  message: ignore,
  undecodable: ignore,
  timer: ignore,
};
