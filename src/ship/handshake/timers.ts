/**
 * Every SHIP timer the state machine uses, by name, with its default and the section that sets
 * it. The machine never runs a timer itself: it emits startTimer/cancelTimer effects naming
 * these ids and receives `timer` inputs back from the driver.
 */

export type TimerId =
  /** CmiTimeout, SHIP §13.4.3: the partner's CMI message must arrive in time. */
  | 'cmi'
  /** Wait-For-Ready, SHIP §13.4.4.1.3: the partner must become READY (or ask for more time). */
  | 'helloWaitForReady'
  /** Send-Prolongation-Request, SHIP §13.4.4.1.3: ask the partner for more time before its WFR ends. */
  | 'helloSendProlongation'
  /** Prolongation-Request-Reply, SHIP §13.4.4.1.3: the partner must answer our request. */
  | 'helloProlongationReply'
  /** Delay between a hello `aborted` and closing the socket (ship-go: 1 s, then 4452). */
  | 'helloAbortClose'
  /** Protocol handshake Wait timer, SHIP §13.4.4.2. */
  | 'protocolWait'
  /** PIN verification: the partner's PIN state or answer must arrive, SHIP §13.4.4.3. */
  | 'pinWait'
  /** The reply to our accessMethodsRequest, SHIP §13.4.6.2.1 (the requester MAY close). */
  | 'accessMethodsReply'
  /** After our connectionClose announce: close at the latest after maxTime, SHIP §13.4.7. */
  | 'closeMaxTime';

export const ALL_TIMERS: readonly TimerId[] = [
  'cmi',
  'helloWaitForReady',
  'helloSendProlongation',
  'helloProlongationReply',
  'helloAbortClose',
  'protocolWait',
  'pinWait',
  'accessMethodsReply',
  'closeMaxTime',
];

export const HELLO_TIMERS: readonly TimerId[] = [
  'helloWaitForReady',
  'helloSendProlongation',
  'helloProlongationReply',
];

/** Durations of the SHIP timers, in milliseconds. */
export interface SmeTimings {
  /** SHIP §13.4.3: any value from 10 s to 30 s; ship-go uses 10 s. */
  readonly cmiTimeoutMs: number;
  /** T_hello_init, SHIP §13.4.4.1.3: 60 s to 240 s; 60 s is what ship-go expects. */
  readonly helloInitMs: number;
  /** T_hello_inc: how much an accepted prolongation request adds to WFR. */
  readonly helloIncMs: number;
  /** T_hello_prolong_thr_inc: only schedule a prolongation request if the partner's waiting is at least this. */
  readonly helloProlongThresholdMs: number;
  /** T_hello_prolong_waiting_gap: ask this long before the partner's deadline. */
  readonly helloProlongWaitingGapMs: number;
  /** T_hello_prolong_min: a partner's waiting below this aborts the hello phase. */
  readonly helloProlongMinMs: number;
  /** Delay between sending/receiving hello `aborted` and closing (ship-go: 1 s). */
  readonly helloAbortCloseDelayMs: number;
  /** Protocol handshake Wait timer (spec value unknown; ship-go reuses 10 s). */
  readonly protocolWaitMs: number;
  /** How long we wait for the partner's PIN state or PIN answer (Helianthus: at least 30 s). */
  readonly pinWaitMs: number;
  /** How long we wait when the partner said inputPermission `busy` (Helianthus: 90 s). */
  readonly pinBusyWaitMs: number;
  /** How long we wait for `accessMethods` (ship-go v0.6 10 s, dev 60 s). */
  readonly accessMethodsReplyMs: number;
  /** maxTime announced in our connectionClose, and how long we wait for the confirm. */
  readonly closeMaxTimeMs: number;
}

/** Interop-first defaults (ship-protocol reference §7.10). */
export const DEFAULT_TIMINGS: SmeTimings = Object.freeze({
  cmiTimeoutMs: 10_000,
  helloInitMs: 60_000,
  helloIncMs: 60_000,
  helloProlongThresholdMs: 30_000,
  helloProlongWaitingGapMs: 15_000,
  helloProlongMinMs: 1_000,
  helloAbortCloseDelayMs: 1_000,
  protocolWaitMs: 10_000,
  pinWaitMs: 30_000,
  pinBusyWaitMs: 90_000,
  accessMethodsReplyMs: 60_000,
  closeMaxTimeMs: 500,
});
