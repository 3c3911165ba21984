/**
 * The SHIP message exchange (SME) as a pure state machine, SHIP §13.4: CMI, connection data
 * preparation (hello, protocol handshake, PIN verification), connection data exchange with
 * access methods, and termination. No I/O, no timers, no clock: time arrives with every input,
 * timers and sends leave as effects.
 */
import { CloseCode, CloseReasonText } from '../close-codes.js';
import { decodeMessage, encodeMessage } from '../codec/index.js';
import { failureClose, type ClosingShipErrorCode, type ShipErrorCode } from '../errors.js';
import {
  CMI_HEAD,
  FORMAT_JSON_UTF8,
  PROTOCOL_ID_SPINE,
  ProtocolHandshakeErrorCode,
  type ConnectionHello,
  type MessageProtocolHandshake,
  type ShipMessage,
} from '../messages.js';
import {
  PHASE_OF,
  type Phase,
  type SmeConfig,
  type SmeEffect,
  type SmeEvent,
  type SmeFailure,
  type SmeInput,
  type SmeState,
  type StepResult,
  type SubState,
} from './state.js';
import { DEFAULT_TIMINGS, HELLO_TIMERS, type TimerId } from './timers.js';

/** SHIP 1.0 is the only version we speak (SHIP §13.4.4.2). */
const SHIP_VERSION = { major: 1, minor: 0 } as const;

/** Encoded once: these messages never change. */
const CMI_BYTES = encodeMessage({ kind: 'init', cmiHead: CMI_HEAD });
const ACCESS_METHODS_REQUEST_BYTES = encodeMessage({ kind: 'accessMethodsRequest' });
const CLOSE_CONFIRM_BYTES = encodeMessage({
  kind: 'connectionClose',
  value: { phase: 'confirm' },
});

/** Defaults for everything in SmeConfig but role, SHIP ID and trust. */
export const DEFAULT_SME_LIMITS = {
  maxProlongationsGranted: 30,
  maxPinAttempts: 3,
  maxInvalidMessages: 50,
  maxMessageBytes: 1024 * 1024,
  maxControlMessageBytes: 8 * 1024,
  maxControlJsonDepth: 16,
  timings: DEFAULT_TIMINGS,
} as const;

/** Builds a config with the defaults filled in. */
export function smeConfig(
  base: Pick<SmeConfig, 'role' | 'localShipId' | 'initialTrust'> & Partial<SmeConfig>,
): SmeConfig {
  return { ...DEFAULT_SME_LIMITS, ...base };
}

/** The state before `start`. */
export function initialState(config: SmeConfig, now = 0): SmeState {
  return {
    config,
    sub: 'INIT',
    enteredAt: now,
    localReady: config.initialTrust === 'trusted',
    peerReady: false,
    wfrDeadline: undefined,
    peerWaitingMs: undefined,
    prolongationsGranted: 0,
    prolongationsRequested: 0,
    localPinDone: config.localPin === undefined,
    remotePinDone: false,
    pinInputSent: false,
    pinAttempts: 0,
    peerShipId: undefined,
    invalidMessages: 0,
    failure: undefined,
    closeCode: undefined,
    closedByPeer: false,
    remoteDeniedTrust: false,
    lastOpenPhase: 'init',
  };
}

/** True when the application may send data (SHIP §13.4.5: after PIN OK on both sides). */
export function canSendData(state: SmeState): boolean {
  return state.sub === 'SME_ACCESS_METHODS_REQUEST' || state.sub === 'SME_STATE_COMPLETE';
}

export function phaseOf(state: SmeState): Phase {
  return PHASE_OF[state.sub];
}

type Draft = { -readonly [K in keyof SmeState]: SmeState[K] };

/** One step's working copy: a draft of the next state and the effects collected so far. */
class Step {
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
    return { state: this.changed ? this.draft : this.prev, effects: this.effects };
  }
}

/**
 * The transition function: the next state and the effects to carry out, in order.
 * Never throws on peer input; a peer fault becomes a close effect and a `closed` event.
 */
export function step(state: SmeState, input: SmeInput): StepResult {
  const s = new Step(state, input.now);
  if (state.sub === 'CLOSED') {
    if (input.kind === 'send') {
      s.warn('SHIPHUB_ERR_CLOSED', 'the connection is closed; the data was not sent');
    }
    return s.result();
  }
  switch (input.kind) {
    case 'start':
      onStart(s);
      break;
    case 'message':
      onMessage(s, input.bytes);
      break;
    case 'timer':
      onTimer(s, input.id);
      break;
    case 'trustDecision':
      onTrustDecision(s, input.approved);
      break;
    case 'send':
      onSend(s, input.payload, input.protocolId ?? PROTOCOL_ID_SPINE);
      break;
    case 'close':
      onLocalClose(s, input.reason ?? 'unspecific', input.explanation);
      break;
    case 'requestAccessMethods':
      if (canSendData(s.draft)) s.sendBytes(ACCESS_METHODS_REQUEST_BYTES, 'accessMethodsRequest');
      break;
    case 'transportClosed':
      onTransportClosed(s, input.code, input.reason);
      break;
  }
  return s.result();
}

// ---------------------------------------------------------------------------------------------
// Closing helpers

function failure<C extends ShipErrorCode>(
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
function failNow(
  s: Step,
  fail: SmeFailure & { readonly code: ClosingShipErrorCode },
  undecodable = false,
): void {
  const close = failureClose(fail.code, fail.message, undecodable);
  if (s.draft.failure === undefined) s.set('failure', fail);
  closeNow(s, close.code, close.reason);
}

/** Closes the WebSocket now; the `closed` event follows at once. */
function closeNow(s: Step, code: number, reason: string): void {
  s.set('closeCode', code);
  s.cancelTimers(activeTimers(s.sub));
  s.cancelTimer('helloAbortClose');
  s.cancelTimer('closeMaxTime');
  s.effects.push({ kind: 'closeTransport', code, reason });
  s.goto('CLOSED');
  emitClosed(s);
}

function emitClosed(s: Step): void {
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
function activeTimers(sub: SubState): readonly TimerId[] {
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

// ---------------------------------------------------------------------------------------------
// start, SHIP §13.4.3 CMI

function onStart(s: Step): void {
  if (s.sub !== 'INIT') return;
  s.startTimer('cmi', s.config.timings.cmiTimeoutMs);
  if (s.config.role === 'client') {
    // CMI_STATE_CLIENT_SEND: the client speaks first.
    s.sendBytes(CMI_BYTES, 'init');
    s.goto('CMI_STATE_CLIENT_WAIT');
  } else {
    s.goto('CMI_STATE_SERVER_WAIT');
  }
}

function onCmiMessage(s: Step, bytes: Uint8Array): void {
  // CMI_STATE_*_EVALUATE: MessageType 0 and CmiHead 0. ship-go tolerates bytes after the head.
  const valid = bytes.length >= 2 && bytes[0] === 0x00 && bytes[1] === CMI_HEAD;
  if (s.config.role === 'server') {
    // SHIP §13.4.3 (TC_SHIP_CMI_001/005): the server answers with its own CMI even when the
    // client's is invalid ("CmiHead 0 is all I speak"), then closes. TC_SHIP_CMI_002/006: a
    // client closes without sending anything more.
    s.sendBytes(CMI_BYTES, 'init');
  }
  if (!valid) {
    failNow(
      s,
      failure(
        s,
        'SHIPHUB_ERR_CMI_INVALID',
        // Built only here: the valid case runs on every connection.
        `the partner's first message was ${hexPreview(bytes)} instead of the CMI message 00 00`,
        'the device does not speak SHIP 1.0 (or is not a SHIP node)',
      ),
    );
    return;
  }
  s.cancelTimer('cmi');
  enterHello(s);
}

// ---------------------------------------------------------------------------------------------
// Hello, SHIP §13.4.4.1

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

function enterHello(s: Step): void {
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

function helloOk(s: Step): void {
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

function onHelloMessage(s: Step, message: ShipMessage): void {
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

function onTrustDecision(s: Step, approved: boolean): void {
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

// ---------------------------------------------------------------------------------------------
// Protocol handshake, SHIP §13.4.4.2

function enterProtocol(s: Step): void {
  s.startTimer('protocolWait', s.config.timings.protocolWaitMs);
  if (s.config.role === 'client') {
    s.send({
      kind: 'messageProtocolHandshake',
      value: { handshakeType: 'announceMax', version: SHIP_VERSION, formats: [FORMAT_JSON_UTF8] },
    });
    s.goto('SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE');
  } else {
    // The server never sends first: it waits for announceMax.
    s.goto('SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL');
  }
}

/** Sends messageProtocolHandshakeError (XSD shape) and closes, SHIP-TS-PROT-02/03. */
function protocolError(
  s: Step,
  error: number,
  fail: SmeFailure & { readonly code: ClosingShipErrorCode },
): void {
  s.send({ kind: 'messageProtocolHandshakeError', value: { error } });
  failNow(s, fail);
}

function isShip10Select(value: MessageProtocolHandshake): boolean {
  return (
    value.handshakeType === 'select' &&
    value.version.major === SHIP_VERSION.major &&
    value.version.minor === SHIP_VERSION.minor &&
    value.formats.length === 1 &&
    value.formats[0] === FORMAT_JSON_UTF8
  );
}

function onProtocolMessage(s: Step, message: ShipMessage): void {
  if (message.kind === 'messageProtocolHandshakeError') {
    failNow(
      s,
      failure(
        s,
        'SHIPHUB_ERR_PROTOCOL_PEER_ERROR',
        `the device ended the protocol handshake with error ${message.value.error}`,
      ),
    );
    return;
  }
  if (message.kind !== 'messageProtocolHandshake') {
    protocolError(
      s,
      ProtocolHandshakeErrorCode.unexpectedMessage,
      failure(
        s,
        'SHIPHUB_ERR_PROTOCOL_UNEXPECTED',
        `the device sent ${message.kind} during the protocol handshake`,
      ),
    );
    return;
  }
  const value = message.value;
  switch (s.sub) {
    case 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL': {
      if (value.handshakeType !== 'announceMax') {
        protocolError(
          s,
          ProtocolHandshakeErrorCode.unexpectedMessage,
          failure(
            s,
            'SHIPHUB_ERR_PROTOCOL_UNEXPECTED',
            'the device sent select before announceMax',
          ),
        );
        return;
      }
      // Every node supports all versions from 1.0 up to its maximum: 1.0 is always common
      // unless the partner announces less than 1.0.
      const supportsV1 = value.version.major >= SHIP_VERSION.major;
      const supportsJson = value.formats.includes(FORMAT_JSON_UTF8);
      if (!supportsV1 || !supportsJson) {
        protocolError(
          s,
          ProtocolHandshakeErrorCode.selectionMismatch,
          failure(
            s,
            'SHIPHUB_ERR_PROTOCOL_MISMATCH',
            `no common SHIP version and format: the device offers version ${value.version.major}.${value.version.minor} with ${value.formats.join(', ') || 'no format'}`,
          ),
        );
        return;
      }
      s.send({
        kind: 'messageProtocolHandshake',
        value: { handshakeType: 'select', version: SHIP_VERSION, formats: [FORMAT_JSON_UTF8] },
      });
      s.cancelTimer('protocolWait');
      s.startTimer('protocolWait', s.config.timings.protocolWaitMs);
      s.goto('SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM');
      return;
    }
    case 'SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM':
    case 'SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE': {
      if (value.handshakeType !== 'select') {
        protocolError(
          s,
          ProtocolHandshakeErrorCode.unexpectedMessage,
          failure(s, 'SHIPHUB_ERR_PROTOCOL_UNEXPECTED', 'the device sent announceMax twice'),
        );
        return;
      }
      if (!isShip10Select(value)) {
        protocolError(
          s,
          ProtocolHandshakeErrorCode.selectionMismatch,
          failure(
            s,
            'SHIPHUB_ERR_PROTOCOL_MISMATCH',
            `the device selected version ${value.version.major}.${value.version.minor} with ${value.formats.join(', ') || 'no format'}; we speak 1.0 with JSON-UTF8`,
          ),
        );
        return;
      }
      // The client echoes the selection (SME_PROT_H_STATE_CLIENT_OK).
      if (s.sub === 'SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE') s.send(message);
      s.cancelTimer('protocolWait');
      enterPin(s);
      return;
    }
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// PIN verification, SHIP §13.4.4.3

function enterPin(s: Step): void {
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

function onPinMessage(s: Step, message: ShipMessage): void {
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
    default:
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

// ---------------------------------------------------------------------------------------------
// Data exchange and access methods, SHIP §13.4.5 / §13.4.6

function enterDataExchange(s: Step): void {
  s.goto('SME_ACCESS_METHODS_REQUEST');
  s.emit({ type: 'dataChannelOpen' });
  // Sent at once: ship-go v0.6 ignores requests that come after it reached Complete.
  s.sendBytes(ACCESS_METHODS_REQUEST_BYTES, 'accessMethodsRequest');
  s.startTimer('accessMethodsReply', s.config.timings.accessMethodsReplyMs);
}

function onDataPhaseMessage(s: Step, message: ShipMessage): void {
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
    default:
      // SHIP §13.4.5.1: other control content during data exchange is ignored gracefully.
      s.warn('SHIPHUB_ERR_MESSAGE_INVALID', `${message.kind} during data exchange ignored`);
  }
}

function onSend(s: Step, payload: unknown, protocolId: string): void {
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

// ---------------------------------------------------------------------------------------------
// Termination, SHIP §13.4.7

function onLocalClose(s: Step, reason: string, explanation: string | undefined): void {
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

function onConnectionClose(s: Step, message: Extract<ShipMessage, { kind: 'connectionClose' }>) {
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

function onTransportClosed(s: Step, code: number | undefined, reason: string | undefined): void {
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
        ),
      );
    }
  }
  s.cancelTimers(activeTimers(sub));
  s.cancelTimer('helloAbortClose');
  s.goto('CLOSED');
  emitClosed(s);
}

function describeClose(code: number | undefined, reason: string | undefined): string {
  if (code === undefined) return '';
  return reason ? ` (close code ${code}: ${reason})` : ` (close code ${code})`;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

function onMessage(s: Step, bytes: Uint8Array): void {
  switch (s.sub) {
    case 'INIT':
      return;
    case 'CMI_STATE_CLIENT_WAIT':
    case 'CMI_STATE_SERVER_WAIT':
      onCmiMessage(s, bytes);
      return;
    default:
      break;
  }
  // Before data exchange only small, flat control messages are possible; anything else is
  // refused before JSON.parse runs over it (an untrusted peer's 1 MB hello cost 100s of ms).
  const handshake = PHASE_OF[s.sub] !== 'data' && PHASE_OF[s.sub] !== 'closing';
  const decoded = decodeMessage(
    bytes,
    handshake
      ? {
          maxBytes: Math.min(s.config.maxMessageBytes, s.config.maxControlMessageBytes),
          maxJsonDepth: s.config.maxControlJsonDepth,
        }
      : { maxBytes: s.config.maxMessageBytes },
  );
  if (!decoded.ok) {
    onUndecodable(s, decoded.error.code, decoded.error.detail);
    return;
  }
  const message = decoded.message;
  if (message.kind === 'connectionClose') {
    // ship-go accepts connectionClose in any state; so do we.
    onConnectionClose(s, message);
    return;
  }
  switch (PHASE_OF[s.sub]) {
    case 'hello':
      if (s.sub === 'SME_HELLO_STATE_ABORT_DONE' || s.sub === 'SME_HELLO_STATE_REMOTE_ABORT_DONE') {
        return;
      }
      onHelloMessage(s, message);
      return;
    case 'protocol':
      onProtocolMessage(s, message);
      return;
    case 'pin':
      onPinMessage(s, message);
      return;
    case 'data':
      onDataPhaseMessage(s, message);
      return;
    case 'closing':
      // Data the partner sent before it saw our announce is still delivered.
      if (message.kind === 'data' || message.kind === 'accessMethodsRequest') {
        onDataPhaseMessage(s, message);
      }
      return;
    case 'init':
    case 'cmi':
    case 'closed':
      return;
  }
}

function onUndecodable(s: Step, code: string, detail: string): void {
  const phase = PHASE_OF[s.sub];
  const text = `undecodable message (${code}): ${detail}`;
  switch (phase) {
    case 'hello':
      if (s.sub === 'SME_HELLO_STATE_ABORT_DONE' || s.sub === 'SME_HELLO_STATE_REMOTE_ABORT_DONE') {
        return;
      }
      helloAbort(s, failure(s, 'SHIPHUB_ERR_HELLO_INVALID', text));
      return;
    case 'protocol':
      protocolError(
        s,
        ProtocolHandshakeErrorCode.unexpectedMessage,
        failure(s, 'SHIPHUB_ERR_PROTOCOL_UNEXPECTED', text),
      );
      return;
    case 'pin':
      failNow(s, failure(s, 'SHIPHUB_ERR_PIN_INVALID', text), true);
      return;
    case 'data':
    case 'closing': {
      // SHIP-TS-MSG-01/02: ignoring keeps a working connection; a flood of garbage ends it.
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
      return;
    }
    case 'init':
    case 'cmi':
    case 'closed':
      return;
  }
}

function onTimer(s: Step, id: TimerId): void {
  const t = PHASE_OF[s.sub];
  switch (id) {
    case 'cmi':
      if (t !== 'cmi') return;
      failNow(
        s,
        failure(
          s,
          'SHIPHUB_ERR_CMI_TIMEOUT',
          `the device sent no CMI message within ${s.config.timings.cmiTimeoutMs / 1000} s`,
          'the peer accepted the connection but does not speak SHIP',
        ),
      );
      return;
    case 'helloWaitForReady':
    case 'helloSendProlongation':
    case 'helloProlongationReply':
    case 'helloAbortClose':
      if (t !== 'hello') return;
      onHelloTimer(s, id);
      return;
    case 'protocolWait':
      if (t !== 'protocol') return;
      protocolError(
        s,
        ProtocolHandshakeErrorCode.timeout,
        failure(
          s,
          'SHIPHUB_ERR_PROTOCOL_TIMEOUT',
          'the device did not continue the protocol handshake in time',
        ),
      );
      return;
    case 'pinWait':
      if (t !== 'pin') return;
      failNow(
        s,
        failure(s, 'SHIPHUB_ERR_PIN_TIMEOUT', 'the PIN verification did not finish in time'),
      );
      return;
    case 'accessMethodsReply':
      if (s.sub !== 'SME_ACCESS_METHODS_REQUEST') return;
      failNow(
        s,
        failure(
          s,
          'SHIPHUB_ERR_ACCESS_METHODS_TIMEOUT',
          `the device did not answer our access methods request within ${s.config.timings.accessMethodsReplyMs / 1000} s`,
        ),
      );
      return;
    case 'closeMaxTime':
      if (s.sub !== 'CLOSING_ANNOUNCED') return;
      // SHIP-TS-TERM-01: close at the latest after maxTime, even without a confirm.
      closeNow(s, CloseCode.shipClose, CloseReasonText.shipClose);
      return;
  }
}

function hexPreview(bytes: Uint8Array): string {
  const shown = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > 8 ? `${shown} …` : shown || '(empty)';
}
