/**
 * Fuzzing engine for the pure SHIP message exchange (SME) state machine, SHIP §13.4. Used by the
 * CI test (fuzz.test.ts) and the on-demand runner (run.ts); not a test file itself.
 *
 * How it works:
 * 1. Scripted prefixes drive a fresh machine with a well-behaved partner into every sub-state
 *    it can rest in, for both roles and several configurations (trusted, pending, own PIN,
 *    partner PIN, stored SHIP ID, small limits). The states are immutable, so each prefix is
 *    computed once and every fuzz run starts from the same snapshot.
 * 2. From a snapshot, fast-check generates 1 to 40 commands: peer messages (hostile bytes, valid
 *    messages of every kind, messages a well-behaved partner would send next, mutations of those
 *    and of real ship-go recordings), timer expiries (the next due timer, or any timer id at any
 *    time), trust decisions, application sends, application closes, access-methods requests,
 *    transport closes and repeated starts, each after a random pause. Timers that fall due in a
 *    pause fire first, as a driver would fire them.
 * 3. Every single step is checked against the invariants in {@link FuzzDriver.apply}; a
 *    violation throws a {@link FuzzInvariantError} that fast-check reports with its seed and path.
 */
import fc from 'fast-check';
import { decodeMessage, encodeMessage } from '../../src/ship/codec/index.js';
import {
  ALL_TIMERS,
  PHASE_OF,
  canSendData,
  initialState,
  smeConfig,
  step,
  type SmeConfig,
  type SmeEffect,
  type SmeEvent,
  type SmeInput,
  type Phase,
  type SmeState,
  type StepResult,
  type SubState,
  type TimerId,
} from '../../src/ship/handshake/index.js';
import type { ShipMessage } from '../../src/ship/messages.js';
import { arbShipBytes, arbShipMessage } from '../helpers/arbitraries.js';
import { earliestTimer } from '../helpers/sme-harness.js';
import { listVectors, loadVector } from '../helpers/vectors.js';

// ---------------------------------------------------------------------------------------------
// Invariants

/** A broken invariant, with everything needed to understand the failing step. */
export class FuzzInvariantError extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`invariant "${invariant}" broken: ${detail}`);
    this.name = 'FuzzInvariantError';
  }
}

/** Sub-states in which `data` events may be delivered (SHIP §13.4.5, and before our close). */
const DATA_DELIVERY_STATES: ReadonlySet<SubState> = new Set<SubState>([
  'SME_ACCESS_METHODS_REQUEST',
  'SME_STATE_COMPLETE',
  'CLOSING_ANNOUNCED',
]);

const EVENT_TYPES: ReadonlySet<SmeEvent['type']> = new Set<SmeEvent['type']>([
  'state',
  'trustRequired',
  'peerPending',
  'prolongationGranted',
  'prolongationRequested',
  'helloOk',
  'pinState',
  'dataChannelOpen',
  'data',
  'shipId',
  'complete',
  'warning',
  'closed',
]);

const TIMER_IDS: ReadonlySet<TimerId> = new Set(ALL_TIMERS);
const SUB_STATES: ReadonlySet<string> = new Set(Object.keys(PHASE_OF));

/** Close codes ws accepts in close(): RFC 6455 §7.4.1 minus 1004-1006, plus 3000-4999. */
function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999))
  );
}

const utf8 = new TextEncoder();

function hex(bytes: Uint8Array, max = 48): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join('');
  return bytes.length > max ? `${shown}…(${bytes.length} bytes)` : shown;
}

/** A short, loggable description of an input. */
export function describeInput(input: SmeInput): string {
  switch (input.kind) {
    case 'message':
      return `message ${hex(input.bytes)}`;
    case 'timer':
      return `timer ${input.id}`;
    case 'trustDecision':
      return `trustDecision approved=${input.approved}`;
    case 'send':
      return `send ${JSON.stringify(input.payload)?.slice(0, 80)}`;
    case 'close':
      return `close ${input.reason ?? ''}`;
    case 'transportClosed':
      return `transportClosed ${input.code ?? '-'}`;
    case 'requestAccessMethods':
    case 'start':
      return input.kind;
  }
}

function freeze<T extends object>(value: T): T {
  // The config's timings object is already frozen; the state and the config object itself are
  // frozen here, so a step that mutated its input state would throw in strict mode.
  Object.freeze(value);
  return value;
}

/** Bookkeeping of one fuzzed connection, cloned from a prefix snapshot. */
export interface DriverSnapshot {
  readonly name: string;
  readonly state: SmeState;
  readonly now: number;
  readonly timers: ReadonlyMap<TimerId, number>;
  readonly dataOpened: boolean;
  readonly closedEvents: number;
  /** A trustDecision{approved:true} was input at some point. */
  readonly approved: boolean;
}

/** Counters shared by every driver of one fuzz session (for the summary). */
export interface FuzzStats {
  inputs: number;
  runs: number;
  /** Sub-states entered during fuzzing (after the prefix). */
  readonly visited: Set<SubState>;
  /** `from→to` transitions seen during fuzzing. */
  readonly transitions: Set<string>;
  /** Connections that ended CLOSED by the end of a run. */
  closedRuns: number;
  /** Runs that delivered at least one data event or sent data. */
  dataRuns: number;
}

export function newStats(): FuzzStats {
  return {
    inputs: 0,
    runs: 0,
    visited: new Set(),
    transitions: new Set(),
    closedRuns: 0,
    dataRuns: 0,
  };
}

/**
 * Drives one machine: applies inputs, checks every invariant on every step, keeps the running
 * timers (as the real driver does) and a few facts about the connection's history.
 */
export class FuzzDriver {
  state: SmeState;
  now: number;
  readonly timers: Map<TimerId, number>;
  dataOpened: boolean;
  closedEvents: number;
  approved: boolean;
  sawData = false;
  readonly log: string[] = [];

  constructor(
    snapshot: DriverSnapshot,
    private readonly stats?: FuzzStats,
  ) {
    this.state = snapshot.state;
    this.now = snapshot.now;
    this.timers = new Map(snapshot.timers);
    this.dataOpened = snapshot.dataOpened;
    this.closedEvents = snapshot.closedEvents;
    this.approved = snapshot.approved;
  }

  static fresh(name: string, config: SmeConfig): FuzzDriver {
    return new FuzzDriver({
      name,
      state: initialState(freeze(config), 0),
      now: 0,
      timers: new Map(),
      dataOpened: false,
      closedEvents: 0,
      approved: false,
    });
  }

  snapshot(name: string): DriverSnapshot {
    return {
      name,
      state: this.state,
      now: this.now,
      timers: new Map(this.timers),
      dataOpened: this.dataOpened,
      closedEvents: this.closedEvents,
      approved: this.approved,
    };
  }

  /** Applies one input and checks every invariant. Throws FuzzInvariantError on a violation. */
  apply(input: SmeInput): StepResult {
    const prev = freeze(this.state);
    const where = () =>
      `in ${prev.sub} (${prev.config.role}, trust ${prev.config.initialTrust}) on ${describeInput(input)}; history: ${this.log.slice(-8).join(' | ')}`;
    let result: StepResult;
    try {
      result = step(prev, input);
    } catch (error: unknown) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      throw new FuzzInvariantError('never throws', `${where()}: ${text}`);
    }
    this.log.push(describeInput(input));
    if (this.log.length > 64) this.log.splice(0, 32);
    if (this.stats) this.stats.inputs += 1;
    this.check(prev, input, result, where);
    this.state = result.state;
    return result;
  }

  /**
   * Checks a step result that did not come from `step()`: lets the self-test show that each
   * invariant really fires on a bad result.
   */
  checkResult(input: SmeInput, result: StepResult): void {
    this.check(this.state, input, result, () => `self-test in ${this.state.sub}`);
  }

  private check(prev: SmeState, input: SmeInput, result: StepResult, where: () => string): void {
    const fail: (invariant: string, detail: string) => never = (invariant, detail) => {
      throw new FuzzInvariantError(invariant, `${detail} — ${where()}`);
    };
    const next = result.state;
    const effects = result.effects;
    if (!SUB_STATES.has(next.sub)) fail('valid state', `unknown sub-state ${next.sub}`);
    if (next.lastOpenPhase === 'closing' || next.lastOpenPhase === 'closed') {
      fail('valid state', `lastOpenPhase is ${next.lastOpenPhase}`);
    }

    // After CLOSED nothing leaves the machine: no bytes, no timers, no close, no state change.
    // The only thing allowed is a warning answering an application send (local feedback).
    if (prev.sub === 'CLOSED') {
      if (next !== prev) fail('after CLOSED nothing is emitted', 'the state changed');
      for (const effect of effects) {
        const allowed =
          input.kind === 'send' &&
          effect.kind === 'event' &&
          effect.event.type === 'warning' &&
          effect.event.code === 'SHIPHUB_ERR_CLOSED';
        if (!allowed) {
          fail(
            'after CLOSED nothing is emitted',
            `effect ${JSON.stringify(effectSummary(effect))}`,
          );
        }
      }
      return;
    }

    let sub: SubState = prev.sub;
    let closedTransport: number | undefined;
    let closedEventsThisStep = 0;
    const timers = this.timers;
    for (const effect of effects) {
      switch (effect.kind) {
        case 'send': {
          if (!(effect.bytes instanceof Uint8Array) || effect.bytes.length < 2) {
            fail('effects well-formed', 'send without at least 2 bytes');
          }
          if (closedTransport !== undefined) {
            fail('effects well-formed', 'send after closeTransport in the same step');
          }
          const decoded = decodeMessage(effect.bytes);
          if (!decoded.ok) {
            fail('effects well-formed', `sent bytes do not decode: ${decoded.error.detail}`);
          }
          if (decoded.message.kind !== effect.message) {
            fail(
              'effects well-formed',
              `send labelled ${effect.message} carries ${decoded.message.kind}`,
            );
          }
          if (effect.message === 'data') {
            if (input.kind !== 'send') {
              fail('no data before data exchange', 'the machine sent data on its own');
            }
            if (!canSendData(prev)) {
              fail('no data before data exchange', `data sent in ${prev.sub}`);
            }
            this.sawData = true;
          }
          break;
        }
        case 'startTimer':
          if (!TIMER_IDS.has(effect.id)) fail('effects well-formed', `unknown timer ${effect.id}`);
          if (!Number.isFinite(effect.ms) || effect.ms < 0) {
            fail('effects well-formed', `timer ${effect.id} started with ${effect.ms} ms`);
          }
          if (closedTransport !== undefined) {
            fail('effects well-formed', `timer ${effect.id} started after closeTransport`);
          }
          timers.set(effect.id, this.now + effect.ms);
          break;
        case 'cancelTimer':
          if (!TIMER_IDS.has(effect.id)) fail('effects well-formed', `unknown timer ${effect.id}`);
          timers.delete(effect.id);
          break;
        case 'closeTransport':
          // Every close carries a code the WebSocket layer can send, and a reason text.
          if (typeof effect.code !== 'number' || !isSendableCloseCode(effect.code)) {
            fail('every close carries a code', `closeTransport code ${String(effect.code)}`);
          }
          if (typeof effect.reason !== 'string') {
            fail('every close carries a code', 'closeTransport without a reason string');
          }
          if (closedTransport !== undefined) fail('effects well-formed', 'two closeTransport');
          closedTransport = effect.code;
          break;
        case 'event': {
          const event = effect.event;
          if (!EVENT_TYPES.has(event.type)) {
            fail('effects well-formed', `unknown event ${event.type}`);
          }
          switch (event.type) {
            case 'state':
              if (event.from !== sub) {
                fail(
                  'effects well-formed',
                  `state event from ${event.from}, machine was in ${sub}`,
                );
              }
              if (event.from === event.to) fail('effects well-formed', 'state event to itself');
              if (event.phase !== PHASE_OF[event.to]) {
                fail('effects well-formed', `state event phase ${event.phase} for ${event.to}`);
              }
              if (!(event.durationMs >= 0)) {
                fail('effects well-formed', `negative duration ${event.durationMs}`);
              }
              if (sub === 'CLOSED') fail('after CLOSED nothing is emitted', 'left CLOSED');
              sub = event.to;
              this.stats?.visited.add(event.to);
              this.stats?.transitions.add(`${event.from}→${event.to}`);
              break;
            case 'dataChannelOpen':
              if (this.dataOpened) fail('no data before data exchange', 'dataChannelOpen twice');
              if (sub !== 'SME_ACCESS_METHODS_REQUEST') {
                fail('no data before data exchange', `dataChannelOpen while in ${sub}`);
              }
              // Security: a pending partner reaches data exchange only after a person approved it.
              if (prev.config.initialTrust === 'pending' && !this.approved) {
                fail('no data before approval', 'data channel opened without an approval');
              }
              // With our own PIN, only after the partner entered it (SHIP §13.4.4.3).
              if (prev.config.localPin !== undefined && !next.localPinDone) {
                fail('no data before PIN', 'data channel opened without our PIN entered');
              }
              this.dataOpened = true;
              break;
            case 'data':
              if (!this.dataOpened || !DATA_DELIVERY_STATES.has(prev.sub)) {
                fail('no data before data exchange', `data event in ${prev.sub}`);
              }
              if (input.kind !== 'message') {
                fail('no data before data exchange', `data event on ${input.kind}`);
              }
              this.sawData = true;
              break;
            case 'closed':
              closedEventsThisStep += 1;
              if (sub !== 'CLOSED') {
                fail('effects well-formed', `closed event while the machine is in ${sub}`);
              }
              if (closedTransport !== undefined && event.closeCode !== closedTransport) {
                fail(
                  'every close carries a code',
                  `closed event reports ${String(event.closeCode)}, closeTransport sent ${closedTransport}`,
                );
              }
              break;
            case 'warning':
              if (typeof event.code !== 'string' || typeof event.message !== 'string') {
                fail('effects well-formed', 'warning without code or message');
              }
              break;
            case 'trustRequired':
            case 'peerPending':
            case 'prolongationGranted':
            case 'prolongationRequested':
            case 'helloOk':
            case 'pinState':
            case 'shipId':
            case 'complete':
              if (sub === 'CLOSED') {
                fail('after CLOSED nothing is emitted', `${event.type} after CLOSED`);
              }
              break;
          }
          break;
        }
        default:
          fail('effects well-formed', `unknown effect ${JSON.stringify(effect)}`);
      }
    }
    if (sub !== next.sub)
      fail('effects well-formed', `state events end in ${sub}, state is ${next.sub}`);
    if (closedTransport !== undefined && next.sub !== 'CLOSED') {
      fail('effects well-formed', `closeTransport but the machine is in ${next.sub}`);
    }
    if (next.sub === 'CLOSED') {
      this.closedEvents += closedEventsThisStep;
      if (this.closedEvents !== 1) {
        fail('effects well-formed', `${this.closedEvents} closed events for one connection`);
      }
      // The machine cancels what it started: nothing may be left running once CLOSED.
      if (timers.size > 0) {
        fail('no timer after CLOSED', `still running: ${[...timers.keys()].join(', ')}`);
      }
    } else if (closedEventsThisStep > 0) {
      fail('effects well-formed', 'closed event without entering CLOSED');
    }
    if (input.kind === 'trustDecision' && input.approved) this.approved = true;
  }

  /** Fires every timer due at or before `until`, in deadline order, then sets the time. */
  advanceTo(until: number): void {
    for (let guard = 0; guard < 64; guard++) {
      const next = earliestTimer(this.timers);
      if (next === undefined || next.at > until) break;
      this.now = Math.max(this.now, next.at);
      this.timers.delete(next.id);
      this.apply({ kind: 'timer', now: this.now, id: next.id });
    }
    this.now = Math.max(this.now, until);
  }

  /** Fires the next due timer now (if any). */
  fireNext(): boolean {
    const next = earliestTimer(this.timers);
    if (next === undefined) return false;
    this.advanceTo(next.at);
    return true;
  }

  /** Runs one generated command. */
  exec(cmd: FuzzCommand): void {
    this.advanceTo(this.now + cmd.dt);
    const now = this.now;
    switch (cmd.k) {
      case 'msg':
        this.apply({ kind: 'message', now, bytes: cmd.bytes });
        return;
      case 'smart': {
        const list = PHASE_MESSAGES[PHASE_OF[this.state.sub]];
        const bytes = list[cmd.pick % list.length] as Uint8Array;
        this.apply({ kind: 'message', now, bytes: cmd.edit ? cmd.edit(bytes) : bytes });
        return;
      }
      case 'timer':
        if (cmd.stale !== undefined) {
          // A timer input the driver would not deliver now (not running, or early): must be
          // ignored or handled, never crash.
          this.timers.delete(cmd.stale);
          this.apply({ kind: 'timer', now, id: cmd.stale });
        } else {
          this.fireNext();
        }
        return;
      case 'trust':
        this.apply({ kind: 'trustDecision', now, approved: cmd.approved });
        return;
      case 'send':
        this.apply(
          cmd.protocolId === undefined
            ? { kind: 'send', now, payload: cmd.payload }
            : { kind: 'send', now, payload: cmd.payload, protocolId: cmd.protocolId },
        );
        return;
      case 'close': {
        const input: SmeInput = { kind: 'close', now };
        this.apply(
          cmd.reason === undefined
            ? input
            : { ...input, reason: cmd.reason as 'unspecific', explanation: cmd.reason },
        );
        return;
      }
      case 'ams':
        this.apply({ kind: 'requestAccessMethods', now });
        return;
      case 'transportClosed':
        this.apply(
          cmd.code === undefined
            ? { kind: 'transportClosed', now }
            : { kind: 'transportClosed', now, code: cmd.code, reason: cmd.reason ?? '' },
        );
        return;
      case 'start':
        this.apply({ kind: 'start', now });
        return;
    }
  }

  /** Ends a run: records it in the stats. */
  finish(): void {
    if (!this.stats) return;
    this.stats.runs += 1;
    if (this.state.sub === 'CLOSED') this.stats.closedRuns += 1;
    if (this.sawData) this.stats.dataRuns += 1;
  }
}

function effectSummary(effect: SmeEffect): unknown {
  switch (effect.kind) {
    case 'send':
      return { send: effect.message, bytes: hex(effect.bytes, 24) };
    case 'event':
      return { event: effect.event.type };
    case 'startTimer':
    case 'cancelTimer':
    case 'closeTransport':
      return effect;
  }
}

// ---------------------------------------------------------------------------------------------
// Messages a partner would send

const enc = (m: ShipMessage): Uint8Array => encodeMessage(m);
const frame = (typeByte: number, text: string): Uint8Array => {
  const body = utf8.encode(text);
  const out = new Uint8Array(body.length + 1);
  out[0] = typeByte;
  out.set(body, 1);
  return out;
};

export const PEER_SHIP_ID = 'peer-ship-id';
export const LOCAL_PIN = '1234ABCD';
export const REMOTE_PIN = 'cafe0123';

export const MSG = {
  cmi: enc({ kind: 'init', cmiHead: 0 }),
  ready: enc({ kind: 'connectionHello', value: { phase: 'ready', waiting: 60_000 } }),
  pending: enc({ kind: 'connectionHello', value: { phase: 'pending', waiting: 60_000 } }),
  aborted: enc({ kind: 'connectionHello', value: { phase: 'aborted' } }),
  announceMax: enc({
    kind: 'messageProtocolHandshake',
    value: {
      handshakeType: 'announceMax',
      version: { major: 1, minor: 0 },
      formats: ['JSON-UTF8'],
    },
  }),
  select: enc({
    kind: 'messageProtocolHandshake',
    value: { handshakeType: 'select', version: { major: 1, minor: 0 }, formats: ['JSON-UTF8'] },
  }),
  pinNone: enc({ kind: 'connectionPinState', value: { pinState: 'none' } }),
  pinRequired: enc({
    kind: 'connectionPinState',
    value: { pinState: 'required', inputPermission: 'ok' },
  }),
  pinInput: enc({ kind: 'connectionPinInput', value: { pin: LOCAL_PIN } }),
  accessMethods: enc({ kind: 'accessMethods', value: { id: PEER_SHIP_ID } }),
  closeConfirm: enc({ kind: 'connectionClose', value: { phase: 'confirm' } }),
  prolongation: enc({
    kind: 'connectionHello',
    value: { phase: 'pending', prolongationRequest: true },
  }),
  select11: enc({
    kind: 'messageProtocolHandshake',
    value: { handshakeType: 'select', version: { major: 1, minor: 1 }, formats: ['JSON-UTF8'] },
  }),
  pinOk: enc({ kind: 'connectionPinState', value: { pinState: 'pinOk' } }),
  pinBusy: enc({
    kind: 'connectionPinState',
    value: { pinState: 'required', inputPermission: 'busy' },
  }),
  pinWrong: enc({ kind: 'connectionPinInput', value: { pin: '00000000' } }),
  pinError: enc({ kind: 'connectionPinError', value: { error: 1 } }),
  accessMethodsRequest: enc({ kind: 'accessMethodsRequest' }),
  accessMethodsOther: enc({ kind: 'accessMethods', value: { id: 'another-ship-id' } }),
  data: enc({
    kind: 'data',
    value: { protocolId: 'ee1.0', payload: { datagram: [{ header: [{ msgCounter: 1 }] }] } },
  }),
  closeAnnounce: enc({
    kind: 'connectionClose',
    value: { phase: 'announce', maxTime: 500, reason: 'unspecific' },
  }),
} as const;

/** What a well-behaved (or slightly off) partner sends in some phase, as wire bytes. */
const CONTEXT_MESSAGES: readonly Uint8Array[] = [
  MSG.cmi,
  Uint8Array.of(0x00, 0x01),
  Uint8Array.of(0x01, 0x00),
  Uint8Array.of(0x00, 0x00, 0x00),
  MSG.ready,
  enc({ kind: 'connectionHello', value: { phase: 'ready' } }),
  MSG.pending,
  enc({ kind: 'connectionHello', value: { phase: 'pending', waiting: 500 } }),
  enc({ kind: 'connectionHello', value: { phase: 'pending', waiting: 0 } }),
  MSG.prolongation,
  enc({
    kind: 'connectionHello',
    value: { phase: 'pending', waiting: 60_000, prolongationRequest: false },
  }),
  enc({ kind: 'connectionHello', value: { phase: 'pending' } }),
  MSG.aborted,
  MSG.announceMax,
  enc({
    kind: 'messageProtocolHandshake',
    value: {
      handshakeType: 'announceMax',
      version: { major: 2, minor: 0 },
      formats: ['JSON-UTF16'],
    },
  }),
  MSG.select,
  MSG.select11,
  enc({ kind: 'messageProtocolHandshakeError', value: { error: 2 } }),
  frame(0x01, '{"error":3}'),
  MSG.pinNone,
  MSG.pinOk,
  MSG.pinRequired,
  MSG.pinBusy,
  enc({ kind: 'connectionPinState', value: { pinState: 'optional', inputPermission: 'ok' } }),
  MSG.pinInput,
  MSG.pinWrong,
  MSG.pinError,
  MSG.accessMethodsRequest,
  MSG.accessMethods,
  MSG.accessMethodsOther,
  MSG.data,
  enc({ kind: 'data', value: { protocolId: 'other', payload: null } }),
  MSG.closeAnnounce,
  enc({ kind: 'connectionClose', value: { phase: 'announce', reason: 'User close' } }),
  MSG.closeConfirm,
  frame(0x01, '{"connectionClose":[{"phase":"announce"}]}'),
  frame(0x02, '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":{"a":1}}]}\u0000\u0000'),
  frame(0x01, ' {\n "connectionHello" : [ {"phase":"ready"} , {"waiting":60000} ] }\n'),
];

/**
 * What a partner plausibly sends next in each phase (the right message, its neighbours, and the
 * messages of the phases before and after), so that fuzzed runs walk through the handshake.
 */
const PHASE_MESSAGES: Record<Phase, readonly Uint8Array[]> = (() => {
  const hello = [MSG.ready, MSG.pending, MSG.prolongation, MSG.aborted, MSG.announceMax];
  const protocol = [MSG.announceMax, MSG.select, MSG.select11, MSG.ready];
  const pin = [
    MSG.pinNone,
    MSG.pinOk,
    MSG.pinRequired,
    MSG.pinBusy,
    MSG.pinInput,
    MSG.pinWrong,
    MSG.pinError,
    MSG.accessMethodsRequest,
  ];
  const data = [
    MSG.data,
    MSG.data,
    MSG.accessMethodsRequest,
    MSG.accessMethods,
    MSG.accessMethodsOther,
    MSG.closeAnnounce,
    MSG.closeConfirm,
  ];
  return {
    init: [MSG.cmi],
    cmi: [MSG.cmi, MSG.cmi, MSG.cmi, Uint8Array.of(0x00, 0x01), MSG.ready],
    hello: [...hello, ...hello, MSG.cmi, MSG.select],
    protocol: [...protocol, ...protocol, MSG.pinNone],
    pin: [...pin, ...pin, MSG.select, MSG.accessMethods, MSG.data],
    data: [...data, ...data, MSG.pinNone, MSG.ready],
    closing: [MSG.closeConfirm, MSG.data, MSG.accessMethodsRequest, MSG.closeAnnounce],
    closed: [MSG.cmi, MSG.data],
  };
})();

let corpus: readonly Uint8Array[] | undefined;

/** Every message of the ship-go recordings (test/golden/fixtures), plus the context messages. */
export function mutationCorpus(): readonly Uint8Array[] {
  if (corpus === undefined) {
    const recorded: Uint8Array[] = [];
    for (const file of listVectors()) {
      try {
        for (const m of loadVector(file).messages) recorded.push(m.bytes);
      } catch {
        // Recordings without a SHIP session (mDNS) have no identities: nothing to take.
      }
    }
    corpus = [...CONTEXT_MESSAGES, ...recorded];
  }
  return corpus;
}

/** One edit of a byte array (flip, truncate, insert, splice, type byte, padding, JSON-aware). */
const arbEdit: fc.Arbitrary<(bytes: Uint8Array) => Uint8Array> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xff })).map(([at, value]) => (b: Uint8Array) => {
    const out = b.slice();
    if (out.length > 0) out[at % out.length] = value;
    return out;
  }),
  fc.nat().map((at) => (b: Uint8Array) => b.slice(0, at % (b.length + 1))),
  fc
    .tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }))
    .map(([at, extra]) => (b: Uint8Array) => {
      const cut = at % (b.length + 1);
      const out = new Uint8Array(b.length + extra.length);
      out.set(b.subarray(0, cut));
      out.set(extra, cut);
      out.set(b.subarray(cut), cut + extra.length);
      return out;
    }),
  // delete a range
  fc.tuple(fc.nat(), fc.nat({ max: 16 })).map(([at, n]) => (b: Uint8Array) => {
    const cut = at % (b.length + 1);
    const out = new Uint8Array(Math.max(0, b.length - n));
    out.set(b.subarray(0, cut).subarray(0, out.length));
    if (cut < out.length) out.set(b.subarray(cut + n), cut);
    return out;
  }),
  fc.integer({ min: 0, max: 0xff }).map((type) => (b: Uint8Array) => {
    const out = b.slice();
    if (out.length > 0) out[0] = type;
    return out;
  }),
  // JSON-aware: replace a token (number, string, bracket) by another one
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(
        '0',
        '-1',
        '4294967296',
        '1e309',
        '"x"',
        '""',
        'null',
        'true',
        '[]',
        '{}',
        '[[[[[[[[',
        '"\\ud800"',
        '"__proto__"',
        ',',
        ':',
      ),
    )
    .map(([at, token]) => (b: Uint8Array) => {
      const text = new TextDecoder().decode(b.subarray(1));
      const spots = [...text.matchAll(/-?\d+|"(?:[^"\\]|\\.)*"|[[\]{}]/g)];
      const spot = spots[at % Math.max(1, spots.length)];
      if (spot === undefined || spot.index === undefined) return b;
      const replaced = text.slice(0, spot.index) + token + text.slice(spot.index + spot[0].length);
      return frame(b[0] ?? 1, replaced);
    }),
);

/** A corpus message with 1 to 3 edits. */
export const arbMutatedCorpus: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.nat(), fc.array(arbEdit, { minLength: 1, maxLength: 3 }))
  .map(([index, edits]) => {
    const all = mutationCorpus();
    const base = all[index % all.length] as Uint8Array;
    return edits.reduce((bytes, edit) => edit(bytes), base);
  });

/** Peer message bytes of every flavour. */
export const arbPeerBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...CONTEXT_MESSAGES) },
  { weight: 3, arbitrary: arbMutatedCorpus },
  { weight: 2, arbitrary: arbShipBytes },
  { weight: 1, arbitrary: arbShipMessage.map((m) => encodeMessage(m)) },
  { weight: 1, arbitrary: fc.nat().map((i) => mutationCorpus()[i % mutationCorpus().length]!) },
);

// ---------------------------------------------------------------------------------------------
// Commands

export type FuzzCommand = { readonly dt: number } & (
  | { readonly k: 'msg'; readonly bytes: Uint8Array }
  /** A message that fits the machine's current phase, picked when the command runs. */
  | {
      readonly k: 'smart';
      readonly pick: number;
      readonly edit: ((bytes: Uint8Array) => Uint8Array) | undefined;
    }
  | { readonly k: 'timer'; readonly stale: TimerId | undefined }
  | { readonly k: 'trust'; readonly approved: boolean }
  | { readonly k: 'send'; readonly payload: unknown; readonly protocolId: string | undefined }
  | { readonly k: 'close'; readonly reason: string | undefined }
  | { readonly k: 'ams' }
  | { readonly k: 'transportClosed'; readonly code: number | undefined; readonly reason?: string }
  | { readonly k: 'start' }
);

/** Pauses before a command: mostly short, sometimes long enough for timers to expire. */
const arbDt: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 200 }) },
  { weight: 2, arbitrary: fc.integer({ min: 200, max: 20_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 200_000 }) },
);

const arbPayload: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant({ datagram: [{ header: [{ msgCounter: 7 }] }] }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
);

export const arbCommand: fc.Arbitrary<FuzzCommand> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({ k: fc.constant('msg' as const), dt: arbDt, bytes: arbPeerBytes }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('timer' as const),
      dt: arbDt,
      stale: fc.option(fc.constantFrom(...ALL_TIMERS), { nil: undefined, freq: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('trust' as const),
      dt: arbDt,
      approved: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('send' as const),
      dt: arbDt,
      payload: arbPayload,
      protocolId: fc.option(fc.constantFrom('ee1.0', 'other'), { nil: undefined, freq: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('close' as const),
      dt: arbDt,
      reason: fc.option(fc.constantFrom('unspecific', 'removedConnection'), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ams' as const), dt: arbDt }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('transportClosed' as const),
      dt: arbDt,
      code: fc.option(fc.constantFrom(1000, 1002, 1003, 1009, 4001, 4452, 4500, 3999), {
        nil: undefined,
      }),
      reason: fc.string({ maxLength: 20 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('start' as const), dt: arbDt }) },
);

/**
 * A gentler mix: mostly what a real partner sends (in any order), local inputs and short pauses,
 * few mutations. Hostile runs mostly end the connection within a few inputs; these get deep into
 * data exchange and closing before something odd happens.
 */
export const arbGentleCommand: fc.Arbitrary<FuzzCommand> = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.record({
      k: fc.constant('smart' as const),
      dt: fc.integer({ min: 0, max: 50 }),
      pick: fc.nat(),
      edit: fc.option(arbEdit, { nil: undefined, freq: 8 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('msg' as const),
      dt: fc.integer({ min: 0, max: 50 }),
      bytes: fc.oneof(
        { weight: 9, arbitrary: fc.constantFrom(...CONTEXT_MESSAGES) },
        { weight: 1, arbitrary: arbPeerBytes },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('trust' as const),
      dt: fc.integer({ min: 0, max: 50 }),
      approved: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('send' as const),
      dt: fc.integer({ min: 0, max: 50 }),
      payload: arbPayload,
      protocolId: fc.constant(undefined),
    }),
  },
  { weight: 1, arbitrary: arbCommand },
);

/** One run's commands: hostile (anything goes) or gentle (mostly plausible), half and half. */
export const arbCommands: fc.Arbitrary<FuzzCommand[]> = fc.oneof(
  fc.array(arbCommand, { minLength: 1, maxLength: 40 }),
  fc.array(arbGentleCommand, { minLength: 1, maxLength: 40 }),
);

// ---------------------------------------------------------------------------------------------
// Scripted prefixes: every resting state, both roles

type ScriptStep =
  | { readonly peer: Uint8Array }
  | { readonly local: 'start' | 'approve' | 'deny' | 'close' | 'transportClosed' }
  | { readonly fire: TimerId };

interface Scenario {
  readonly name: string;
  readonly config: SmeConfig;
  /** Linear paths from INIT; every state reached on the way is a snapshot. */
  readonly paths: readonly (readonly ScriptStep[])[];
}

const S = (peer: Uint8Array): ScriptStep => ({ peer });
const L = (local: 'start' | 'approve' | 'deny' | 'close' | 'transportClosed'): ScriptStep => ({
  local,
});

function scenarios(): Scenario[] {
  const base = (role: 'client' | 'server', extra: Partial<SmeConfig> = {}) =>
    smeConfig({ role, localShipId: `local-${role}`, initialTrust: 'trusted', ...extra });
  const serverHappy = [L('start'), S(MSG.cmi), S(MSG.ready), S(MSG.announceMax), S(MSG.select)];
  const clientHappy = [L('start'), S(MSG.cmi), S(MSG.ready), S(MSG.select)];
  const toData = [S(MSG.pinNone), S(MSG.accessMethods), L('close'), S(MSG.closeConfirm)];
  return [
    {
      name: 'server-trusted',
      config: base('server'),
      paths: [
        [...serverHappy, ...toData],
        [L('start'), S(MSG.cmi), L('deny')],
        [L('start'), S(MSG.cmi), S(MSG.aborted)],
        [L('start'), S(MSG.cmi), S(MSG.ready), L('transportClosed')],
      ],
    },
    {
      name: 'client-trusted',
      config: base('client'),
      paths: [
        [...clientHappy, ...toData],
        [L('start'), S(MSG.cmi), L('deny')],
        [L('start'), S(MSG.cmi), S(MSG.aborted)],
        [...clientHappy, S(MSG.pinNone), L('close')],
      ],
    },
    {
      name: 'server-pending',
      config: base('server', { initialTrust: 'pending' }),
      paths: [
        // partner ready first, then our person approves
        [L('start'), S(MSG.cmi), S(MSG.ready), L('approve'), S(MSG.announceMax), S(MSG.select)],
        // partner pending, our prolongation request goes out
        [L('start'), S(MSG.cmi), S(MSG.pending), { fire: 'helloSendProlongation' }],
        // approved before the partner is ready
        [L('start'), S(MSG.cmi), L('approve'), S(MSG.ready), S(MSG.announceMax)],
        [L('start'), S(MSG.cmi), L('deny')],
      ],
    },
    {
      name: 'client-pending',
      config: base('client', { initialTrust: 'pending' }),
      paths: [
        [L('start'), S(MSG.cmi), S(MSG.ready), L('approve'), S(MSG.select), ...toData],
        [L('start'), S(MSG.cmi), S(MSG.aborted)],
      ],
    },
    {
      name: 'server-own-pin',
      config: base('server', { localPin: LOCAL_PIN }),
      paths: [[...serverHappy, S(MSG.pinNone), S(MSG.pinInput), S(MSG.accessMethods)]],
    },
    {
      name: 'client-partner-pin',
      config: base('client', { remotePin: REMOTE_PIN }),
      paths: [[...clientHappy, S(MSG.pinRequired)]],
    },
    {
      name: 'server-known-ship-id',
      config: base('server', { expectedShipId: PEER_SHIP_ID }),
      paths: [[...serverHappy, S(MSG.pinNone), S(MSG.accessMethods)]],
    },
    {
      // Tight limits, so the size and invalid-message limits are reached by the fuzzer.
      name: 'client-small-limits',
      config: base('client', { maxMessageBytes: 160, maxInvalidMessages: 3, maxPinAttempts: 1 }),
      paths: [[...clientHappy, S(MSG.pinNone), S(MSG.accessMethods)]],
    },
  ];
}

/** A named snapshot to fuzz from. */
export interface Prefix extends DriverSnapshot {
  readonly scenario: string;
}

let prefixCache: Prefix[] | undefined;

/**
 * Every (scenario, resting sub-state) reached by the scripts, deduplicated by scenario, sub-state
 * and the hello flags that change behaviour. The scripts run through the checking driver too.
 */
export function prefixes(): Prefix[] {
  if (prefixCache !== undefined) return prefixCache;
  const out = new Map<string, Prefix>();
  for (const scenario of scenarios()) {
    for (const path of scenario.paths) {
      const driver = FuzzDriver.fresh(scenario.name, scenario.config);
      const keep = () => {
        const st = driver.state;
        const key = `${scenario.name}/${st.sub}/${st.localReady}/${st.peerReady}/${st.prolongationsRequested}/${st.pinInputSent}`;
        if (!out.has(key)) {
          out.set(key, { ...driver.snapshot(key), scenario: scenario.name });
        }
      };
      keep();
      for (const item of path) {
        driver.advanceTo(driver.now + 5);
        const now = driver.now;
        if ('peer' in item) {
          driver.apply({ kind: 'message', now, bytes: item.peer });
        } else if ('fire' in item) {
          if (!driver.timers.has(item.fire)) {
            throw new Error(`${scenario.name}: timer ${item.fire} is not running`);
          }
          driver.advanceTo(driver.timers.get(item.fire)!);
        } else if (item.local === 'approve' || item.local === 'deny') {
          driver.apply({ kind: 'trustDecision', now, approved: item.local === 'approve' });
        } else if (item.local === 'close') {
          driver.apply({ kind: 'close', now });
        } else if (item.local === 'transportClosed') {
          driver.apply({ kind: 'transportClosed', now, code: 4452, reason: 'rejected' });
        } else {
          driver.apply({ kind: 'start', now });
        }
        keep();
      }
    }
  }
  prefixCache = [...out.values()];
  return prefixCache;
}

/** The resting sub-states each role can be in (what the prefixes must cover). */
export const RESTING_STATES: Record<'client' | 'server', readonly SubState[]> = {
  client: [
    'INIT',
    'CMI_STATE_CLIENT_WAIT',
    'SME_HELLO_STATE_READY_LISTEN',
    'SME_HELLO_STATE_PENDING_LISTEN',
    'SME_HELLO_STATE_ABORT_DONE',
    'SME_HELLO_STATE_REMOTE_ABORT_DONE',
    'SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE',
    'SME_PIN_STATE_LISTEN',
    'SME_ACCESS_METHODS_REQUEST',
    'SME_STATE_COMPLETE',
    'CLOSING_ANNOUNCED',
    'CLOSED',
  ],
  server: [
    'INIT',
    'CMI_STATE_SERVER_WAIT',
    'SME_HELLO_STATE_READY_LISTEN',
    'SME_HELLO_STATE_PENDING_LISTEN',
    'SME_HELLO_STATE_ABORT_DONE',
    'SME_HELLO_STATE_REMOTE_ABORT_DONE',
    'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL',
    'SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM',
    'SME_PIN_STATE_LISTEN',
    'SME_ACCESS_METHODS_REQUEST',
    'SME_STATE_COMPLETE',
    'CLOSING_ANNOUNCED',
    'CLOSED',
  ],
};

/** Resting states of a role that no prefix reaches (should be empty). */
export function uncoveredStates(): string[] {
  const missing: string[] = [];
  for (const role of ['client', 'server'] as const) {
    for (const sub of RESTING_STATES[role]) {
      const found = prefixes().some((p) => p.state.config.role === role && p.state.sub === sub);
      if (!found) missing.push(`${role}:${sub}`);
    }
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// Running

export interface SmeFuzzOptions {
  readonly seed: number;
  /** fast-check runs per prefix (each run is 1-40 commands, plus timers firing). */
  readonly runsPerPrefix: number;
  readonly stats: FuzzStats;
}

/** A failed fuzz run, reproducible from seed and path. */
export interface FuzzFailure {
  readonly target: string;
  readonly seed: number;
  readonly path: string | undefined;
  readonly message: string;
}

/** Fuzzes every prefix; returns the failures (empty when every invariant held). */
export function fuzzSme(options: SmeFuzzOptions): FuzzFailure[] {
  const failures: FuzzFailure[] = [];
  const all = prefixes();
  all.forEach((prefix, index) => {
    const seed = (options.seed + index * 7919) | 0;
    const details = fc.check(
      fc.property(arbCommands, (commands) => {
        const driver = new FuzzDriver(prefix, options.stats);
        for (const command of commands) driver.exec(command);
        // Let every timer still running expire: the connection must end or rest cleanly.
        for (let i = 0; i < 16 && driver.fireNext(); i++);
        driver.finish();
      }),
      { seed, numRuns: options.runsPerPrefix },
    );
    if (details.failed) {
      failures.push({
        target: `sme ${prefix.name}`,
        seed,
        path: details.counterexamplePath ?? undefined,
        message:
          details.errorInstance instanceof Error
            ? details.errorInstance.message
            : String(details.errorInstance),
      });
    }
  });
  return failures;
}
