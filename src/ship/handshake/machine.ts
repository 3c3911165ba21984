/**
 * The SHIP message exchange (SME) as a pure state machine, SHIP §13.4: CMI, connection data
 * preparation (hello, protocol handshake, PIN verification), connection data exchange with
 * access methods, and termination. No I/O, no timers, no clock: time arrives with every input,
 * timers and sends leave as effects.
 *
 * This file is the dispatcher: each SHIP phase lives in its own module under ./phases/ and owns
 * its messages, undecodable messages and timers (`PhaseHandler`); `PHASE_HANDLERS` picks the
 * module for the phase the machine is in.
 */
import { decodeMessage } from '../codec/index.js';
import { PROTOCOL_ID_SPINE } from '../messages.js';
import { dataPhase, onSend, requestAccessMethods } from './phases/access-methods.js';
import { cmiPhase, initPhase, onStart } from './phases/cmi.js';
import { helloPhase, onTrustDecision } from './phases/hello.js';
import { pinPhase } from './phases/pin.js';
import { protocolPhase } from './phases/protocol.js';
import {
  closedPhase,
  closingPhase,
  onConnectionClose,
  onLocalClose,
  onTransportClosed,
} from './phases/termination.js';
import {
  PHASE_OF,
  type Phase,
  type SmeConfig,
  type SmeInput,
  type SmeState,
  type StepResult,
} from './state.js';
import { Step, type PhaseHandler } from './step-context.js';
import { DEFAULT_TIMINGS, type TimerId } from './timers.js';

export { canSendData } from './phases/access-methods.js';

/** The module that handles each phase's messages, undecodable messages and timers. */
const PHASE_HANDLERS: Readonly<Record<Phase, PhaseHandler>> = {
  init: initPhase,
  cmi: cmiPhase,
  hello: helloPhase,
  protocol: protocolPhase,
  pin: pinPhase,
  data: dataPhase,
  closing: closingPhase,
  closed: closedPhase,
};

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

export function phaseOf(state: SmeState): Phase {
  return PHASE_OF[state.sub];
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
      requestAccessMethods(s);
      break;
    case 'transportClosed':
      onTransportClosed(s, input.code, input.reason);
      break;
  }
  return s.result();
}

function onMessage(s: Step, bytes: Uint8Array): void {
  const phase = PHASE_OF[s.sub];
  const handler = PHASE_HANDLERS[phase];
  if (handler.bytes !== undefined) {
    handler.bytes(s, bytes);
    return;
  }
  // Before data exchange only small, flat control messages are possible; anything else is
  // refused before JSON.parse runs over it (an untrusted peer's 1 MB hello cost 100s of ms).
  const handshake = phase !== 'data' && phase !== 'closing';
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
    handler.undecodable(s, `undecodable message (${decoded.error.code}): ${decoded.error.detail}`);
    return;
  }
  const message = decoded.message;
  if (message.kind === 'connectionClose') {
    // ship-go accepts connectionClose in any state; so do we.
    onConnectionClose(s, message);
    return;
  }
  handler.message(s, message);
}

function onTimer(s: Step, id: TimerId): void {
  PHASE_HANDLERS[PHASE_OF[s.sub]].timer(s, id);
}
