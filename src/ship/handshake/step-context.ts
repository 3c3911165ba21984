/**
 * What every phase module of the SME works with: `Step`, one step's working copy of the state
 * plus the effects collected so far, the `PhaseHandler` shape of the phase table in
 * ./machine.ts, and the closing helpers every phase uses (SHIP §13.4.7 and the failure table).
 */
import { encodeMessage } from '../codec/index.js';
import { failureClose, type ClosingShipErrorCode, type ShipErrorCode } from '../errors.js';
import type { ShipMessage } from '../messages.js';
import {
  PHASE_OF,
  type SmeConfig,
  type SmeEffect,
  type SmeEvent,
  type SmeFailure,
  type SmeState,
  type StepResult,
  type SubState,
} from './state.js';
import { HELLO_TIMERS, type TimerId } from './timers.js';

/** Every message a phase handler sees: connectionClose is handled in every phase alike. */
export type PhaseMessage = Exclude<ShipMessage, { readonly kind: 'connectionClose' }>;

/**
 * What one SHIP phase does with the inputs that depend on the phase. Each phase module owns its
 * messages, its undecodable messages and its timers; ./machine.ts only picks the handler.
 */
export interface PhaseHandler {
  /** The raw frame, for phases that read it before any decoding (CMI); others decode first. */
  readonly bytes?: (s: Step, bytes: Uint8Array) => void;
  /** A decoded message other than connectionClose (accepted in every phase, ./termination.ts). */
  readonly message: (s: Step, message: PhaseMessage) => void;
  /** A message that could not be decoded; `text` says why. */
  readonly undecodable: (s: Step, text: string) => void;
  /** A timer fired while the machine is in this phase (timers of other phases are stale). */
  readonly timer: (s: Step, id: TimerId) => void;
}

/** For inputs a phase ignores. */
export function ignore(): void {
  // Nothing to do: the input means nothing in this phase.
}

/**
 * The working copy: every field of every SmeState member, writable. Within one step a state may
 * pass through combinations no member allows (the sub-state changes before the flags that go
 * with it); `result()` hands out the draft as the state the step ends in.
 */
type Draft = { -readonly [K in keyof SmeState]: SmeState[K] };

/** One step's working copy: a draft of the next state and the effects collected so far. */
export class Step {
  readonly draft: Draft;
  readonly effects: SmeEffect[] = [];
  readonly now: number;
  private changed = false;

  constructor(
    private readonly prev: SmeState,
    now: number,
  ) {
    this.draft = { ...prev };
    this.now = now;
  }

  get config(): SmeConfig {
    return this.draft.config;
  }

  get sub(): SubState {
    return this.draft.sub;
  }

  set<K extends keyof Draft>(key: K, value: Draft[K]): void {
    if (this.draft[key] !== value) {
      this.draft[key] = value;
      this.changed = true;
    }
  }

  goto(to: SubState): void {
    const from = this.draft.sub;
    if (from === to) return;
    const durationMs = this.now - this.draft.enteredAt;
    this.set('sub', to);
    this.set('enteredAt', this.now);
    const phase = PHASE_OF[to];
    if (phase !== 'closing' && phase !== 'closed') this.set('lastOpenPhase', phase);
    this.emit({ type: 'state', from, to, phase, durationMs });
  }

  send(message: ShipMessage): void {
    this.effects.push({ kind: 'send', bytes: encodeMessage(message), message: message.kind });
  }

  sendBytes(bytes: Uint8Array, message: ShipMessage['kind']): void {
    this.effects.push({ kind: 'send', bytes, message });
  }

  startTimer(id: TimerId, ms: number): void {
    this.effects.push({ kind: 'startTimer', id, ms: Math.max(0, ms) });
  }

  cancelTimer(id: TimerId): void {
    this.effects.push({ kind: 'cancelTimer', id });
  }

  cancelTimers(ids: readonly TimerId[]): void {
    for (const id of ids) this.cancelTimer(id);
  }

  emit(event: SmeEvent): void {
    this.effects.push({ kind: 'event', event });
  }

  warn(code: ShipErrorCode, message: string): void {
    this.emit({ type: 'warning', code, message });
  }

  result(): StepResult {
    if (!this.changed && this.effects.length === 0) return { state: this.prev, effects: [] };
    // The phase modules end every step in a combination SmeState allows (each member states its
    // phase's invariants; test/unit/ship/state-union.test.ts checks every state the handshake
    // tests and fuzz scripts reach).
    const next = this.changed ? (this.draft as SmeState) : this.prev;
    return { state: next, effects: this.effects };
  }
}

export function failure<C extends ShipErrorCode>(
  s: Step,
  code: C,
  message: string,
  hint?: string,
): SmeFailure & { readonly code: C } {
  const phase = PHASE_OF[s.sub] === 'closing' ? s.draft.lastOpenPhase : PHASE_OF[s.sub];
  return hint === undefined ? { code, phase, message } : { code, phase, message, hint };
}

/**
 * Ends the connection because of a failure: close code and reason come from the failure table
 * (src/ship/errors.ts). A failure recorded earlier (hello abort) is kept as the cause.
 */
export function failNow(
  s: Step,
  fail: SmeFailure & { readonly code: ClosingShipErrorCode },
  undecodable = false,
): void {
  const close = failureClose(fail.code, fail.message, undecodable);
  if (s.draft.failure === undefined) s.set('failure', fail);
  closeNow(s, close.code, close.reason);
}

/** Closes the WebSocket now; the `closed` event follows at once. */
export function closeNow(s: Step, code: number, reason: string): void {
  s.set('closeCode', code);
  s.cancelTimers(activeTimers(s.sub));
  s.cancelTimer('helloAbortClose');
  s.cancelTimer('closeMaxTime');
  s.effects.push({ kind: 'closeTransport', code, reason });
  s.goto('CLOSED');
  emitClosed(s);
}

export function emitClosed(s: Step): void {
  s.emit({
    type: 'closed',
    failure: s.draft.failure,
    closeCode: s.draft.closeCode,
    byPeer: s.draft.closedByPeer,
    remoteDeniedTrust: s.draft.remoteDeniedTrust,
    lastPhase: s.draft.lastOpenPhase,
  });
}

/** Timers that may run in a sub-state (cancelled when we leave it for good). */
export function activeTimers(sub: SubState): readonly TimerId[] {
  switch (PHASE_OF[sub]) {
    case 'cmi':
      return ['cmi'];
    case 'hello':
      return HELLO_TIMERS;
    case 'protocol':
      return ['protocolWait'];
    case 'pin':
      return ['pinWait'];
    case 'data':
      return ['accessMethodsReply'];
    case 'closing':
      return ['closeMaxTime', 'accessMethodsReply'];
    case 'init':
    case 'closed':
      return [];
  }
}
