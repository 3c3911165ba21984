/**
 * The SME state machine step by step, one test per item of the conformance checklist
 * (ship-protocol reference §14, items 27-58) plus the ship-go interop quirks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage } from '../../../src/ship/codec/index.js';
import { DEFAULT_TIMINGS } from '../../../src/ship/handshake/index.js';
import type { ShipMessage } from '../../../src/ship/messages.js';
import { SmeHarness, SmePair } from '../../helpers/sme-harness.js';

const T = DEFAULT_TIMINGS;
const CMI: ShipMessage = { kind: 'init', cmiHead: 0 };
const READY: ShipMessage = { kind: 'connectionHello', value: { phase: 'ready', waiting: 60000 } };
const ANNOUNCE_MAX: ShipMessage = {
  kind: 'messageProtocolHandshake',
  value: { handshakeType: 'announceMax', version: { major: 1, minor: 0 }, formats: ['JSON-UTF8'] },
};
const SELECT: ShipMessage = {
  kind: 'messageProtocolHandshake',
  value: { handshakeType: 'select', version: { major: 1, minor: 0 }, formats: ['JSON-UTF8'] },
};
const PIN_NONE: ShipMessage = { kind: 'connectionPinState', value: { pinState: 'none' } };
const DATAGRAM = { datagram: [{ header: [{ msgCounter: 1 }] }] };

/** A server harness walked to the given point with a well-behaved client. */
function serverAt(point: 'hello' | 'protocol' | 'confirm' | 'pin' | 'data' | 'complete') {
  const h = new SmeHarness({ role: 'server' });
  h.start();
  h.receive(CMI);
  if (point === 'hello') return h;
  h.receive(READY);
  if (point === 'protocol') return h;
  h.receive(ANNOUNCE_MAX);
  if (point === 'confirm') return h;
  h.receive(SELECT);
  if (point === 'pin') return h;
  h.receive(PIN_NONE);
  if (point === 'data') return h;
  h.receive({ kind: 'accessMethods', value: { id: 'peer-ship-id' } });
  return h;
}

function clientAt(point: 'hello' | 'choice' | 'pin' | 'data') {
  const h = new SmeHarness({ role: 'client' });
  h.start();
  h.receive(CMI);
  if (point === 'hello') return h;
  h.receive(READY);
  if (point === 'choice') return h;
  h.receive(SELECT);
  if (point === 'pin') return h;
  h.receive(PIN_NONE);
  return h;
}

describe('CMI (SHIP 13.4.3)', () => {
  it('19: the client sends exactly 00 00 first and the server answers 00 00', () => {
    const client = new SmeHarness({ role: 'client' });
    client.start();
    assert.deepEqual([...client.sentBytes[0]!], [0, 0]);
    const server = new SmeHarness({ role: 'server' });
    server.start();
    assert.equal(server.sentBytes.length, 0, 'the server never speaks first');
    server.receive(new Uint8Array([0, 0]));
    assert.deepEqual([...server.sentBytes[0]!], [0, 0]);
  });

  for (const bytes of [
    [1, 0],
    [0, 1],
  ]) {
    it(`27/28: server gets ${bytes.join(' ')}: sends its own 00 00, then closes`, () => {
      const h = new SmeHarness({ role: 'server' });
      h.start();
      h.receive(new Uint8Array(bytes));
      assert.deepEqual([...h.sentBytes[0]!], [0, 0]);
      assert.equal(h.closeCode(), 4001);
      assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_CMI_INVALID');
    });

    it(`29: client gets ${bytes.join(' ')}: closes without sending anything more`, () => {
      const h = new SmeHarness({ role: 'client' });
      h.start();
      h.takeSent();
      h.receive(new Uint8Array(bytes));
      assert.equal(h.takeSent().length, 0);
      assert.equal(h.closeCode(), 4001);
    });
  }

  it('tolerates bytes after the CmiHead (ship-go does)', () => {
    const h = new SmeHarness({ role: 'server' });
    h.start();
    h.receive(new Uint8Array([0, 0, 7]));
    assert.equal(h.state.sub, 'SME_HELLO_STATE_READY_LISTEN');
  });

  it('30: no CMI closes after CmiTimeout, not before 10 s and before 30 s', () => {
    for (const role of ['client', 'server'] as const) {
      const h = new SmeHarness({ role });
      h.start();
      h.advance(9_999);
      assert.equal(h.closed, undefined, `${role} closed too early`);
      h.advance(20_000);
      assert.equal(h.closeCode(), 4001, `${role} did not close`);
      assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_CMI_TIMEOUT');
      assert.ok(T.cmiTimeoutMs >= 10_000 && T.cmiTimeoutMs < 30_000);
    }
  });
});

describe('hello (SHIP 13.4.4.1)', () => {
  it('31: a trusted peer gets {ready, waiting: remaining WFR in ms}', () => {
    const h = serverAt('hello');
    assert.deepEqual(h.sent.at(-1), {
      kind: 'connectionHello',
      value: { phase: 'ready', waiting: 60000 },
    });
  });

  it('32: both ready: the client announces, the server waits (TC_SHIP_HELLO_001)', () => {
    const client = clientAt('hello');
    client.takeSent();
    client.receive(READY);
    assert.deepEqual(client.takeSent(), [ANNOUNCE_MAX]);
    const server = serverAt('hello');
    server.takeSent();
    server.receive(READY);
    assert.deepEqual(server.takeSent(), []);
    assert.equal(server.state.sub, 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL');
  });

  it('33: three prolongation requests near the deadline are each granted (TC_SHIP_HELLO_002)', () => {
    const h = serverAt('hello');
    h.takeSent();
    for (let i = 1; i <= 3; i++) {
      // 1 ms before the current deadline each time.
      h.advance(i === 1 ? 59_999 : 60_000);
      assert.equal(h.closed, undefined, `aborted before request ${i}`);
      h.receive({
        kind: 'connectionHello',
        value: { phase: 'pending', prolongationRequest: true },
      });
      const [answer] = h.takeSent();
      assert.equal(answer?.kind, 'connectionHello');
      assert.equal(answer?.kind === 'connectionHello' && answer.value.phase, 'ready');
      // WFR was increased by T_hello_inc: 1 ms left + 60 s.
      assert.equal(answer?.kind === 'connectionHello' && answer.value.waiting, 60_001);
    }
    assert.equal(h.state.sub, 'SME_HELLO_STATE_READY_LISTEN');
  });

  it('34: WFR expiry sends aborted, then closes with 4452 (TC_SHIP_HELLO_003)', () => {
    const h = serverAt('hello');
    h.takeSent();
    h.advance(T.helloInitMs);
    assert.deepEqual(h.takeSent(), [{ kind: 'connectionHello', value: { phase: 'aborted' } }]);
    assert.equal(h.closed, undefined, 'waits before closing so aborted arrives first');
    h.advance(T.helloAbortCloseDelayMs);
    assert.equal(h.closeCode(), 4452);
    assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_HELLO_TIMEOUT');
  });

  it('35: {pending, waiting:120000} while ready: no reply, no state change (TC_SHIP_HELLO_004)', () => {
    const h = serverAt('hello');
    h.takeSent();
    const timersBefore = new Map(h.timers);
    h.receive({ kind: 'connectionHello', value: { phase: 'pending', waiting: 120000 } });
    assert.deepEqual(h.takeSent(), []);
    assert.equal(h.state.sub, 'SME_HELLO_STATE_READY_LISTEN');
    assert.deepEqual(h.timers, timersBefore);
    assert.ok(h.eventTypes().includes('peerPending'));
  });

  it('36: untrusted incoming peer: pending, trustRequired; a denial sends aborted and closes', () => {
    const h = new SmeHarness({ role: 'server', initialTrust: 'pending' });
    h.start();
    h.receive(CMI);
    assert.deepEqual(h.sent.at(-1), {
      kind: 'connectionHello',
      value: { phase: 'pending', waiting: 60000 },
    });
    assert.ok(h.eventTypes().includes('trustRequired'));
    h.takeSent();
    h.decide(false);
    assert.deepEqual(h.takeSent(), [{ kind: 'connectionHello', value: { phase: 'aborted' } }]);
    h.advance(1000);
    assert.equal(h.closeCode(), 4452);
    assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_TRUST_DENIED');
  });

  it('37: untrusted peer approved within WFR: ready with waiting, then the protocol handshake', () => {
    const h = new SmeHarness({ role: 'server', initialTrust: 'pending' });
    h.start();
    h.receive(CMI);
    h.receive(READY);
    h.takeSent();
    h.now += 2_000;
    h.decide(true);
    const [hello] = h.takeSent();
    assert.equal(hello?.kind === 'connectionHello' && hello.value.phase, 'ready');
    assert.equal(typeof (hello?.kind === 'connectionHello' && hello.value.waiting), 'number');
    assert.equal(h.state.sub, 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL');
  });

  it('38: peer pending with waiting 60000: our prolongation request goes out before its deadline', () => {
    const h = new SmeHarness({ role: 'client', initialTrust: 'pending' });
    h.start();
    h.receive(CMI);
    h.takeSent();
    h.receive({ kind: 'connectionHello', value: { phase: 'pending', waiting: 60000 } });
    h.advance(44_999);
    assert.deepEqual(h.takeSent(), []);
    h.advance(1);
    assert.deepEqual(h.takeSent(), [
      { kind: 'connectionHello', value: { phase: 'pending', prolongationRequest: true } },
    ]);
  });

  it('a pending pairing outlives several prolongations and is approved during one', () => {
    // We are the pending server; the peer (ready client) grants every request.
    const pair = new SmePair({}, { initialTrust: 'pending' });
    pair.start();
    pair.run(5 * 60_000);
    assert.equal(pair.server.state.sub, 'SME_HELLO_STATE_PENDING_LISTEN');
    assert.ok(
      pair.server.events.filter((e) => e.type === 'prolongationRequested').length >= 5,
      'asked for more time repeatedly',
    );
    pair.server.decide(true);
    pair.run(1_000);
    assert.equal(pair.server.state.sub, 'SME_STATE_COMPLETE');
    assert.equal(pair.client.state.sub, 'SME_STATE_COMPLETE');
  });

  it('39: aborted received: closes with 4452, sends nothing more, reports remote denial', () => {
    const h = serverAt('hello');
    h.takeSent();
    h.receive({ kind: 'connectionHello', value: { phase: 'aborted' } });
    h.advance(1000);
    assert.deepEqual(h.takeSent(), []);
    assert.equal(h.closeCode(), 4452);
    assert.equal(h.lastClosedEvent()?.remoteDeniedTrust, true);
  });

  it('40: ready without waiting while we are pending aborts', () => {
    const h = new SmeHarness({ role: 'server', initialTrust: 'pending' });
    h.start();
    h.receive(CMI);
    h.takeSent();
    h.receiveJson(1, '{"connectionHello":[{"phase":"ready"}]}');
    assert.deepEqual(h.takeSent(), [{ kind: 'connectionHello', value: { phase: 'aborted' } }]);
  });

  it('tolerates pending + waiting + prolongationRequest:false (EEBUS.Net) while pending', () => {
    const h = new SmeHarness({ role: 'client', initialTrust: 'pending' });
    h.start();
    h.receive(CMI);
    h.takeSent();
    h.receiveJson(
      1,
      '{"connectionHello":[{"phase":"pending"},{"waiting":60000},{"prolongationRequest":false}]}',
    );
    assert.deepEqual(h.takeSent(), []);
    assert.equal(h.state.sub, 'SME_HELLO_STATE_PENDING_LISTEN');
  });

  it('a waiting below T_hello_prolong_min aborts', () => {
    const h = new SmeHarness({ role: 'client', initialTrust: 'pending' });
    h.start();
    h.receive(CMI);
    h.takeSent();
    h.receive({ kind: 'connectionHello', value: { phase: 'pending', waiting: 500 } });
    assert.equal(h.takeSent()[0]?.kind, 'connectionHello');
    assert.equal(h.state.sub, 'SME_HELLO_STATE_ABORT_DONE');
  });

  it('a peer that closes while we wait for its ready is reported as remote denied trust', () => {
    const h = clientAt('hello');
    h.receive({ kind: 'connectionHello', value: { phase: 'pending', waiting: 60000 } });
    h.input({ kind: 'transportClosed', code: 4452, reason: 'Node rejected by application' });
    const closed = h.lastClosedEvent();
    assert.equal(closed?.remoteDeniedTrust, true);
    assert.equal(closed?.failure?.code, 'SHIPHUB_ERR_REMOTE_DENIED_TRUST');
    assert.match(closed?.failure?.hint ?? '', /approve this node on the device/);
  });

  it('ship-go approval shortcut: announceMax while the READY server waits counts as ready', () => {
    const h = serverAt('hello');
    h.takeSent();
    h.receive(ANNOUNCE_MAX);
    assert.deepEqual(h.takeSent(), [SELECT]);
  });

  it('limits how many prolongations it grants', () => {
    const h = new SmeHarness({ role: 'server', maxProlongationsGranted: 2 });
    h.start();
    h.receive(CMI);
    const request: ShipMessage = {
      kind: 'connectionHello',
      value: { phase: 'pending', prolongationRequest: true },
    };
    h.receive(request);
    h.receive(request);
    assert.equal(h.state.sub, 'SME_HELLO_STATE_READY_LISTEN');
    h.receive(request);
    assert.equal(h.state.sub, 'SME_HELLO_STATE_ABORT_DONE');
  });
});

describe('protocol handshake (SHIP 13.4.4.2)', () => {
  it('41: server selects 1.0 JSON-UTF8 and after the echo announces its PIN state', () => {
    const h = serverAt('protocol');
    h.takeSent();
    h.receive(ANNOUNCE_MAX);
    assert.deepEqual(h.takeSent(), [SELECT]);
    h.receive(SELECT);
    assert.deepEqual(h.takeSent(), [PIN_NONE]);
  });

  it('42: client announces 1.0 with ["JSON-UTF8"] and echoes the selection', () => {
    const h = clientAt('choice');
    assert.deepEqual(h.sent.at(-1), ANNOUNCE_MAX);
    h.takeSent();
    h.receive(SELECT);
    assert.deepEqual(h.takeSent(), [SELECT, PIN_NONE]);
  });

  it('selects 1.0 when the client announces a higher maximum', () => {
    const h = serverAt('protocol');
    h.takeSent();
    h.receive({
      kind: 'messageProtocolHandshake',
      value: {
        handshakeType: 'announceMax',
        version: { major: 2, minor: 3 },
        formats: ['JSON-UTF16', 'JSON-UTF8'],
      },
    });
    assert.deepEqual(h.takeSent(), [SELECT]);
  });

  it('43: no announceMax / no select within Wait: error 1 and close (TC_SHIP_PROT_003/004)', () => {
    for (const h of [serverAt('protocol'), clientAt('choice'), serverAt('confirm')]) {
      h.takeSent();
      h.advance(T.protocolWaitMs);
      assert.deepEqual(h.takeSent(), [
        { kind: 'messageProtocolHandshakeError', value: { error: 1 } },
      ]);
      assert.equal(h.closeCode(), 4001);
      assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_PROTOCOL_TIMEOUT');
    }
  });

  it('44: a connectionHello instead of announceMax/select: error 2 and close', () => {
    for (const h of [serverAt('protocol'), clientAt('choice')]) {
      h.takeSent();
      h.receive(READY);
      assert.deepEqual(h.takeSent(), [
        { kind: 'messageProtocolHandshakeError', value: { error: 2 } },
      ]);
      assert.equal(h.closeCode(), 4001);
    }
  });

  it('45: select 2.0 or JSON-UTF16 only: error 3 and close', () => {
    for (const value of [
      { handshakeType: 'select' as const, version: { major: 2, minor: 0 }, formats: ['JSON-UTF8'] },
      {
        handshakeType: 'select' as const,
        version: { major: 1, minor: 0 },
        formats: ['JSON-UTF16'],
      },
    ]) {
      const h = clientAt('choice');
      h.takeSent();
      h.receive({ kind: 'messageProtocolHandshake', value });
      assert.deepEqual(h.takeSent(), [
        { kind: 'messageProtocolHandshakeError', value: { error: 3 } },
      ]);
    }
    const h = serverAt('protocol');
    h.takeSent();
    h.receive({
      kind: 'messageProtocolHandshake',
      value: {
        handshakeType: 'announceMax',
        version: { major: 1, minor: 0 },
        formats: ['JSON-UTF16'],
      },
    });
    assert.deepEqual(h.takeSent(), [
      { kind: 'messageProtocolHandshakeError', value: { error: 3 } },
    ]);
  });

  it('46: a handshake error in either shape ends the connection', () => {
    for (const json of ['{"error":3}', '{"messageProtocolHandshakeError":[{"error":3}]}']) {
      const h = clientAt('choice');
      h.takeSent();
      h.receiveJson(1, json);
      assert.deepEqual(h.takeSent(), []);
      assert.equal(h.closeCode(), 4001);
      assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_PROTOCOL_PEER_ERROR');
    }
  });
});

describe('PIN verification (SHIP 13.4.4.3)', () => {
  it('47: announces none; peer none enters data exchange and requests access methods', () => {
    const h = serverAt('pin');
    h.takeSent();
    h.receive(PIN_NONE);
    assert.deepEqual(h.takeSent(), [{ kind: 'accessMethodsRequest' }]);
    assert.equal(h.state.sub, 'SME_ACCESS_METHODS_REQUEST');
    assert.ok(h.eventTypes().includes('dataChannelOpen'));
  });

  it('48: peer pinOk is accepted; peer required without a configured PIN closes cleanly', () => {
    const ok = serverAt('pin');
    ok.receive({ kind: 'connectionPinState', value: { pinState: 'pinOk' } });
    assert.equal(ok.state.sub, 'SME_ACCESS_METHODS_REQUEST');
    const required = serverAt('pin');
    required.receive({
      kind: 'connectionPinState',
      value: { pinState: 'required', inputPermission: 'ok' },
    });
    assert.equal(required.closeCode(), 4001);
    assert.equal(required.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_PIN_UNSUPPORTED');
  });

  it('PIN in both directions: two nodes with PINs reach data exchange', () => {
    const pair = new SmePair(
      { localPin: '1234ABCD', remotePin: 'cafe0123' },
      { localPin: 'CAFE0123', remotePin: '1234abcd' },
    );
    pair.start();
    pair.run(1_000);
    assert.equal(pair.client.state.sub, 'SME_STATE_COMPLETE');
    assert.equal(pair.server.state.sub, 'SME_STATE_COMPLETE');
    assert.ok(pair.client.sent.some((m) => m.kind === 'connectionPinInput'));
    assert.ok(
      pair.server.sent.some((m) => m.kind === 'connectionPinState' && m.value.pinState === 'pinOk'),
    );
  });

  it('a wrong PIN is answered with connectionPinError and ends the peer', () => {
    const pair = new SmePair({ remotePin: '00000000' }, { localPin: '1234ABCD' });
    pair.start();
    pair.run(1_000);
    assert.ok(pair.server.sent.some((m) => m.kind === 'connectionPinError'));
    assert.equal(pair.client.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_PIN_WRONG');
    assert.equal(pair.server.state.sub, 'CLOSED');
  });

  it('optional PIN without a configured PIN continues (restricted trust)', () => {
    const h = serverAt('pin');
    h.receive({
      kind: 'connectionPinState',
      value: { pinState: 'optional', inputPermission: 'ok' },
    });
    assert.equal(h.state.sub, 'SME_ACCESS_METHODS_REQUEST');
  });

  it('busy waits for a new PIN state', () => {
    const h = serverAt('pin');
    h.receive({
      kind: 'connectionPinState',
      value: { pinState: 'required', inputPermission: 'busy' },
    });
    h.advance(T.pinWaitMs + 1);
    assert.equal(h.closed, undefined, 'busy extends the wait');
    h.receive(PIN_NONE);
    assert.equal(h.state.sub, 'SME_ACCESS_METHODS_REQUEST');
  });

  it('54: data before PIN OK is dropped, never delivered', () => {
    const h = serverAt('pin');
    h.receive({ kind: 'data', value: { protocolId: 'ee1.0', payload: DATAGRAM } });
    assert.ok(!h.eventTypes().includes('data'));
    assert.equal(h.state.sub, 'SME_PIN_STATE_LISTEN');
  });
});

describe('access methods and data exchange (SHIP 13.4.5, 13.4.6)', () => {
  it('49: answering our request completes the connection and reports the SHIP ID', () => {
    const h = serverAt('data');
    h.receive({ kind: 'accessMethods', value: { id: 'X' } });
    assert.equal(h.state.sub, 'SME_STATE_COMPLETE');
    assert.equal(h.state.peerShipId, 'X');
    assert.deepEqual(
      h.events.filter((e) => e.type === 'shipId'),
      [{ type: 'shipId', shipId: 'X' }],
    );
  });

  it('50: requests are answered with our SHIP ID in every data state, also much later', () => {
    const h = serverAt('complete');
    h.takeSent();
    h.advance(3_600_000);
    h.receive({ kind: 'accessMethodsRequest' });
    assert.deepEqual(h.takeSent(), [{ kind: 'accessMethods', value: { id: 'ship-server' } }]);
    const early = serverAt('data');
    early.takeSent();
    early.receive({ kind: 'accessMethodsRequest' });
    assert.deepEqual(early.takeSent(), [{ kind: 'accessMethods', value: { id: 'ship-server' } }]);
  });

  it('51: data, access-methods request, data back to back are all handled', () => {
    const h = serverAt('data');
    h.takeSent();
    h.receive({ kind: 'data', value: { protocolId: 'ee1.0', payload: { n: 1 } } });
    h.receive({ kind: 'accessMethodsRequest' });
    h.receive({ kind: 'data', value: { protocolId: 'ee1.0', payload: { n: 2 } } });
    assert.deepEqual(
      h.events.filter((e) => e.type === 'data').map((e) => e.type === 'data' && e.payload),
      [{ n: 1 }, { n: 2 }],
    );
    assert.equal(h.takeSent().length, 1);
  });

  it('52: a SHIP ID different from the stored one ends the connection', () => {
    const h = new SmeHarness({ role: 'server', expectedShipId: 'A' });
    h.start();
    for (const m of [CMI, READY, ANNOUNCE_MAX, SELECT, PIN_NONE]) h.receive(m);
    h.receive({ kind: 'accessMethods', value: { id: 'B' } });
    assert.equal(h.closeCode(), 4001);
    assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_SHIP_ID_MISMATCH');
  });

  it('53: no accessMethods answer closes after our timeout (at least 10 s)', () => {
    const h = serverAt('data');
    h.advance(10_000);
    assert.equal(h.closed, undefined);
    h.advance(T.accessMethodsReplyMs);
    assert.equal(h.closeCode(), 4001);
    assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_ACCESS_METHODS_TIMEOUT');
  });

  it('55: data with a protocolId other than ee1.0 is not passed to SPINE', () => {
    const h = serverAt('complete');
    h.receive({ kind: 'data', value: { protocolId: 'xx9', payload: {} } });
    assert.ok(!h.eventTypes().includes('data'));
    assert.ok(h.eventTypes().includes('warning'));
  });

  it('20/21: one-byte and unknown-type messages are ignored and the connection keeps working', () => {
    const h = serverAt('complete');
    h.receive(new Uint8Array([2]));
    h.receive(new Uint8Array([0xff, 0]));
    h.receive({ kind: 'data', value: { protocolId: 'ee1.0', payload: { ok: true } } });
    assert.equal(h.state.sub, 'SME_STATE_COMPLETE');
    assert.ok(h.eventTypes().includes('data'));
  });

  it('a flood of invalid messages ends the connection', () => {
    const h = new SmeHarness({ role: 'server', maxInvalidMessages: 5 });
    h.start();
    for (const m of [CMI, READY, ANNOUNCE_MAX, SELECT, PIN_NONE]) h.receive(m);
    for (let i = 0; i < 6; i++) h.receive(new Uint8Array([2]));
    assert.equal(h.closeCode(), 4001);
    assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_MESSAGE_INVALID');
  });

  it('sending works only in data exchange', () => {
    const early = serverAt('pin');
    early.takeSent();
    early.input({ kind: 'send', payload: DATAGRAM });
    assert.deepEqual(early.takeSent(), []);
    assert.ok(early.eventTypes().includes('warning'));
    const h = serverAt('data');
    h.takeSent();
    h.input({ kind: 'send', payload: DATAGRAM });
    assert.deepEqual(h.takeSent(), [
      { kind: 'data', value: { protocolId: 'ee1.0', payload: DATAGRAM } },
    ]);
  });
});

describe('termination (SHIP 13.4.7)', () => {
  it('56: we announce with maxTime and a valid reason; close on confirm', () => {
    const h = serverAt('complete');
    h.takeSent();
    h.input({ kind: 'close' });
    assert.deepEqual(h.takeSent(), [
      {
        kind: 'connectionClose',
        value: { phase: 'announce', maxTime: T.closeMaxTimeMs, reason: 'unspecific' },
      },
    ]);
    assert.equal(h.closed, undefined);
    h.receive({ kind: 'connectionClose', value: { phase: 'confirm' } });
    assert.equal(h.closeCode(), 4001);
    assert.equal(h.lastClosedEvent()?.failure, undefined);
  });

  it('56: without a confirm we close at the latest after maxTime (TC_SHIP_TERM_001)', () => {
    const h = serverAt('complete');
    h.input({ kind: 'close', reason: 'removedConnection' });
    h.advance(T.closeMaxTimeMs - 1);
    assert.equal(h.closed, undefined);
    h.advance(1);
    assert.equal(h.closeCode(), 4001);
  });

  it('57/58: a peer announce (any reason text) is confirmed, then we close', () => {
    for (const reason of ['unspecific', 'User close']) {
      const h = serverAt('complete');
      h.takeSent();
      h.receive({ kind: 'connectionClose', value: { phase: 'announce', maxTime: 500, reason } });
      assert.deepEqual(h.takeSent(), [{ kind: 'connectionClose', value: { phase: 'confirm' } }]);
      assert.equal(h.closeCode(), 4001);
      assert.equal(h.lastClosedEvent()?.byPeer, true);
      assert.equal(h.lastClosedEvent()?.failure, undefined);
    }
  });

  it('closing before data exchange uses 4500 "User close"', () => {
    const h = serverAt('hello');
    h.input({ kind: 'close' });
    assert.deepEqual(h.closed, { code: 4500, reason: 'User close' });
  });

  it('a dropped connection in data exchange is reported as lost, in plain words', () => {
    const h = serverAt('complete');
    h.input({ kind: 'transportClosed' });
    const closed = h.lastClosedEvent();
    assert.equal(closed?.failure?.code, 'SHIPHUB_ERR_CONNECTION_LOST');
    assert.match(closed?.failure?.message ?? '', /without a SHIP close/);
    assert.equal(closed?.lastPhase, 'data');
  });

  it('a device that leaves while a person decides about it ended the handshake, no fault', () => {
    for (const close of [{ code: 4500, reason: 'probe done' }, {}]) {
      const h = new SmeHarness({ role: 'server', initialTrust: 'pending' });
      h.start();
      h.receive(CMI);
      assert.equal(h.state.sub, 'SME_HELLO_STATE_PENDING_LISTEN');
      h.input({ kind: 'transportClosed', ...close });
      const closed = h.lastClosedEvent();
      assert.equal(closed?.failure?.code, 'SHIPHUB_ERR_CLOSED', JSON.stringify(close));
      assert.match(closed?.failure?.message ?? '', /waited for a pairing decision about it/);
      assert.equal(closed?.failure?.message.includes('probe done'), close.reason !== undefined);
      assert.match(closed?.failure?.hint ?? '', /trust its SKI in advance/);
      assert.equal(closed?.remoteDeniedTrust, false);
      assert.equal(closed?.byPeer, true);
    }
  });

  it('4500 "User close" before data exchange is an end on purpose; other codes are losses', () => {
    const onPurpose = serverAt('confirm');
    onPurpose.input({ kind: 'transportClosed', code: 4500, reason: 'User close' });
    assert.equal(onPurpose.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_CLOSED');
    assert.match(
      onPurpose.lastClosedEvent()?.failure?.message ?? '',
      /closed the connection on purpose during the protocol phase \(close code 4500: User close\)/,
    );
    const lost = serverAt('confirm');
    lost.input({ kind: 'transportClosed', code: 4001, reason: 'close' });
    assert.equal(lost.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_CONNECTION_LOST');
    // In data exchange 4500 without the SHIP close procedure is still a dropped connection.
    const inData = serverAt('complete');
    inData.input({ kind: 'transportClosed', code: 4500, reason: 'User close' });
    assert.equal(inData.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_CONNECTION_LOST');
  });

  it("the device's double-connection close is reported as such, not as a dropped connection", () => {
    for (const reason of [
      'double connection',
      'replaced by a newer connection of the same device',
    ]) {
      const h = serverAt('complete');
      h.input({ kind: 'transportClosed', code: 1000, reason });
      const closed = h.lastClosedEvent();
      assert.equal(closed?.failure?.code, 'SHIPHUB_ERR_DOUBLE_CONNECTION', reason);
      assert.match(closed?.failure?.message ?? '', /double-connection rule \(SHIP §12\.2\.2\)/);
    }
    // Another normal closure in data exchange is still a connection dropped without a SHIP close.
    const other = serverAt('complete');
    other.input({ kind: 'transportClosed', code: 1000, reason: 'bye' });
    assert.equal(other.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_CONNECTION_LOST');
  });

  it('nothing happens after CLOSED', () => {
    const h = serverAt('complete');
    h.input({ kind: 'transportClosed' });
    const count = h.effects.length;
    h.receive(READY);
    h.advance(100_000);
    assert.equal(h.effects.length, count);
  });
});

describe('two machines back to back', () => {
  it('trusted both ways reach complete with exactly the ship-go message sequence', () => {
    const pair = new SmePair({}, {});
    pair.start();
    pair.run(100);
    assert.equal(pair.client.state.sub, 'SME_STATE_COMPLETE');
    assert.equal(pair.server.state.sub, 'SME_STATE_COMPLETE');
    assert.deepEqual(
      pair.client.sent.map((m) => m.kind),
      [
        'init',
        'connectionHello',
        'messageProtocolHandshake',
        'messageProtocolHandshake',
        'connectionPinState',
        'accessMethodsRequest',
        'accessMethods',
      ],
    );
    assert.equal(pair.client.state.peerShipId, 'ship-server');
    assert.equal(pair.server.state.peerShipId, 'ship-client');
  });

  it('encodes what it sends byte-identically to the codec (sanity)', () => {
    const h = serverAt('hello');
    assert.deepEqual(h.sentBytes.at(-1), encodeMessage(h.sent.at(-1)!));
  });
});

describe('message limits before data exchange (hostile LAN)', () => {
  const paddedHello = (bytes: number) =>
    `{"connectionHello":[{"phase":"ready"},{"waiting":60000}],"pad":"${'x'.repeat(bytes)}"}`;

  it('a hello padded beyond maxControlMessageBytes is refused without parsing it', () => {
    const h = serverAt('hello');
    h.receiveJson(1, paddedHello(1024 * 1024));
    h.advance(T.helloInitMs);
    assert.equal(h.lastClosedEvent()?.failure?.code, 'SHIPHUB_ERR_HELLO_INVALID');
    assert.match(h.lastClosedEvent()?.failure?.message ?? '', /tooLarge.*limit of 8192/);
  });

  it('a hello nested deeper than maxControlJsonDepth is refused before parsing', () => {
    const h = serverAt('hello');
    h.receiveJson(
      1,
      `{"connectionHello":[{"phase":"ready"}],"x":${'['.repeat(20)}${']'.repeat(20)}}`,
    );
    h.advance(T.helloInitMs);
    assert.match(h.lastClosedEvent()?.failure?.message ?? '', /nested deeper than 16 levels/);
  });

  it('brackets inside strings do not count, and a small padded hello still works', () => {
    const h = serverAt('hello');
    h.receiveJson(
      1,
      `{"connectionHello":[{"phase":"ready"},{"waiting":60000}],"note":"${'['.repeat(100)}\\"{{"}`,
    );
    h.receive(ANNOUNCE_MAX);
    assert.equal(h.closeCode(), undefined);
    assert.ok(h.takeSent().some((m) => m.kind === 'messageProtocolHandshake'));
  });

  it('in data exchange the full maxMessageBytes applies', () => {
    const h = serverAt('complete');
    const payload = { datagram: [{ payload: 'y'.repeat(64 * 1024) }] };
    h.receive({ kind: 'data', value: { protocolId: 'ee1.0', payload } });
    assert.equal(h.closeCode(), undefined);
    assert.ok(h.events.some((e) => e.type === 'data'));
  });
});
