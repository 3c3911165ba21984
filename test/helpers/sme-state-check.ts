/**
 * Checks at run time what the members of SmeState (src/ship/handshake/state.ts) say at compile
 * time: the flags each sub-state allows. The machine builds its next state in a draft, so the
 * compiler cannot see every write; this check sees every state a test reaches.
 */
import type { SmeState } from '../../src/ship/handshake/index.js';

type Expectation = Partial<Record<keyof SmeState, unknown>>;

const UNTROUBLED: Expectation = {
  closeCode: undefined,
  closedByPeer: false,
  failure: undefined,
  remoteDeniedTrust: false,
};
const BEFORE_PIN: Expectation = {
  remotePinDone: false,
  pinInputSent: false,
  peerShipId: undefined,
};
const ABORTED: Expectation = {
  ...BEFORE_PIN,
  closeCode: undefined,
  closedByPeer: false,
  wfrDeadline: undefined,
};

/** The fixed values of each sub-state (`failure` of the abort states is checked apart). */
const FIXED: Record<SmeState['sub'], Expectation> = {
  INIT: { ...UNTROUBLED, ...BEFORE_PIN, peerReady: false, wfrDeadline: undefined },
  CMI_STATE_CLIENT_WAIT: { ...UNTROUBLED, ...BEFORE_PIN, peerReady: false, wfrDeadline: undefined },
  CMI_STATE_SERVER_WAIT: { ...UNTROUBLED, ...BEFORE_PIN, peerReady: false, wfrDeadline: undefined },
  SME_HELLO_STATE_READY_LISTEN: {
    ...UNTROUBLED,
    ...BEFORE_PIN,
    localReady: true,
    peerReady: false,
  },
  SME_HELLO_STATE_PENDING_LISTEN: { ...UNTROUBLED, ...BEFORE_PIN, localReady: false },
  SME_HELLO_STATE_ABORT_DONE: { ...ABORTED, remoteDeniedTrust: false },
  SME_HELLO_STATE_REMOTE_ABORT_DONE: { ...ABORTED, remoteDeniedTrust: true },
  SME_PROT_H_STATE_CLIENT_LISTEN_CHOICE: {
    ...UNTROUBLED,
    ...BEFORE_PIN,
    localReady: true,
    wfrDeadline: undefined,
  },
  SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL: {
    ...UNTROUBLED,
    ...BEFORE_PIN,
    localReady: true,
    wfrDeadline: undefined,
  },
  SME_PROT_H_STATE_SERVER_LISTEN_CONFIRM: {
    ...UNTROUBLED,
    ...BEFORE_PIN,
    localReady: true,
    wfrDeadline: undefined,
  },
  SME_PIN_STATE_LISTEN: {
    ...UNTROUBLED,
    localReady: true,
    wfrDeadline: undefined,
    peerShipId: undefined,
  },
  SME_ACCESS_METHODS_REQUEST: {
    ...UNTROUBLED,
    localReady: true,
    wfrDeadline: undefined,
    localPinDone: true,
    remotePinDone: true,
  },
  SME_STATE_COMPLETE: {
    ...UNTROUBLED,
    localReady: true,
    wfrDeadline: undefined,
    localPinDone: true,
    remotePinDone: true,
  },
  CLOSING_ANNOUNCED: {
    ...UNTROUBLED,
    localReady: true,
    wfrDeadline: undefined,
    localPinDone: true,
    remotePinDone: true,
  },
  CLOSED: {},
};

/** What is wrong with `state` for its sub-state, or undefined if nothing is. */
export function smeStateProblem(state: SmeState): string | undefined {
  const expected = FIXED[state.sub];
  for (const [key, value] of Object.entries(expected)) {
    const actual = state[key as keyof SmeState];
    if (actual !== value) {
      return `${state.sub}: ${key} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`;
    }
  }
  // The union says an abort state always has its failure; a draft could still lack it.
  const failure: unknown = state.failure;
  if (
    (state.sub === 'SME_HELLO_STATE_ABORT_DONE' ||
      state.sub === 'SME_HELLO_STATE_REMOTE_ABORT_DONE') &&
    failure === undefined
  ) {
    return `${state.sub} without a failure`;
  }
  return undefined;
}
