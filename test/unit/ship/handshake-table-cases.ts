/**
 * Resting states and input classes for the state × input table test. Each state is reached by a
 * scripted prefix; each input is applied to a fresh copy of that state.
 */
import type { ShipMessage } from '../../../src/ship/messages.js';
import type { SmeConfig } from '../../../src/ship/handshake/index.js';
import { SmeHarness } from '../../helpers/sme-harness.js';

const CMI: ShipMessage = { kind: 'init', cmiHead: 0 };
const READY: ShipMessage = { kind: 'connectionHello', value: { phase: 'ready', waiting: 60000 } };
const V1 = { major: 1, minor: 0 };
const ANNOUNCE: ShipMessage = {
  kind: 'messageProtocolHandshake',
  value: { handshakeType: 'announceMax', version: V1, formats: ['JSON-UTF8'] },
};
const SELECT: ShipMessage = {
  kind: 'messageProtocolHandshake',
  value: { handshakeType: 'select', version: V1, formats: ['JSON-UTF8'] },
};
const PIN_NONE: ShipMessage = { kind: 'connectionPinState', value: { pinState: 'none' } };

export const STATES: Record<string, () => SmeHarness> = {
  INIT: () => new SmeHarness({ role: 'server' }),
  CMI_CLIENT_WAIT: () => started({ role: 'client' }),
  CMI_SERVER_WAIT: () => started({ role: 'server' }),
  READY_LISTEN: () => started({ role: 'server' }, CMI),
  PENDING_LISTEN: () => started({ role: 'server', initialTrust: 'pending' }, CMI),
  ABORT_DONE: () => {
    const h = started({ role: 'server', initialTrust: 'pending' }, CMI);
    h.decide(false);
    return h;
  },
  REMOTE_ABORT_DONE: () =>
    started({ role: 'server' }, CMI, { kind: 'connectionHello', value: { phase: 'aborted' } }),
  CLIENT_LISTEN_CHOICE: () => started({ role: 'client' }, CMI, READY),
  SERVER_LISTEN_PROPOSAL: () => started({ role: 'server' }, CMI, READY),
  SERVER_LISTEN_CONFIRM: () => started({ role: 'server' }, CMI, READY, ANNOUNCE),
  PIN_LISTEN: () => started({ role: 'server' }, CMI, READY, ANNOUNCE, SELECT),
  ACCESS_METHODS_REQUEST: () => started({ role: 'server' }, CMI, READY, ANNOUNCE, SELECT, PIN_NONE),
  COMPLETE: () =>
    started({ role: 'server' }, CMI, READY, ANNOUNCE, SELECT, PIN_NONE, {
      kind: 'accessMethods',
      value: { id: 'peer' },
    }),
  CLOSING_ANNOUNCED: () => {
    const h = STATES.COMPLETE!();
    h.input({ kind: 'close' });
    return h;
  },
  CLOSED: () => {
    const h = STATES.COMPLETE!();
    h.input({ kind: 'transportClosed' });
    return h;
  },
};

function started(config: Partial<SmeConfig> & Pick<SmeConfig, 'role'>, ...messages: ShipMessage[]) {
  const h = new SmeHarness(config);
  h.start();
  for (const m of messages) h.receive(m);
  return h;
}

const utf8 = new TextEncoder();
function raw(type: number, json: string): Uint8Array {
  return new Uint8Array([type, ...utf8.encode(json)]);
}

export const INPUTS: Record<string, (h: SmeHarness) => void> = {
  cmi: (h) => h.receive(CMI),
  badCmi: (h) => h.receive(new Uint8Array([1, 0])),
  ready: (h) => h.receive(READY),
  readyNoWait: (h) => h.receive(raw(1, '{"connectionHello":[{"phase":"ready"}]}')),
  pending: (h) =>
    h.receive({ kind: 'connectionHello', value: { phase: 'pending', waiting: 60000 } }),
  prolong: (h) =>
    h.receive({ kind: 'connectionHello', value: { phase: 'pending', prolongationRequest: true } }),
  aborted: (h) => h.receive({ kind: 'connectionHello', value: { phase: 'aborted' } }),
  announceMax: (h) => h.receive(ANNOUNCE),
  select: (h) => h.receive(SELECT),
  protoError: (h) => h.receive(raw(1, '{"error":3}')),
  pinNone: (h) => h.receive(PIN_NONE),
  amRequest: (h) => h.receive({ kind: 'accessMethodsRequest' }),
  accessMethods: (h) => h.receive({ kind: 'accessMethods', value: { id: 'peer' } }),
  data: (h) => h.receive({ kind: 'data', value: { protocolId: 'ee1.0', payload: { n: 1 } } }),
  announce: (h) =>
    h.receive({ kind: 'connectionClose', value: { phase: 'announce', maxTime: 500 } }),
  confirm: (h) => h.receive({ kind: 'connectionClose', value: { phase: 'confirm' } }),
  garbage: (h) => h.receive(raw(1, '{not json')),
  oneByte: (h) => h.receive(new Uint8Array([2])),
  approve: (h) => h.decide(true),
  deny: (h) => h.decide(false),
  appSend: (h) => h.input({ kind: 'send', payload: { n: 2 } }),
  appClose: (h) => h.input({ kind: 'close' }),
  lost: (h) => h.input({ kind: 'transportClosed' }),
};

const SHORT: Record<string, string> = {
  init: 'cmi',
  connectionHello: 'hello',
  messageProtocolHandshake: 'prot',
  messageProtocolHandshakeError: 'protErr',
  connectionPinState: 'pin',
  connectionPinInput: 'pinIn',
  connectionPinError: 'pinErr',
  accessMethodsRequest: 'amReq',
  accessMethods: 'am',
  data: 'data',
  connectionClose: 'close',
};

/** A compact description of what one input did: sends, events, close code, next state. */
export function outcome(state: string, input: string): string {
  const h = STATES[state]!();
  const sentBefore = h.sent.length;
  const eventsBefore = h.events.length;
  const closedBefore = h.closed;
  const subBefore = h.state.sub;
  INPUTS[input]!(h);
  const parts: string[] = [];
  for (const m of h.sent.slice(sentBefore)) parts.push(`>${SHORT[m.kind]}`);
  for (const e of h.events.slice(eventsBefore)) {
    if (e.type === 'data') parts.push('DATA');
    if (e.type === 'trustRequired') parts.push('ASK');
    if (e.type === 'dataChannelOpen') parts.push('OPEN');
  }
  if (closedBefore === undefined && h.closed !== undefined) parts.push(`x${h.closed.code}`);
  if (h.state.sub !== subBefore) parts.push(`@${h.state.sub.replace(/^SME_|_STATE/g, '')}`);
  return parts.join(' ') || '-';
}
