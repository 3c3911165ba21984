/**
 * Request/reply correlation of one SPINE connection as a pure state machine: every outgoing
 * datagram gets its `msgCounter` here, requests that expect an answer wait in a pending table
 * with a deadline, incoming `reply`/`result` datagrams are matched by `msgCounterReference`,
 * everything else is handed on, and answers to the peer are addressed here.
 *
 * Spec sections implemented (as spine-protocol.md names them):
 * - §2.2 "The classifiers": a `read` expects one `reply` (or an error `result`); `write`, `call`,
 *   `notify` and `reply` with `ackRequest` expect a `result`; a `result` is never answered.
 * - §2.3 "msgCounter / msgCounterReference" (SPINE_PS 5.2.3): strictly ascending per sender,
 *   starting at 1 as spine-go does, wrapping from 2^64−1 to 0, never colliding with a counter
 *   still awaiting an answer; replies and results carry the request's counter as reference and
 *   their own new counter; received counters are never checked for order (SPINE-TS-DATA-03).
 * - §2.4 "Addressing replies and results": destination = request source, source = request
 *   destination with our device address filled in.
 * - §6.1/§6.2 results: errorNumber 0 is the positive acknowledgement.
 * - §6.4 "Timeouts": deadline = maxResponseDelay (default 10 s, SPINE_PS 5.2.5.3) + margin;
 *   expiry is reported, never retried here, and never closes the connection.
 *
 * No I/O and no clock: `now` (ms) comes with every input; the deadline check is a timer the
 * driver runs (`startTimer`/`cancelTimer` effects) and feeds back as a `timer` input.
 */
import type { FeatureAddress } from '../model/address.js';
import {
  MSG_COUNTER_MAX,
  SPECIFICATION_VERSION,
  type CmdClassifier,
  type MsgCounter,
  type ResultData,
  type SpineCmd,
  type SpineDatagram,
  type SpineHeader,
} from '../model/datagram.js';

/** The one timer of this machine: the earliest response deadline (§6.4). */
export const RESPONSE_TIMER = 'spineResponseDeadline';

/** Default `maxResponseDelay` when a feature announces none (SPINE_PS 5.2.5.3; §6.4). */
export const DEFAULT_MAX_RESPONSE_DELAY_MS = 10_000;

/** Configuration of one connection's correlation. */
export interface CorrelationConfig {
  /** Our device address (§4.1), filled into every source address that lacks one (§2.4). */
  localDevice: string;
  /** Header `specificationVersion` we send; default {@link SPECIFICATION_VERSION}. */
  specificationVersion?: string;
  /** Used when a request names no `maxResponseDelayMs`; default 10 s (§6.4). */
  defaultMaxResponseDelayMs?: number;
  /** Added to every deadline for transport latency (§6.4 "+ margin"); default 2 s. */
  responseMarginMs?: number;
  /** Most requests awaiting an answer; further requests are refused. Default 256. */
  maxPending?: number;
  /** First counter we send; default 1 (spine-go `Sender.getMsgCounter`, §2.3). */
  firstMsgCounter?: MsgCounter;
}

/** What a pending request waits for. */
export type Expectation = 'reply' | 'result';

/** A request we sent that awaits its answer. */
export interface PendingRequest {
  readonly msgCounter: MsgCounter;
  readonly classifier: CmdClassifier;
  readonly expects: Expectation;
  readonly source: FeatureAddress;
  readonly destination: FeatureAddress;
  /** Function of the first cmd, for logs and callers. */
  readonly functionName?: string;
  readonly sentAt: number;
  readonly deadline: number;
  /** The caller's own correlation value, returned with every event about this request. */
  readonly tag?: unknown;
}

/** State of one connection's correlation. Treat as immutable. */
export interface CorrelationState {
  readonly config: Required<CorrelationConfig>;
  /** The counter the next datagram gets. */
  readonly nextMsgCounter: MsgCounter;
  readonly pending: ReadonlyMap<MsgCounter, PendingRequest>;
  /** Deadline the response timer is armed for, if any. */
  readonly timerAt: number | undefined;
  /** After `closed` nothing is sent any more. */
  readonly closed: boolean;
}

/** An outgoing request or notify the application wants sent. */
export interface OutgoingRequest {
  classifier: 'read' | 'write' | 'call' | 'notify';
  /** Our feature; `device` defaults to our device address. */
  source: FeatureAddress;
  destination: FeatureAddress;
  cmd: SpineCmd | readonly SpineCmd[];
  /** Ask for a `result` (§2.2). Ignored for `read` (its reply is the answer). */
  ackRequest?: boolean;
  /** The destination feature's announced maxResponseDelay, if known. */
  maxResponseDelayMs?: number;
  tag?: unknown;
}

/** Inputs of {@link step}. */
export type CorrelationInput =
  /** The application sends a read/write/call/notify. */
  | { readonly kind: 'send'; readonly now: number; readonly request: OutgoingRequest }
  /**
   * A decoded datagram arrived. If the caller already processed it, `outcome` is that result:
   * the step then sends the `result` the rules of §6.2 ask for.
   */
  | {
      readonly kind: 'received';
      readonly now: number;
      readonly datagram: SpineDatagram;
      readonly outcome?: ResultData;
    }
  /**
   * Answer a received `read` with its `reply` data (§2.2, §2.4): one cmd per cmd of the read,
   * in the read's order.
   */
  | {
      readonly kind: 'reply';
      readonly now: number;
      readonly request: SpineHeader;
      readonly cmd: SpineCmd | readonly SpineCmd[];
    }
  /** Answer a received datagram with a `result` (§6.1/§6.2). */
  | {
      readonly kind: 'acknowledge';
      readonly now: number;
      readonly request: SpineHeader;
      readonly result: ResultData;
    }
  /** The response timer fired. */
  | { readonly kind: 'timer'; readonly now: number }
  /** The connection ended: every pending request fails (§7.4 step 5). */
  | { readonly kind: 'closed'; readonly now: number };

/** What the application learns. */
export type CorrelationEvent =
  /** A `reply` to one of our reads. */
  | { readonly kind: 'replied'; readonly request: PendingRequest; readonly datagram: SpineDatagram }
  /** A `result` to one of our requests; `accepted` = errorNumber 0 (§6.1). */
  | {
      readonly kind: 'resultReceived';
      readonly request: PendingRequest;
      readonly result: ResultData;
      readonly accepted: boolean;
      readonly datagram: SpineDatagram;
    }
  /** No answer before the deadline (§6.4). The request is forgotten. */
  | { readonly kind: 'timedOut'; readonly request: PendingRequest }
  /** The connection closed before the answer. */
  | { readonly kind: 'abandoned'; readonly request: PendingRequest }
  /**
   * A datagram for the application: read, write, call, notify, or a reply/result we were not
   * waiting for (late, or to a request that expected none). `ackRequested` says that a `result`
   * is owed (send it with an `acknowledge` input, unless `outcome` was given).
   */
  | {
      readonly kind: 'deliver';
      readonly datagram: SpineDatagram;
      readonly ackRequested: boolean;
      readonly correlated: false;
    }
  /** A request the machine did not send, and why. */
  | {
      readonly kind: 'refused';
      readonly reason: 'closed' | 'tooManyPending' | 'resultIsNeverAnswered';
      readonly tag?: unknown;
    };

/** What the driver does. */
export type CorrelationEffect =
  | { readonly kind: 'send'; readonly datagram: SpineDatagram }
  | { readonly kind: 'startTimer'; readonly id: typeof RESPONSE_TIMER; readonly ms: number }
  | { readonly kind: 'cancelTimer'; readonly id: typeof RESPONSE_TIMER }
  | { readonly kind: 'event'; readonly event: CorrelationEvent };

/** Result of {@link step}. */
export interface CorrelationStep {
  readonly state: CorrelationState;
  readonly effects: readonly CorrelationEffect[];
}

/** The state of a new connection. */
export function initialCorrelationState(config: CorrelationConfig): CorrelationState {
  const full: Required<CorrelationConfig> = {
    specificationVersion: SPECIFICATION_VERSION,
    defaultMaxResponseDelayMs: DEFAULT_MAX_RESPONSE_DELAY_MS,
    responseMarginMs: 2_000,
    maxPending: 256,
    firstMsgCounter: 1n,
    ...config,
  };
  return {
    config: full,
    nextMsgCounter: full.firstMsgCounter,
    pending: new Map(),
    timerAt: undefined,
    closed: false,
  };
}

/**
 * True if a received datagram owes a `result` when processed successfully (§2.2, §6.2 rules 2–4):
 * `ackRequest` on notify, reply, write or call. Never for `read` (its reply answers it) or `result`.
 */
export function ackRequested(header: SpineHeader): boolean {
  return (
    header.ackRequest === true &&
    header.cmdClassifier !== 'read' &&
    header.cmdClassifier !== 'result'
  );
}

/**
 * True if a `result` must be sent for this outcome of processing a received datagram (§6.2):
 * success only when acknowledgement was requested; failure of a write or call always (spine-go),
 * of a notify/reply only when acknowledgement was requested (SPINE-TS-COMP-04), of a read always
 * (it replaces the reply); never for a `result`.
 */
export function resultOwed(header: SpineHeader, outcome: ResultData): boolean {
  switch (header.cmdClassifier) {
    case 'result':
      return false;
    case 'read':
      return outcome.errorNumber !== 0;
    case 'write':
    case 'call':
      return outcome.errorNumber !== 0 || header.ackRequest === true;
    case 'notify':
    case 'reply':
      return header.ackRequest === true;
  }
}

/** The counter after `counter`, wrapping at 2^64−1 (§2.3). */
function following(counter: MsgCounter): MsgCounter {
  return counter >= MSG_COUNTER_MAX ? 0n : counter + 1n;
}

/** Takes the next counter that no pending request holds (§2.3 "must not collide"). */
function takeCounter(state: CorrelationState): { counter: MsgCounter; next: MsgCounter } {
  let counter = state.nextMsgCounter;
  // At most `pending.size` counters are taken, so this ends.
  while (state.pending.has(counter)) counter = following(counter);
  return { counter, next: following(counter) };
}

/** Fills in our device address where a source address lacks it (spine-protocol.md §2.4). */
function withDevice(address: FeatureAddress, device: string): FeatureAddress {
  return address.device === undefined ? { device, ...address } : address;
}

/** Re-arms or cancels the response timer so that it fires at the earliest deadline. */
function armTimer(state: CorrelationState, now: number, effects: CorrelationEffect[]) {
  let earliest: number | undefined;
  for (const request of state.pending.values()) {
    if (earliest === undefined || request.deadline < earliest) earliest = request.deadline;
  }
  if (earliest === state.timerAt) return state;
  if (earliest === undefined) {
    effects.push({ kind: 'cancelTimer', id: RESPONSE_TIMER });
  } else {
    effects.push({ kind: 'startTimer', id: RESPONSE_TIMER, ms: Math.max(0, earliest - now) });
  }
  return { ...state, timerAt: earliest };
}

/** Builds and counts one outgoing datagram. */
function emitDatagram(
  state: CorrelationState,
  header: Omit<SpineHeader, 'msgCounter' | 'specificationVersion'>,
  cmd: readonly SpineCmd[],
): { state: CorrelationState; datagram: SpineDatagram } {
  const { counter, next } = takeCounter(state);
  const full: SpineHeader = {
    specificationVersion: state.config.specificationVersion,
    addressSource: header.addressSource,
    addressDestination: header.addressDestination,
    msgCounter: counter,
    cmdClassifier: header.cmdClassifier,
  };
  if (header.msgCounterReference !== undefined) {
    full.msgCounterReference = header.msgCounterReference;
  }
  if (header.ackRequest !== undefined) full.ackRequest = header.ackRequest;
  return {
    state: { ...state, nextMsgCounter: next },
    datagram: { header: full, payload: { cmd } },
  };
}

/** The answer's header (§2.4): back to the requester, from the addressed feature of ours. */
function answerHeader(
  state: CorrelationState,
  request: SpineHeader,
  classifier: 'reply' | 'result',
): Omit<SpineHeader, 'msgCounter' | 'specificationVersion'> {
  return {
    addressSource: withDevice(request.addressDestination, state.config.localDevice),
    addressDestination: request.addressSource,
    msgCounterReference: request.msgCounter,
    cmdClassifier: classifier,
  };
}

/** The `resultData` cmd of a result datagram (spine-protocol.md §6.1). */
function resultCmd(result: ResultData): SpineCmd {
  const value: Record<string, unknown> = { errorNumber: result.errorNumber };
  if (result.description !== undefined) value.description = result.description;
  return { data: { name: 'resultData', value } };
}

/** Reads `resultData` from a result datagram; a missing or broken one counts as error 1. */
function readResult(datagram: SpineDatagram): ResultData {
  const data = datagram.payload.cmd[0]?.data;
  if (data?.name === 'resultData' && typeof data.value === 'object' && data.value !== null) {
    const { errorNumber, description } = data.value as Record<string, unknown>;
    if (typeof errorNumber === 'number' && Number.isInteger(errorNumber) && errorNumber >= 0) {
      return typeof description === 'string' ? { errorNumber, description } : { errorNumber };
    }
  }
  return { errorNumber: 1, description: 'result without a valid resultData' };
}

/**
 * One step: the new state and the effects to run, in order. Never throws for peer input.
 */
export function step(state: CorrelationState, input: CorrelationInput): CorrelationStep {
  const effects: CorrelationEffect[] = [];
  switch (input.kind) {
    case 'send':
      return sendRequest(state, input.now, input.request, effects);
    case 'received':
      return receive(state, input.now, input.datagram, input.outcome, effects);
    case 'reply': {
      if (state.closed) return refuse(state, 'closed', undefined);
      const cmds: readonly SpineCmd[] = Array.isArray(input.cmd)
        ? (input.cmd as readonly SpineCmd[])
        : [input.cmd as SpineCmd];
      const sent = emitDatagram(state, answerHeader(state, input.request, 'reply'), cmds);
      return { state: sent.state, effects: [{ kind: 'send', datagram: sent.datagram }] };
    }
    case 'acknowledge':
      return acknowledge(state, input.request, input.result, effects);
    case 'timer':
      return expire(state, input.now, effects);
    case 'closed': {
      for (const request of state.pending.values()) {
        effects.push({ kind: 'event', event: { kind: 'abandoned', request } });
      }
      if (state.timerAt !== undefined) effects.push({ kind: 'cancelTimer', id: RESPONSE_TIMER });
      return { state: { ...state, pending: new Map(), timerAt: undefined, closed: true }, effects };
    }
  }
}

/** Leaves the state unchanged and reports why nothing was sent. */
function refuse(
  state: CorrelationState,
  reason: 'closed' | 'tooManyPending' | 'resultIsNeverAnswered',
  tag: unknown,
): CorrelationStep {
  const event: CorrelationEvent =
    tag === undefined ? { kind: 'refused', reason } : { kind: 'refused', reason, tag };
  return { state, effects: [{ kind: 'event', event }] };
}

/** Counts, addresses and sends a request; registers it as pending if it expects an answer (§2.2, §2.3, §6.4). */
function sendRequest(
  state: CorrelationState,
  now: number,
  request: OutgoingRequest,
  effects: CorrelationEffect[],
): CorrelationStep {
  if (state.closed) return refuse(state, 'closed', request.tag);
  const expects: Expectation | undefined =
    request.classifier === 'read' ? 'reply' : request.ackRequest === true ? 'result' : undefined;
  if (expects !== undefined && state.pending.size >= state.config.maxPending) {
    return refuse(state, 'tooManyPending', request.tag);
  }
  const cmd: readonly SpineCmd[] = Array.isArray(request.cmd)
    ? (request.cmd as readonly SpineCmd[])
    : [request.cmd as SpineCmd];
  const header: Omit<SpineHeader, 'msgCounter' | 'specificationVersion'> = {
    addressSource: withDevice(request.source, state.config.localDevice),
    addressDestination: request.destination,
    cmdClassifier: request.classifier,
  };
  // A read is answered by its reply whatever ackRequest says (§2.2); do not ask for more.
  if (request.ackRequest === true && request.classifier !== 'read') header.ackRequest = true;
  const sent = emitDatagram(state, header, cmd);
  effects.push({ kind: 'send', datagram: sent.datagram });
  let next = sent.state;
  if (expects !== undefined) {
    const delay = request.maxResponseDelayMs ?? state.config.defaultMaxResponseDelayMs;
    const functionName = cmd[0]?.data?.name;
    const pending: PendingRequest = {
      msgCounter: sent.datagram.header.msgCounter,
      classifier: request.classifier,
      expects,
      source: header.addressSource,
      destination: request.destination,
      sentAt: now,
      deadline: now + delay + state.config.responseMarginMs,
      ...(functionName !== undefined ? { functionName } : {}),
      ...(request.tag !== undefined ? { tag: request.tag } : {}),
    };
    const table = new Map(next.pending);
    table.set(pending.msgCounter, pending);
    next = armTimer({ ...next, pending: table }, now, effects);
  }
  return { state: next, effects };
}

/** Matches a reply/result by msgCounterReference or hands the datagram on; sends the result §6.2 asks for when the outcome is known. */
function receive(
  state: CorrelationState,
  now: number,
  datagram: SpineDatagram,
  outcome: ResultData | undefined,
  effects: CorrelationEffect[],
): CorrelationStep {
  const { header } = datagram;
  const reference = header.msgCounterReference;
  const answer = header.cmdClassifier === 'reply' || header.cmdClassifier === 'result';
  const request = answer && reference !== undefined ? state.pending.get(reference) : undefined;
  let next = state;
  if (request !== undefined) {
    const table = new Map(state.pending);
    table.delete(request.msgCounter);
    next = armTimer({ ...state, pending: table }, now, effects);
    if (header.cmdClassifier === 'result') {
      const result = readResult(datagram);
      effects.push({
        kind: 'event',
        event: {
          kind: 'resultReceived',
          request,
          result,
          accepted: result.errorNumber === 0,
          datagram,
        },
      });
    } else {
      effects.push({ kind: 'event', event: { kind: 'replied', request, datagram } });
    }
  } else {
    effects.push({
      kind: 'event',
      event: { kind: 'deliver', datagram, ackRequested: ackRequested(header), correlated: false },
    });
  }
  // A reply to our read may itself ask for an acknowledgement (§2.2, spine-go answers it).
  if (outcome !== undefined && resultOwed(header, outcome) && !next.closed) {
    const sent = emitDatagram(next, answerHeader(next, header, 'result'), [resultCmd(outcome)]);
    effects.push({ kind: 'send', datagram: sent.datagram });
    next = sent.state;
  }
  return { state: next, effects };
}

/** Sends a `result` for a received datagram, never for a result (§6.2, SPINE-TS-DATA-06). */
function acknowledge(
  state: CorrelationState,
  request: SpineHeader,
  result: ResultData,
  effects: CorrelationEffect[],
): CorrelationStep {
  if (state.closed) return refuse(state, 'closed', undefined);
  // "A result is never answered, whatever it says" (SPINE-TS-DATA-06).
  if (request.cmdClassifier === 'result') return refuse(state, 'resultIsNeverAnswered', undefined);
  const sent = emitDatagram(state, answerHeader(state, request, 'result'), [resultCmd(result)]);
  effects.push({ kind: 'send', datagram: sent.datagram });
  return { state: sent.state, effects };
}

/** Reports every request whose deadline has passed and re-arms the timer (spine-protocol.md §6.4). */
function expire(state: CorrelationState, now: number, effects: CorrelationEffect[]) {
  const table = new Map(state.pending);
  for (const request of state.pending.values()) {
    if (request.deadline <= now) {
      table.delete(request.msgCounter);
      effects.push({ kind: 'event', event: { kind: 'timedOut', request } });
    }
  }
  // The timer fired, so it is no longer armed; arm it again for what is left (no cancel needed
  // when nothing is left: armTimer sees no change).
  return {
    state: armTimer({ ...state, pending: table, timerAt: undefined }, now, effects),
    effects,
  };
}
