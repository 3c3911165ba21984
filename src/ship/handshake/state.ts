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

/** What every state carries, whatever the phase. */
interface SmeStateBase {
  readonly config: SmeConfig;
  /** When the current sub-state was entered (driver clock, ms). */
  readonly enteredAt: number;
  /** The partner's last `waiting` value (SHIP §13.4.4.1.3). */
  readonly peerWaitingMs: number | undefined;
  /** Prolongation requests of the partner we granted. */
  readonly prolongationsGranted: number;
  /** Prolongation requests we sent. */
  readonly prolongationsRequested: number;
  /** Wrong PINs the partner entered (lockout, house style §9). */
  readonly pinAttempts: number;
  /** Undecodable messages during data exchange (SHIP-TS-MSG-01/02). */
  readonly invalidMessages: number;
  /** The phase reached last before closing, for diagnostics. */
  readonly lastOpenPhase: Phase;
}

/**
 * The flags of the phases a state has passed or is in. Each member of `SmeState` narrows them
 * to what that sub-state allows, so impossible combinations (data exchange with a PIN still
 * missing, a hello READY that waits for our own approval, ...) cannot be written.
 */
interface SmeFlags {
  /** Our basic hello state (SHIP §13.4.4.1): READY once trusted. */
  readonly localReady: boolean;
  /** The partner said `ready` while we were PENDING (SHIP §13.4.4.1.3). */
  readonly peerReady: boolean;
  /** When our Wait-For-Ready timer expires, if it runs (hello phase only). */
  readonly wfrDeadline: number | undefined;
  /** PIN verification (SHIP §13.4.4.3): our requirement satisfied / the partner's satisfied. */
  readonly localPinDone: boolean;
  readonly remotePinDone: boolean;
  /** We sent the partner's PIN. */
  readonly pinInputSent: boolean;
  /** The partner's SHIP ID from accessMethods (SHIP §13.4.6). */
  readonly peerShipId: string | undefined;
  /** Why we are closing or closed, if it was a failure. */
  readonly failure: SmeFailure | undefined;
  /** Close code we sent or received. */
  readonly closeCode: number | undefined;
  /** The partner ended the connection (connectionClose announce or socket close). */
  readonly closedByPeer: boolean;
  /** The partner refused trust (hello aborted, or closed while we waited for its READY). */
  readonly remoteDeniedTrust: boolean;
}

/**
 * One member of SmeState: the sub-states it covers, and the flags narrowed to what they allow.
 * Flags not narrowed keep the type SmeFlags gives them.
 */
type StateOf<Sub extends SubState, Narrowed extends Partial<SmeFlags>> = SmeStateBase &
  Omit<SmeFlags, keyof Narrowed> &
  Narrowed & { readonly sub: Sub };

/** A connection nothing has ended yet, no failure recorded. */
interface Untroubled {
  readonly closeCode: undefined;
  readonly closedByPeer: false;
  readonly failure: undefined;
  readonly remoteDeniedTrust: false;
}

/** No PIN phase yet: the partner's requirement is open, nothing was sent. */
interface BeforePin {
  readonly remotePinDone: false;
  readonly pinInputSent: false;
  readonly peerShipId: undefined;
}

/** INIT and SHIP §13.4.3 CMI: only the configuration decided anything. */
export type SmeStateBeforeHello = StateOf<
  'INIT' | 'CMI_STATE_CLIENT_WAIT' | 'CMI_STATE_SERVER_WAIT',
  Untroubled & BeforePin & { readonly peerReady: false; readonly wfrDeadline: undefined }
>;

/** SHIP §13.4.4.1, SME_HELLO_STATE_READY_LISTEN: we trust the partner and wait for its READY. */
export type SmeStateHelloReady = StateOf<
  'SME_HELLO_STATE_READY_LISTEN',
  Untroubled & BeforePin & { readonly localReady: true; readonly peerReady: false }
>;

/** SHIP §13.4.4.1, SME_HELLO_STATE_PENDING_LISTEN: a person must still decide about the partner. */
export type SmeStateHelloPending = StateOf<
  'SME_HELLO_STATE_PENDING_LISTEN',
  Untroubled & BeforePin & { readonly localReady: false }
>;

/** SHIP §13.4.4.1 abort procedure: we sent `aborted`; the close follows 1 s later. */
export type SmeStateHelloAborted = StateOf<
  'SME_HELLO_STATE_ABORT_DONE',
  BeforePin & {
    readonly closeCode: undefined;
    readonly closedByPeer: false;
    readonly wfrDeadline: undefined;
    /** Why we aborted: always known here. */
    readonly failure: SmeFailure;
    readonly remoteDeniedTrust: false;
  }
>;

/** SHIP §13.4.4.1: the partner sent `aborted`, it does not trust us; the close follows. */
export type SmeStateHelloRemoteAborted = StateOf<
  'SME_HELLO_STATE_REMOTE_ABORT_DONE',
  BeforePin & {
    readonly closeCode: undefined;
    readonly closedByPeer: false;
    readonly wfrDeadline: undefined;
    readonly failure: SmeFailure;
    readonly remoteDeniedTrust: true;
  }
>;

/** SHIP §13.4.4.2 protocol handshake: both sides trust each other. */
export type SmeStateProtocol = StateOf<
  | 'SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE'
  | 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL'
  | 'SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM',
  Untroubled & BeforePin & { readonly localReady: true; readonly wfrDeadline: undefined }
>;

/** SHIP §13.4.4.3 PIN verification, both directions in one state. */
export type SmeStatePin = StateOf<
  'SME_PIN_STATE_LISTEN',
  Untroubled & {
    readonly localReady: true;
    readonly wfrDeadline: undefined;
    readonly peerShipId: undefined;
  }
>;

/**
 * SHIP §13.4.5/§13.4.6 data exchange (our accessMethodsRequest outstanding, or complete) and
 * SHIP §13.4.7 close announced: only ever after PIN OK on both sides (SHIP §13.4.5).
 */
export type SmeStateData = StateOf<
  'SME_ACCESS_METHODS_REQUEST' | 'SME_STATE_COMPLETE' | 'CLOSING_ANNOUNCED',
  Untroubled & {
    readonly localReady: true;
    readonly wfrDeadline: undefined;
    readonly localPinDone: true;
    readonly remotePinDone: true;
  }
>;

/** CLOSED: reached from any state, so every flag keeps whatever it had. */
export type SmeStateClosed = StateOf<'CLOSED', object>;

/**
 * The state of one SME: a union keyed by the sub-state, one member per phase (PHASE_OF), each
 * narrowing the phase-specific flags to what that phase allows. Immutable: every step returns a
 * new object when anything changes.
 */
export type SmeState =
  | SmeStateBeforeHello
  | SmeStateHelloReady
  | SmeStateHelloPending
  | SmeStateHelloAborted
  | SmeStateHelloRemoteAborted
  | SmeStateProtocol
  | SmeStatePin
  | SmeStateData
  | SmeStateClosed;

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
