/**
 * State, inputs, effects and events of one SHIP message exchange (SME), SHIP §13.4. The state
 * is a plain immutable object; `step()` in ./machine.ts maps (state, input) to the next state
 * and the effects the driver must carry out.
 */
import type { ShipErrorCode } from '../errors.js';
import type { CloseReason, ShipMessageKind } from '../messages.js';
import type { SmeTimings, TimerId } from './timers.js';

export type Role = 'client' | 'server';

/** Coarse phase, for logs, metrics and the pairing state the hub reports. */
export type Phase = 'init' | 'cmi' | 'hello' | 'protocol' | 'pin' | 'data' | 'closing' | 'closed';

/**
 * Sub-states, named after the spec's state names (SHIP §13.4, as ship-go and jeebus name them).
 * Only states the machine can rest in are listed; transient ones (CMI_STATE_CLIENT_SEND,
 * SME_HELLO_STATE_OK, SME_PROT_H_STATE_CLIENT_OK, ...) are passed through inside one step.
 */
export type SubState =
  | 'INIT'
  /** SHIP §13.4.3 */
  | 'CMI_STATE_CLIENT_WAIT'
  | 'CMI_STATE_SERVER_WAIT'
  /** SHIP §13.4.4.1 */
  | 'SME_HELLO_STATE_READY_LISTEN'
  | 'SME_HELLO_STATE_PENDING_LISTEN'
  | 'SME_HELLO_STATE_ABORT_DONE'
  | 'SME_HELLO_STATE_REMOTE_ABORT_DONE'
  /** SHIP §13.4.4.2 */
  | 'SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE'
  | 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL'
  | 'SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM'
  /** SHIP §13.4.4.3: both PIN directions are evaluated in this one state. */
  | 'SME_PIN_STATE_LISTEN'
  /** SHIP §13.4.5 + §13.4.6: data exchange, our accessMethodsRequest outstanding. */
  | 'SME_ACCESS_METHODS_REQUEST'
  /** Data exchange with the partner's SHIP ID known. */
  | 'SME_STATE_COMPLETE'
  /** SHIP §13.4.7: we announced the close and wait for the confirm. */
  | 'CLOSING_ANNOUNCED'
  | 'CLOSED';

export const PHASE_OF: Readonly<Record<SubState, Phase>> = {
  INIT: 'init',
  CMI_STATE_CLIENT_WAIT: 'cmi',
  CMI_STATE_SERVER_WAIT: 'cmi',
  SME_HELLO_STATE_READY_LISTEN: 'hello',
  SME_HELLO_STATE_PENDING_LISTEN: 'hello',
  SME_HELLO_STATE_ABORT_DONE: 'hello',
  SME_HELLO_STATE_REMOTE_ABORT_DONE: 'hello',
  SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE: 'protocol',
  SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL: 'protocol',
  SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM: 'protocol',
  SME_PIN_STATE_LISTEN: 'pin',
  SME_ACCESS_METHODS_REQUEST: 'data',
  SME_STATE_COMPLETE: 'data',
  CLOSING_ANNOUNCED: 'closing',
  CLOSED: 'closed',
};

/** Static configuration of one SME, fixed when the connection is set up. */
export interface SmeConfig {
  readonly role: Role;
  /** Our SHIP ID, answered in accessMethods (SHIP §13.4.6) and equal to our mDNS `id`. */
  readonly localShipId: string;
  /**
   * `trusted`: the partner's SKI is paired (or we dialled it, or auto-accept is open): hello READY.
   * `pending`: a person must decide; hello PENDING and a `trustRequired` event (SHIP §13.4.4.1).
   */
  readonly initialTrust: 'trusted' | 'pending';
  /** SHIP ID stored for this SKI earlier; a different one ends the connection. */
  readonly expectedShipId?: string;
  /** Our own PIN: the partner must enter it (we announce `required`). */
  readonly localPin?: string;
  /** The partner's PIN, sent if the partner announces `required` or `optional`. */
  readonly remotePin?: string;
  /** How many prolongation requests of the partner we grant (SHIP: at least two). */
  readonly maxProlongationsGranted: number;
  /** Wrong PIN inputs tolerated before we close (lockout, house style §9). */
  readonly maxPinAttempts: number;
  /** Invalid messages tolerated during data exchange before we close. */
  readonly maxInvalidMessages: number;
  /** Largest message accepted, in bytes. */
  readonly maxMessageBytes: number;
  /**
   * Largest message accepted before data exchange, in bytes. SHIP control messages are a few
   * hundred bytes; a peer that is not trusted yet must not make us parse a megabyte of JSON.
   */
  readonly maxControlMessageBytes: number;
  /** Deepest JSON nesting accepted before data exchange (checked before parsing). */
  readonly maxControlJsonDepth: number;
  readonly timings: SmeTimings;
}

/** A failure in plain words: which phase, what happened, what to do. */
export interface SmeFailure {
  readonly code: ShipErrorCode;
  readonly phase: Phase;
  readonly message: string;
  readonly hint?: string;
}

/** The state of one SME. Immutable: every step returns a new object when anything changes. */
export interface SmeState {
  readonly config: SmeConfig;
  readonly sub: SubState;
  /** When the current sub-state was entered (driver clock, ms). */
  readonly enteredAt: number;
  /** Our basic hello state (SHIP §13.4.4.1): READY once trusted. */
  readonly localReady: boolean;
  /** The partner said `ready` (in PENDING_LISTEN; SHIP §13.4.4.1.3). */
  readonly peerReady: boolean;
  /** When our Wait-For-Ready timer expires, if it runs. */
  readonly wfrDeadline: number | undefined;
  /** The partner's last `waiting` value. */
  readonly peerWaitingMs: number | undefined;
  /** Prolongation requests of the partner we granted. */
  readonly prolongationsGranted: number;
  /** Prolongation requests we sent. */
  readonly prolongationsRequested: number;
  /** PIN verification (SHIP §13.4.4.3): our requirement satisfied / the partner's satisfied. */
  readonly localPinDone: boolean;
  readonly remotePinDone: boolean;
  readonly pinInputSent: boolean;
  readonly pinAttempts: number;
  /** The partner's SHIP ID from accessMethods. */
  readonly peerShipId: string | undefined;
  readonly invalidMessages: number;
  /** Why we are closing or closed, if it was a failure. */
  readonly failure: SmeFailure | undefined;
  /** Close code and reason we sent or received. */
  readonly closeCode: number | undefined;
  readonly closedByPeer: boolean;
  /** The partner refused trust (hello aborted, or closed while we waited for its READY). */
  readonly remoteDeniedTrust: boolean;
  /** The phase reached last before closing, for diagnostics. */
  readonly lastOpenPhase: Phase;
}

export type SmeInput =
  | { readonly kind: 'start'; readonly now: number }
  | { readonly kind: 'message'; readonly now: number; readonly bytes: Uint8Array }
  | { readonly kind: 'timer'; readonly now: number; readonly id: TimerId }
  /** A person (or policy) decided about a pending partner. */
  | { readonly kind: 'trustDecision'; readonly now: number; readonly approved: boolean }
  /** The application sends a SPINE payload. */
  | {
      readonly kind: 'send';
      readonly now: number;
      readonly payload: unknown;
      readonly protocolId?: string;
    }
  /** The application closes the connection. */
  | {
      readonly kind: 'close';
      readonly now: number;
      readonly reason?: CloseReason;
      readonly explanation?: string;
    }
  /** The application asks for the partner's access methods again (SHIP §13.4.6). */
  | { readonly kind: 'requestAccessMethods'; readonly now: number }
  /** The socket is gone (peer close, error, or our close completed). */
  | {
      readonly kind: 'transportClosed';
      readonly now: number;
      readonly code?: number;
      readonly reason?: string;
    };

export type SmeEvent =
  | {
      readonly type: 'state';
      readonly from: SubState;
      readonly to: SubState;
      readonly phase: Phase;
      /** How long the machine was in `from`. */
      readonly durationMs: number;
    }
  /** The partner is unknown: a person must decide (answer with a trustDecision input). */
  | { readonly type: 'trustRequired' }
  /** The partner is PENDING: its user must still trust us. */
  | { readonly type: 'peerPending'; readonly waitingMs: number | undefined }
  /** We granted the partner more time (it is waiting for its user). */
  | { readonly type: 'prolongationGranted'; readonly count: number }
  /** We asked the partner for more time. */
  | { readonly type: 'prolongationRequested'; readonly count: number }
  /** Both sides are trusted (SME_HELLO_STATE_OK). */
  | { readonly type: 'helloOk' }
  /** PIN phase entered: what the partner asks for (SHIP §13.4.4.3). */
  | { readonly type: 'pinState'; readonly pinState: string; readonly inputPermission?: string }
  /** Data exchange entered (PIN OK on both sides): the application may send now. */
  | { readonly type: 'dataChannelOpen' }
  | { readonly type: 'data'; readonly payload: unknown; readonly protocolId: string }
  /** The partner's SHIP ID (first accessMethods). */
  | { readonly type: 'shipId'; readonly shipId: string }
  /** Access methods done: the connection is complete. */
  | { readonly type: 'complete' }
  /** Something was ignored or refused; the connection goes on. */
  | { readonly type: 'warning'; readonly code: ShipErrorCode; readonly message: string }
  /** The connection is over, with the failure if it was one. */
  | {
      readonly type: 'closed';
      readonly failure: SmeFailure | undefined;
      readonly closeCode: number | undefined;
      readonly byPeer: boolean;
      readonly remoteDeniedTrust: boolean;
      readonly lastPhase: Phase;
    };

export type SmeEffect =
  | { readonly kind: 'send'; readonly bytes: Uint8Array; readonly message: ShipMessageKind }
  | { readonly kind: 'startTimer'; readonly id: TimerId; readonly ms: number }
  | { readonly kind: 'cancelTimer'; readonly id: TimerId }
  /** Close the WebSocket with this code and reason. */
  | { readonly kind: 'closeTransport'; readonly code: number; readonly reason: string }
  | { readonly kind: 'event'; readonly event: SmeEvent };

export interface StepResult {
  readonly state: SmeState;
  readonly effects: readonly SmeEffect[];
}
