/**
 * Golden replay: one side of each recorded ship-go session is fed into our state machine, which
 * must answer with exactly the bytes the other ship-go node sent (timestamps aside). Our machine
 * plays the server against the recorded client, and the client against the recorded server.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from '../../src/ship/codec/index.js';
import { DEFAULT_TIMINGS, type SmeConfig } from '../../src/ship/handshake/index.js';
import { SmeHarness } from '../helpers/sme-harness.js';
import { loadVector, type Vector } from '../helpers/vectors.js';

const utf8 = new TextDecoder();

function text(bytes: Uint8Array): string {
  return bytes[0] === 0 ? `00 ${[...bytes.subarray(1)].join(' ')}` : utf8.decode(bytes);
}

/** Our hello answers to prolongation requests extend WFR (SHIP, ship-go dev) where ship-go v0.6
 * restarts it at 60 s: the waiting value differs by design, the rest must be identical. */
function normaliseWaiting(line: string): string {
  return line.replace(/\{"waiting":\d+\}/, '{"waiting":W}');
}

interface ReplayResult {
  ours: string[];
  expected: string[];
  harness: SmeHarness;
}

function replay(vector: Vector, side: 'server' | 'client', config: Partial<SmeConfig> = {}) {
  const own = side === 'server' ? 'S->C' : 'C->S';
  const harness = new SmeHarness({
    role: side,
    localShipId: side === 'server' ? vector.serverShipId : vector.clientShipId,
    ...config,
  });
  // The recorded ship-go server echoes data when it ran with -echo.
  const echo =
    side === 'server' && vector.messages.some((m) => m.direction === 'S->C' && m.bytes[0] === 2);
  harness.start();
  let delivered = 0;
  for (const message of vector.messages) {
    if (message.atMs > harness.now) harness.advance(message.atMs - harness.now);
    if (message.direction !== own) {
      harness.receive(message.bytes);
      if (echo) {
        for (const event of harness.events.slice(delivered)) {
          if (event.type === 'data') harness.input({ kind: 'send', payload: event.payload });
        }
        delivered = harness.events.length;
      }
      continue;
    }
    // Messages of our side that an application or a person causes are triggered here.
    const decoded = decodeMessage(message.bytes);
    assert.ok(decoded.ok);
    const m = decoded.message;
    if (m.kind === 'data' && !echo) harness.input({ kind: 'send', payload: m.value.payload });
    if (m.kind === 'connectionClose' && m.value.phase === 'announce')
      harness.input({ kind: 'close' });
    if (m.kind === 'connectionHello' && harness.state.sub === 'SME_HELLO_STATE_PENDING_LISTEN') {
      if (m.value.phase === 'ready') harness.decide(true);
      if (m.value.phase === 'aborted') harness.decide(false);
    }
  }
  const result: ReplayResult = {
    ours: harness.sentBytes.map(text),
    expected: vector.messages.filter((m) => m.direction === own).map((m) => text(m.bytes)),
    harness,
  };
  return result;
}

describe('golden replay of ship-go sessions through our state machine', () => {
  for (const file of [
    'shipgo-shipgo.txt',
    'shipgo-shipgo-abrupt-close.txt',
    'shipgo-shipgo-fragmentation-ping.txt',
  ]) {
    it(`${file}: as server and as client, byte for byte`, () => {
      const vector = loadVector(file);
      for (const side of ['server', 'client'] as const) {
        const { ours, expected } = replay(vector, side);
        assert.ok(expected.length >= 6, 'the recording has a whole handshake');
        assert.deepEqual(ours, expected, `our ${side} differs from ship-go's`);
      }
    });
  }

  it('trusted session: both replays end complete, then closed by the close exchange', () => {
    const vector = loadVector('shipgo-shipgo.txt');
    const server = replay(vector, 'server').harness;
    assert.equal(server.state.sub, 'CLOSED');
    assert.equal(server.state.peerShipId, vector.clientShipId);
    assert.equal(server.lastClosedEvent()?.failure, undefined);
    const client = replay(vector, 'client').harness;
    assert.equal(client.state.sub, 'CLOSED');
    assert.equal(client.closeCode(), 4001);
  });

  it('untrusted, approved after 2 s: our pending server answers like ship-go', () => {
    const vector = loadVector('shipgo-shipgo-untrusted-approve.txt');
    const server = replay(vector, 'server', { initialTrust: 'pending' });
    assert.deepEqual(server.ours, server.expected);
    assert.ok(server.harness.eventTypes().includes('trustRequired'));
    const client = replay(vector, 'client');
    assert.deepEqual(client.ours, client.expected);
  });

  it('untrusted, denied: pending then aborted; the client closes with 4452 after 1 s', () => {
    const vector = loadVector('shipgo-shipgo-untrusted-deny.txt');
    const server = replay(vector, 'server', { initialTrust: 'pending' });
    assert.deepEqual(server.ours, server.expected);
    const client = replay(vector, 'client');
    assert.deepEqual(client.ours, client.expected);
    const recordedClose = vector.events.find((e) => e.wsCloseCode !== undefined);
    client.harness.advance(1_000);
    assert.equal(client.harness.closeCode(), recordedClose?.wsCloseCode);
    assert.equal(client.harness.lastClosedEvent()?.remoteDeniedTrust, true);
  });

  it('nobody decides: prolongation requests keep the hello phase alive on both sides', () => {
    const vector = loadVector('shipgo-shipgo-untrusted-wait-prolongation.txt');
    // ship-go asks 30 s before the partner's deadline; with the same gap we match it exactly.
    const server = replay(vector, 'server', {
      initialTrust: 'pending',
      timings: { ...DEFAULT_TIMINGS, helloProlongWaitingGapMs: 30_000 },
    });
    assert.deepEqual(server.ours, server.expected);
    assert.equal(server.harness.state.sub, 'SME_HELLO_STATE_PENDING_LISTEN');
    const client = replay(vector, 'client');
    assert.deepEqual(client.ours.map(normaliseWaiting), client.expected.map(normaliseWaiting));
    assert.equal(client.harness.state.sub, 'SME_HELLO_STATE_READY_LISTEN');
    // With the default gap (15 s, the spec's T_hello_prolong_waiting_gap) we ask at 45 s:
    // still well before ship-go's 60 s Wait-For-Ready.
    const spec = new SmeHarness({ role: 'server', initialTrust: 'pending' });
    spec.start();
    spec.receive(new Uint8Array([0, 0]));
    spec.receive(vector.messages.find((m) => m.direction === 'C->S' && m.bytes[0] === 1)!.bytes);
    spec.takeSent();
    spec.advance(45_000);
    assert.equal(spec.takeSent()[0]?.kind, 'connectionHello');
  });
});
