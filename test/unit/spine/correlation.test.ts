/**
 * The request/reply correlation machine (spine-protocol.md §2.2, §2.3, §2.4, §6.1, §6.2, §6.4;
 * conformance checklist items 8 and 10–16, 42), driven step by step with an injected `now`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RESPONSE_TIMER,
  ackRequested,
  initialCorrelationState,
  resultOwed,
  step,
  type CorrelationEffect,
  type CorrelationEvent,
  type CorrelationInput,
  type CorrelationState,
} from '../../../src/spine/correlation/machine.js';
import {
  MSG_COUNTER_MAX,
  type CmdClassifier,
  type SpineDatagram,
  type SpineHeader,
} from '../../../src/spine/model/datagram.js';

const US = 'd:_n:ShipHub_HEMS-0001';
const PEER = 'd:_i:12345_HeatPump-42';
const OUR_NM = { entity: [0], feature: 0 };
const PEER_NM = { device: PEER, entity: [0], feature: 0 };
const OUR_MEASUREMENT_CLIENT = { entity: [1], feature: 3 };
const PEER_MEASUREMENT = { device: PEER, entity: [1], feature: 4 };

const READ_DISCOVERY = { data: { name: 'nodeManagementDetailedDiscoveryData', value: {} } };

/** Runs inputs in order, collecting every effect. */
function run(state: CorrelationState, ...inputs: CorrelationInput[]) {
  const effects: CorrelationEffect[] = [];
  for (const input of inputs) {
    const result = step(state, input);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

function sent(effects: readonly CorrelationEffect[]): SpineDatagram[] {
  return effects.flatMap((e) => (e.kind === 'send' ? [e.datagram] : []));
}

function events(effects: readonly CorrelationEffect[]): CorrelationEvent[] {
  return effects.flatMap((e) => (e.kind === 'event' ? [e.event] : []));
}

function fresh(): CorrelationState {
  return initialCorrelationState({ localDevice: US });
}

/** A datagram from the peer. */
function fromPeer(
  classifier: CmdClassifier,
  msgCounter: bigint,
  extra: Partial<SpineHeader> = {},
  data: { name: string; value: unknown } = { name: 'measurementListData', value: {} },
): SpineDatagram {
  return {
    header: {
      specificationVersion: '1.3.0',
      addressSource: PEER_MEASUREMENT,
      addressDestination: { device: US, ...OUR_MEASUREMENT_CLIENT },
      msgCounter,
      cmdClassifier: classifier,
      ...extra,
    },
    payload: { cmd: [{ data }] },
  };
}

function result(errorNumber: number, reference: bigint, counter = 900n, description?: string) {
  return fromPeer(
    'result',
    counter,
    { msgCounterReference: reference },
    {
      name: 'resultData',
      value: description === undefined ? { errorNumber } : { errorNumber, description },
    },
  );
}

describe('correlation: sending', () => {
  it('the first discovery read: counter 1, our device filled in, destination as given (§2.5)', () => {
    const { state, effects } = run(fresh(), {
      kind: 'send',
      now: 0,
      request: { classifier: 'read', source: OUR_NM, destination: OUR_NM, cmd: READ_DISCOVERY },
    });
    const [datagram] = sent(effects);
    assert.deepEqual(datagram?.header, {
      specificationVersion: '1.3.0',
      addressSource: { device: US, entity: [0], feature: 0 },
      addressDestination: { entity: [0], feature: 0 },
      msgCounter: 1n,
      cmdClassifier: 'read',
    });
    assert.equal(state.pending.size, 1);
    assert.equal(state.pending.get(1n)?.expects, 'reply');
    // Default deadline: 10 s maxResponseDelay + 2 s margin (§6.4).
    assert.deepEqual(effects.at(-1), { kind: 'startTimer', id: RESPONSE_TIMER, ms: 12_000 });
  });

  it('counters ascend over requests, notifies, replies and results (checklist item 10)', () => {
    const { effects } = run(
      fresh(),
      {
        kind: 'send',
        now: 0,
        request: { classifier: 'read', source: OUR_NM, destination: PEER_NM, cmd: READ_DISCOVERY },
      },
      {
        kind: 'send',
        now: 1,
        request: {
          classifier: 'notify',
          source: { entity: [1], feature: 1 },
          destination: PEER_MEASUREMENT,
          cmd: { data: { name: 'deviceDiagnosisHeartbeatData', value: {} } },
        },
      },
      { kind: 'reply', now: 2, request: fromPeer('read', 77n).header, cmd: READ_DISCOVERY },
      {
        kind: 'acknowledge',
        now: 3,
        request: fromPeer('notify', 78n, { ackRequest: true }).header,
        result: { errorNumber: 0 },
      },
      {
        kind: 'send',
        now: 4,
        request: {
          classifier: 'call',
          source: OUR_NM,
          destination: PEER_NM,
          ackRequest: true,
          cmd: { data: { name: 'nodeManagementSubscriptionRequestCall', value: {} } },
        },
      },
    );
    assert.deepEqual(
      sent(effects).map((d) => d.header.msgCounter),
      [1n, 2n, 3n, 4n, 5n],
    );
  });

  it('a read never asks for an ack; a write with ackRequest waits for a result, without for nothing', () => {
    const { state, effects } = run(
      fresh(),
      {
        kind: 'send',
        now: 0,
        request: {
          classifier: 'read',
          ackRequest: true,
          source: OUR_MEASUREMENT_CLIENT,
          destination: PEER_MEASUREMENT,
          cmd: READ_DISCOVERY,
        },
      },
      {
        kind: 'send',
        now: 0,
        request: {
          classifier: 'write',
          ackRequest: true,
          source: OUR_MEASUREMENT_CLIENT,
          destination: PEER_MEASUREMENT,
          cmd: READ_DISCOVERY,
        },
      },
      {
        kind: 'send',
        now: 0,
        request: {
          classifier: 'write',
          source: OUR_MEASUREMENT_CLIENT,
          destination: PEER_MEASUREMENT,
          cmd: READ_DISCOVERY,
        },
      },
      {
        kind: 'send',
        now: 0,
        request: {
          classifier: 'notify',
          source: OUR_MEASUREMENT_CLIENT,
          destination: PEER_MEASUREMENT,
          cmd: READ_DISCOVERY,
        },
      },
    );
    const [read, write] = sent(effects);
    assert.equal(read?.header.ackRequest, undefined);
    assert.equal(write?.header.ackRequest, true);
    assert.deepEqual(
      [...state.pending.values()].map((p) => [p.msgCounter, p.classifier, p.expects]),
      [
        [1n, 'read', 'reply'],
        [2n, 'write', 'result'],
      ],
    );
  });

  it('wraps from 2^64−1 to 0 and skips counters still awaiting an answer (§2.3)', () => {
    let state = initialCorrelationState({ localDevice: US, firstMsgCounter: MSG_COUNTER_MAX - 1n });
    const read = {
      kind: 'send',
      now: 0,
      request: { classifier: 'read', source: OUR_NM, destination: PEER_NM, cmd: READ_DISCOVERY },
    } as const;
    const r = run(state, read, read, read);
    assert.deepEqual(
      sent(r.effects).map((d) => d.header.msgCounter),
      [MSG_COUNTER_MAX - 1n, MSG_COUNTER_MAX, 0n],
    );
    // Restart at 2^64−2: the three counters still pending are skipped, the next free one is 1.
    state = { ...r.state, nextMsgCounter: MSG_COUNTER_MAX - 1n };
    const again = run(state, read);
    assert.equal(sent(again.effects)[0]?.header.msgCounter, 1n);
  });

  it('refuses beyond maxPending and after close', () => {
    const read = {
      kind: 'send',
      now: 0,
      request: {
        classifier: 'read',
        source: OUR_NM,
        destination: PEER_NM,
        cmd: READ_DISCOVERY,
        tag: 'x',
      },
    } as const;
    const small = initialCorrelationState({ localDevice: US, maxPending: 2 });
    const r = run(small, read, read, read);
    assert.equal(sent(r.effects).length, 2);
    assert.deepEqual(events(r.effects), [{ kind: 'refused', reason: 'tooManyPending', tag: 'x' }]);
    const closed = run(fresh(), { kind: 'closed', now: 0 }, read);
    assert.deepEqual(events(closed.effects), [{ kind: 'refused', reason: 'closed', tag: 'x' }]);
  });
});

describe('correlation: answers to our requests', () => {
  const readMeasurements = {
    kind: 'send',
    now: 1_000,
    request: {
      classifier: 'read',
      source: OUR_MEASUREMENT_CLIENT,
      destination: PEER_MEASUREMENT,
      cmd: READ_DISCOVERY,
      tag: 'measurements',
    },
  } as const;

  it('a reply is matched by msgCounterReference and the timer cancelled', () => {
    const reply = fromPeer('reply', 500n, { msgCounterReference: 1n });
    const { state, effects } = run(fresh(), readMeasurements, {
      kind: 'received',
      now: 1_050,
      datagram: reply,
    });
    assert.equal(state.pending.size, 0);
    const replied = events(effects).find((e) => e.kind === 'replied');
    assert.equal(replied?.kind === 'replied' && replied.request.tag, 'measurements');
    assert.deepEqual(effects.at(-2), { kind: 'cancelTimer', id: RESPONSE_TIMER });
  });

  it('result 0 is an acceptance, 7 a rejection with its description (§6.1)', () => {
    const write = {
      ...readMeasurements,
      request: { ...readMeasurements.request, classifier: 'write', ackRequest: true },
    } as const;
    const ok = run(fresh(), write, { kind: 'received', now: 1_100, datagram: result(0, 1n) });
    const accepted = events(ok.effects)[0];
    assert.ok(accepted?.kind === 'resultReceived');
    assert.equal(accepted.accepted, true);
    const no = run(fresh(), write, {
      kind: 'received',
      now: 1_100,
      datagram: result(7, 1n, 901n, 'limit rejected'),
    });
    const rejected = events(no.effects)[0];
    assert.ok(rejected?.kind === 'resultReceived');
    assert.equal(rejected.accepted, false);
    assert.deepEqual(rejected.result, { errorNumber: 7, description: 'limit rejected' });
    // A result without resultData counts as a general error.
    const broken = run(fresh(), write, {
      kind: 'received',
      now: 1_100,
      datagram: fromPeer('result', 5n, { msgCounterReference: 1n }),
    });
    const general = events(broken.effects)[0];
    assert.ok(general?.kind === 'resultReceived' && general.result.errorNumber === 1);
  });

  it('an error result also ends a pending read', () => {
    const { state, effects } = run(fresh(), readMeasurements, {
      kind: 'received',
      now: 1_100,
      datagram: result(6, 1n),
    });
    assert.equal(state.pending.size, 0);
    assert.equal(events(effects)[0]?.kind, 'resultReceived');
  });

  it('times out at maxResponseDelay + margin, reported once, connection untouched (checklist 42)', () => {
    const withDelay = {
      ...readMeasurements,
      request: { ...readMeasurements.request, maxResponseDelayMs: 3_000 },
    } as const;
    const started = run(fresh(), withDelay, { ...readMeasurements, now: 2_000 });
    // First read: 1000 + 3000 + 2000 = 6000; second: 2000 + 10000 + 2000 = 14000.
    assert.deepEqual(
      started.effects.filter((e) => e.kind === 'startTimer'),
      [{ kind: 'startTimer', id: RESPONSE_TIMER, ms: 5_000 }],
    );
    const early = run(started.state, { kind: 'timer', now: 5_999 });
    assert.deepEqual(events(early.effects), []);
    const fired = run(started.state, { kind: 'timer', now: 6_000 });
    assert.deepEqual(
      events(fired.effects).map((e) => e.kind === 'timedOut' && e.request.msgCounter),
      [1n],
    );
    assert.deepEqual(fired.effects.at(-1), { kind: 'startTimer', id: RESPONSE_TIMER, ms: 8_000 });
    const late = run(fired.state, {
      kind: 'received',
      now: 6_500,
      datagram: fromPeer('reply', 9n, { msgCounterReference: 1n }),
    });
    assert.equal(events(late.effects)[0]?.kind, 'deliver', 'a late reply is handed on, not lost');
    const all = run(fired.state, { kind: 'timer', now: 14_000 });
    assert.equal(all.state.pending.size, 0);
    assert.equal(all.state.timerAt, undefined);
  });

  it('closing abandons every pending request and cancels the timer', () => {
    const { state, effects } = run(fresh(), readMeasurements, readMeasurements, {
      kind: 'closed',
      now: 1_500,
    });
    assert.equal(events(effects).filter((e) => e.kind === 'abandoned').length, 2);
    assert.deepEqual(effects.at(-1), { kind: 'cancelTimer', id: RESPONSE_TIMER });
    assert.equal(state.closed, true);
  });
});

describe('correlation: the peer’s datagrams and what we owe them', () => {
  it('a notify with ackRequest is delivered with ackRequested and acknowledged with result 0 (checklist 13)', () => {
    const notify = fromPeer('notify', 44_495n, { ackRequest: true });
    const { effects } = run(fresh(), {
      kind: 'received',
      now: 0,
      datagram: notify,
      outcome: { errorNumber: 0 },
    });
    assert.deepEqual(events(effects), [
      { kind: 'deliver', datagram: notify, ackRequested: true, correlated: false },
    ]);
    const [answer] = sent(effects);
    assert.deepEqual(answer, {
      header: {
        specificationVersion: '1.3.0',
        addressSource: { device: US, ...OUR_MEASUREMENT_CLIENT },
        addressDestination: PEER_MEASUREMENT,
        msgCounter: 1n,
        msgCounterReference: 44_495n,
        cmdClassifier: 'result',
      },
      payload: { cmd: [{ data: { name: 'resultData', value: { errorNumber: 0 } } }] },
    });
  });

  it('no result without ackRequest; none ever for a result (checklist 13, 14)', () => {
    const notify = run(fresh(), {
      kind: 'received',
      now: 0,
      datagram: fromPeer('notify', 5n),
      outcome: { errorNumber: 0 },
    });
    assert.deepEqual(sent(notify.effects), []);
    const resultWithAck = fromPeer(
      'result',
      6n,
      { ackRequest: true, msgCounterReference: 99n },
      { name: 'resultData', value: { errorNumber: 0 } },
    );
    const r = run(fresh(), {
      kind: 'received',
      now: 0,
      datagram: resultWithAck,
      outcome: { errorNumber: 0 },
    });
    assert.deepEqual(sent(r.effects), []);
    const refused = run(fresh(), {
      kind: 'acknowledge',
      now: 0,
      request: resultWithAck.header,
      result: { errorNumber: 0 },
    });
    assert.deepEqual(events(refused.effects), [
      { kind: 'refused', reason: 'resultIsNeverAnswered' },
    ]);
  });

  it('a read with ackRequest gets exactly one reply, no result (checklist 15)', () => {
    const read = fromPeer('read', 12n, { ackRequest: true });
    assert.equal(ackRequested(read.header), false);
    const { effects } = run(
      fresh(),
      { kind: 'received', now: 0, datagram: read, outcome: { errorNumber: 0 } },
      {
        kind: 'reply',
        now: 0,
        request: read.header,
        cmd: { data: { name: 'measurementListData', value: {} } },
      },
    );
    const answers = sent(effects);
    assert.equal(answers.length, 1);
    assert.equal(answers[0]?.header.cmdClassifier, 'reply');
    assert.equal(answers[0]?.header.msgCounterReference, 12n);
  });

  it('replies are addressed back with our device filled in (checklist 16, §2.4)', () => {
    const read: SpineHeader = {
      addressSource: PEER_NM,
      addressDestination: { entity: [0], feature: 0 },
      msgCounter: 1n,
      cmdClassifier: 'read',
    };
    const { effects } = run(fresh(), { kind: 'reply', now: 0, request: read, cmd: READ_DISCOVERY });
    const [reply] = sent(effects);
    assert.deepEqual(reply?.header.addressSource, { device: US, entity: [0], feature: 0 });
    assert.deepEqual(reply?.header.addressDestination, PEER_NM);
  });

  it('a 64-bit partner counter is referenced exactly (checklist 8)', () => {
    const read = fromPeer('read', MSG_COUNTER_MAX);
    const { effects } = run(fresh(), {
      kind: 'reply',
      now: 0,
      request: read.header,
      cmd: READ_DISCOVERY,
    });
    assert.equal(sent(effects)[0]?.header.msgCounterReference, MSG_COUNTER_MAX);
  });

  it('partner counters out of order are all handed on (checklist 11) and answered in kind (12)', () => {
    let state = fresh();
    const counters = [
      123_456n,
      1_000n,
      2_000n,
      ...Array.from({ length: 20 }, (_, i) => BigInt(i * 7919 + 17)),
    ];
    for (const counter of counters) {
      const read = fromPeer('read', counter);
      const delivered = run(state, { kind: 'received', now: 0, datagram: read });
      assert.equal(events(delivered.effects)[0]?.kind, 'deliver');
      const answered = run(delivered.state, {
        kind: 'reply',
        now: 0,
        request: read.header,
        cmd: READ_DISCOVERY,
      });
      assert.equal(sent(answered.effects)[0]?.header.msgCounterReference, counter);
      state = answered.state;
    }
  });

  it('resultOwed follows §6.2 for every classifier', () => {
    const ok = { errorNumber: 0 };
    const bad = { errorNumber: 1 };
    const header = (cmdClassifier: CmdClassifier, ackRequest?: boolean): SpineHeader => ({
      addressSource: PEER_NM,
      addressDestination: OUR_NM,
      msgCounter: 1n,
      cmdClassifier,
      ...(ackRequest === undefined ? {} : { ackRequest }),
    });
    const table: Array<[CmdClassifier, boolean | undefined, boolean, boolean]> = [
      // classifier, ackRequest, owed on success, owed on failure
      ['read', true, false, true],
      ['read', undefined, false, true],
      ['write', undefined, false, true],
      ['write', true, true, true],
      ['call', undefined, false, true],
      ['call', true, true, true],
      ['notify', undefined, false, false],
      ['notify', true, true, true],
      ['reply', undefined, false, false],
      ['reply', true, true, true],
      ['result', true, false, false],
    ];
    for (const [classifier, ack, onSuccess, onFailure] of table) {
      assert.equal(resultOwed(header(classifier, ack), ok), onSuccess, `${classifier} ${ack} ok`);
      assert.equal(resultOwed(header(classifier, ack), bad), onFailure, `${classifier} ${ack} bad`);
    }
  });

  it('a failed write without ackRequest still gets its error result (§6.2 rule 3)', () => {
    const write = fromPeer('write', 8n);
    const { effects } = run(fresh(), {
      kind: 'received',
      now: 0,
      datagram: write,
      outcome: { errorNumber: 9, description: 'binding is necessary' },
    });
    const [answer] = sent(effects);
    assert.deepEqual(answer?.payload.cmd[0]?.data, {
      name: 'resultData',
      value: { errorNumber: 9, description: 'binding is necessary' },
    });
  });
});
