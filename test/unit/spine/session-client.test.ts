/**
 * The SPINE session as a client of the partner's device (spine-protocol.md §7 connection
 * sequence, §5.3 discovery notifies, §5.4 use case data, §8.3 heartbeat watch, §6.4 timeouts;
 * conformance checklist items 21, 24, 28, 29, 42, 45), with a real partner's discovery reply
 * (openeebus heat pump, recorded) and an injected clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText, encodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { RESPONSE_TIMER } from '../../../src/spine/correlation/machine.js';
import type { SpineDatagram } from '../../../src/spine/model/datagram.js';
import { HEARTBEAT_WATCH_TIMER } from '../../../src/spine/session/types.js';
import {
  PEER,
  SessionHarness,
  US,
  cmd,
  events,
  sent,
  timers,
} from '../../helpers/spine-session.js';
import { loadSessionDatagrams } from '../../helpers/spine-vectors.js';

const FILE = 'openeebus-hems-vs-openeebus-heatpump.txt';
const NIBE = 'd:_n:NIBE_123456789';
const NIBE_NM = { device: NIBE, entity: [0], feature: 0 };
const NIBE_DD = { device: NIBE, entity: [1], feature: 4 };

/** A recorded datagram of the heat pump session. */
function recorded(id: string): SpineDatagram {
  const record = loadSessionDatagrams().find((r) => r.file === FILE && r.id === id);
  assert.ok(record, id);
  const decoded = decodeDatagramText(record.payloadText);
  assert.ok(decoded.ok);
  return decoded.datagram;
}

/** A session that started and received the heat pump's discovery reply (#0004, reference 1). */
function discovered(config?: ConstructorParameters<typeof SessionHarness>[0]) {
  const h = new SessionHarness(config);
  h.start();
  const effects = h.receive(recorded('#0004'));
  return { h, effects };
}

function heartbeat(h: SessionHarness, counter: number, timeout = 'PT4S') {
  return h.peer(
    'notify',
    NIBE_DD,
    { device: US, entity: [1], feature: 2 },
    cmd('deviceDiagnosisHeartbeatData', {
      timestamp: '2020-01-01T00:00:00Z',
      heartbeatCounter: counter,
      heartbeatTimeout: timeout,
    }),
  );
}

describe('SPINE session: reading the partner (spine-protocol.md §7)', () => {
  it('starts with the discovery read of §2.5, byte for byte (checklist 21)', () => {
    const h = new SessionHarness();
    const effects = h.start();
    const texts = effects.flatMap((e) => (e.kind === 'send' ? [e.text] : []));
    assert.deepEqual(texts, [
      '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"entity":[0]},{"feature":0}]},{"msgCounter":1},{"cmdClassifier":"read"}]},{"payload":[{"cmd":[[{"nodeManagementDetailedDiscoveryData":[]}]]}]}]}',
    ]);
    assert.deepEqual(timers(effects), [{ kind: 'startTimer', id: RESPONSE_TIMER, ms: 12_000 }]);
    // A second start changes nothing.
    assert.deepEqual(h.start(), []);
  });

  it('after the discovery reply: NM subscription, use case read, manufacturer read, heartbeat subscription and read (checklist 24)', () => {
    const { h, effects } = discovered();
    const found = events(effects).find((e) => e.kind === 'discovered');
    assert.ok(found?.kind === 'discovered');
    assert.equal(found.device.device, NIBE);
    assert.deepEqual(
      found.device.entities.map((e) => e.type),
      ['DeviceInformation', 'HeatPumpAppliance'],
    );
    const out = sent(effects);
    assert.deepEqual(
      out.map((d) => [d.header.cmdClassifier, d.payload.cmd[0]!.data!.name, d.header.ackRequest]),
      [
        ['call', 'nodeManagementSubscriptionRequestCall', true],
        ['read', 'nodeManagementUseCaseData', undefined],
        ['read', 'deviceClassificationManufacturerData', undefined],
        ['call', 'nodeManagementSubscriptionRequestCall', true],
        ['read', 'deviceDiagnosisHeartbeatData', undefined],
      ],
    );
    assert.deepEqual(out[0]!.header.addressDestination, NIBE_NM);
    assert.deepEqual(out[0]!.payload.cmd[0]!.data!.value, {
      subscriptionRequest: {
        clientAddress: { device: US, entity: [0], feature: 0 },
        serverAddress: NIBE_NM,
        serverFeatureType: 'NodeManagement',
      },
    });
    // Manufacturer data from our DeviceClassification client [1]:7, heartbeat from our DD client [1]:2.
    assert.deepEqual(out[2]!.header.addressSource, { device: US, entity: [1], feature: 7 });
    assert.deepEqual(out[2]!.header.addressDestination, { device: NIBE, entity: [0], feature: 1 });
    assert.deepEqual(out[3]!.payload.cmd[0]!.data!.value, {
      subscriptionRequest: {
        clientAddress: { device: US, entity: [1], feature: 2 },
        serverAddress: NIBE_DD,
        serverFeatureType: 'DeviceDiagnosis',
      },
    });
    assert.deepEqual(
      timers(effects).filter((t) => t.id === HEARTBEAT_WATCH_TIMER),
      [{ kind: 'startTimer', id: HEARTBEAT_WATCH_TIMER, ms: 120_000 }],
    );
    // The partner's answers settle the subscriptions and fill in its data.
    const results = out
      .filter((d) => d.header.cmdClassifier === 'call')
      .map((d) =>
        h.receive(
          h.peer(
            'result',
            NIBE_NM,
            { device: US, entity: [0], feature: 0 },
            cmd('resultData', { errorNumber: 0 }),
            {
              msgCounterReference: d.header.msgCounter,
            },
          ),
        ),
      );
    assert.deepEqual(
      results.flatMap(events).map((e) => e.kind === 'relationResult' && e.relation.status),
      ['active', 'active'],
    );
    const useCaseRead = out[1]!;
    const reply = recorded('#0030');
    const useCases = h.receive({
      ...reply,
      header: { ...reply.header, msgCounterReference: useCaseRead.header.msgCounter },
    });
    const announced = events(useCases).find((e) => e.kind === 'useCases');
    assert.ok(announced?.kind === 'useCases');
    assert.ok(announced.useCases.length > 0);
    assert.deepEqual(h.state.remote.useCases, announced.useCases);
  });

  it('follows discovery notifies: an entity removed drops its data, relations and heartbeat watch (checklist 28)', () => {
    const { h } = discovered();
    h.receive(heartbeat(h, 1));
    assert.ok(h.state.remote.data.has('1:4'));
    // The partner's DD client [1]:1 subscribes to our heartbeat.
    h.receive(
      h.peer(
        'call',
        NIBE_NM,
        { device: US, entity: [0], feature: 0 },
        cmd('nodeManagementSubscriptionRequestCall', {
          subscriptionRequest: {
            clientAddress: { device: NIBE, entity: [1], feature: 1 },
            serverAddress: { device: US, entity: [1], feature: 1 },
            serverFeatureType: 'DeviceDiagnosis',
          },
        }),
      ),
    );
    assert.equal(h.state.subscriptions.length, 1);
    const removed = h.receive(
      h.peer(
        'notify',
        NIBE_NM,
        { device: US, entity: [0], feature: 0 },
        {
          function: 'nodeManagementDetailedDiscoveryData',
          filter: [{ cmdControl: 'partial' }],
          data: {
            name: 'nodeManagementDetailedDiscoveryData',
            value: {
              entityInformation: [
                { description: { entityAddress: { entity: [1] }, lastStateChange: 'removed' } },
              ],
            },
          },
        },
      ),
    );
    const change = events(removed).find((e) => e.kind === 'discoveryChanged');
    assert.ok(change?.kind === 'discoveryChanged');
    assert.deepEqual(change.removed, [[1]]);
    assert.deepEqual(
      h.state.remote.device?.entities.map((e) => e.entity),
      [[0]],
    );
    assert.equal(h.state.remote.data.has('1:4'), false);
    assert.equal(h.state.remote.heartbeat, undefined);
    assert.ok(
      h.state.remote.relations.every((r) => r.server.entity?.[0] === 0),
      'the DD subscription to [1]:4 is forgotten',
    );
    assert.equal(h.state.subscriptions.length, 0);
    assert.ok(
      timers(removed).some((t) => t.kind === 'cancelTimer' && t.id === HEARTBEAT_WATCH_TIMER),
    );
    assert.ok(
      events(removed).some(
        (e) => e.kind === 'peerRelationRemoved' && e.relation === 'subscription',
      ),
    );
  });

  it('a full discovery notify adds and removes entities by difference (checklist 29)', () => {
    const { h } = discovered();
    const full = recorded('#0004').payload.cmd[0]!.data!.value as Record<string, unknown>;
    const entityInformation = full.entityInformation as Array<Record<string, unknown>>;
    const featureInformation = full.featureInformation as Array<{
      description: { featureAddress: { entity: number[] } };
    }>;
    const effects = h.receive(
      h.peer(
        'notify',
        NIBE_NM,
        { device: US, entity: [0], feature: 0 },
        cmd('nodeManagementDetailedDiscoveryData', {
          ...full,
          entityInformation: [
            entityInformation[0],
            {
              description: {
                entityAddress: { device: NIBE, entity: [2] },
                entityType: 'Compressor',
              },
            },
          ],
          featureInformation: featureInformation.filter(
            (f) => f.description.featureAddress.entity[0] === 0,
          ),
        }),
        { ackRequest: true },
      ),
    );
    const change = events(effects).find((e) => e.kind === 'discoveryChanged');
    assert.ok(change?.kind === 'discoveryChanged');
    assert.deepEqual(change.added, [[2]]);
    assert.deepEqual(change.removed, [[1]]);
    assert.deepEqual(
      sent(effects).map((d) => d.header.cmdClassifier),
      ['result'],
    );
  });

  it('a partner without use case data is reported with none, and not read (pitfall 1)', () => {
    const h = new SessionHarness();
    h.start();
    const effects = h.receive(
      h.peer(
        'reply',
        { device: PEER, entity: [0], feature: 0 },
        { device: US, entity: [0], feature: 0 },
        cmd('nodeManagementDetailedDiscoveryData', {
          deviceInformation: { description: { deviceAddress: { device: PEER } } },
          entityInformation: [
            { description: { entityAddress: { entity: [0] }, entityType: 'DeviceInformation' } },
          ],
          featureInformation: [
            {
              description: {
                featureAddress: { entity: [0], feature: 0 },
                featureType: 'NodeManagement',
                role: 'special',
                supportedFunction: [
                  {
                    function: 'nodeManagementDetailedDiscoveryData',
                    possibleOperations: { read: {} },
                  },
                ],
              },
            },
          ],
        }),
        { msgCounterReference: 1n },
      ),
    );
    assert.deepEqual(
      events(effects).filter((e) => e.kind === 'useCases'),
      [{ kind: 'useCases', useCases: [] }],
    );
    assert.ok(
      !sent(effects).some((d) => d.payload.cmd[0]!.data!.name === 'nodeManagementUseCaseData'),
    );
  });

  it('retries an unanswered discovery read, then reports it (checklist 42)', () => {
    const h = new SessionHarness();
    h.start();
    const reads: SpineDatagram[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      h.now += 12_000;
      const effects = h.fire(RESPONSE_TIMER);
      reads.push(...sent(effects));
      if (attempt === 3) {
        const failed = events(effects).find((e) => e.kind === 'requestFailed');
        assert.ok(failed?.kind === 'requestFailed');
        assert.equal(failed.reason, 'timedOut');
        assert.equal(failed.function, 'nodeManagementDetailedDiscoveryData');
      }
    }
    assert.equal(reads.length, 2, 'attempts 2 and 3');
    assert.deepEqual(
      reads.map((d) => d.header.msgCounter),
      [2n, 3n],
    );
    // A late reply is still taken.
    const late = recorded('#0004');
    const effects = h.receive({ ...late, header: { ...late.header, msgCounterReference: 99n } });
    assert.ok(events(effects).some((e) => e.kind === 'discovered'));
  });

  it('a refused subscription is reported (relationResult refused, requestFailed)', () => {
    const { h, effects } = discovered();
    const call = sent(effects)[0]!;
    const answer = h.receive(
      h.peer(
        'result',
        NIBE_NM,
        { device: US, entity: [0], feature: 0 },
        cmd('resultData', { errorNumber: 1, description: 'no' }),
        {
          msgCounterReference: call.header.msgCounter,
        },
      ),
    );
    const kinds = events(answer).map((e) =>
      e.kind === 'relationResult' ? `${e.kind}:${e.relation.status}` : e.kind,
    );
    assert.deepEqual(kinds, ['relationResult:refused', 'requestFailed']);
    assert.equal(sent(answer).length, 0, 'a result is never answered');
  });
});

describe('SPINE session: application requests', () => {
  it('reads and subscribes from our client feature of the same type; refuses unknown features', () => {
    const { h } = discovered();
    const measurement = { entity: [1], feature: 6 };
    const read = sent(
      h.input({ kind: 'read', now: 0, destination: measurement, function: 'measurementListData' }),
    );
    assert.equal(read.length, 1);
    assert.deepEqual(read[0]!.header.addressSource, { device: US, entity: [1], feature: 3 });
    assert.deepEqual(read[0]!.header.addressDestination, { device: NIBE, ...measurement });
    const reply = h.receive(
      h.peer(
        'reply',
        { device: NIBE, ...measurement },
        { device: US, entity: [1], feature: 3 },
        cmd('measurementListData', {
          measurementData: [{ measurementId: 1, value: { number: 7 } }],
        }),
        { msgCounterReference: read[0]!.header.msgCounter },
      ),
    );
    assert.ok(events(reply).some((e) => e.kind === 'dataUpdated' && e.classifier === 'reply'));
    assert.deepEqual(h.state.remote.data.get('1:6')?.get('measurementListData'), {
      measurementData: [{ measurementId: 1, value: { number: 7 } }],
    });
    const bind = sent(
      h.input({
        kind: 'subscribe',
        now: 0,
        server: { entity: [1], feature: 2 },
        relation: 'binding',
      }),
    );
    assert.equal(bind[0]!.payload.cmd[0]!.data!.name, 'nodeManagementBindingRequestCall');
    assert.deepEqual(bind[0]!.payload.cmd[0]!.data!.value, {
      bindingRequest: {
        clientAddress: { device: US, entity: [1], feature: 5 },
        serverAddress: { device: NIBE, entity: [1], feature: 2 },
        serverFeatureType: 'LoadControl',
      },
    });
    // Pending: asking again sends nothing.
    assert.deepEqual(
      sent(
        h.input({
          kind: 'subscribe',
          now: 0,
          server: { entity: [1], feature: 2 },
          relation: 'binding',
        }),
      ),
      [],
    );
    const unknown = h.input({ kind: 'subscribe', now: 0, server: { entity: [1], feature: 99 } });
    assert.deepEqual(sent(unknown), []);
    assert.deepEqual(
      events(unknown).map((e) => e.kind),
      ['warning'],
    );
  });
});

describe('SPINE session: writes to the partner (§3.2, §5.6)', () => {
  const limits = { entity: [1], feature: 2 };
  const limitData = {
    loadControlLimitData: [{ limitId: 1, isLimitActive: true, value: { number: 4200 } }],
  };

  it('writes from our client feature with ackRequest and reports the result', () => {
    const { h } = discovered();
    const out = sent(
      h.input({
        kind: 'write',
        now: 0,
        destination: limits,
        function: 'loadControlLimitListData',
        data: limitData,
        partial: true,
      }),
    );
    assert.equal(out.length, 1);
    const { header, payload } = out[0]!;
    assert.equal(header.cmdClassifier, 'write');
    assert.equal(header.ackRequest, true);
    // Our LoadControl client (the §5.1 layout) writes to the heat pump's LoadControl server.
    assert.deepEqual(header.addressSource, { device: US, entity: [1], feature: 5 });
    assert.deepEqual(header.addressDestination, { device: NIBE, ...limits });
    assert.deepEqual(payload.cmd[0]!.filter, [{ cmdControl: 'partial' }]);
    assert.equal(payload.cmd[0]!.function, 'loadControlLimitListData');
    assert.deepEqual(payload.cmd[0]!.data, { name: 'loadControlLimitListData', value: limitData });
    const accepted = h.receive(
      h.peer(
        'result',
        { device: NIBE, ...limits },
        { device: US, entity: [1], feature: 5 },
        cmd('resultData', { errorNumber: 0 }),
        { msgCounterReference: header.msgCounter },
      ),
    );
    assert.deepEqual(events(accepted), [
      {
        kind: 'written',
        function: 'loadControlLimitListData',
        destination: { device: NIBE, ...limits },
      },
    ]);
    // Refused with error 9 (not bound): requestFailed carries the partner's result.
    const again = sent(
      h.input({
        kind: 'write',
        now: 0,
        destination: limits,
        function: 'loadControlLimitListData',
        data: limitData,
      }),
    );
    assert.equal(again[0]!.payload.cmd[0]!.filter, undefined);
    const refused = h.receive(
      h.peer(
        'result',
        { device: NIBE, ...limits },
        { device: US, entity: [1], feature: 5 },
        cmd('resultData', { errorNumber: 9, description: 'binding required' }),
        { msgCounterReference: again[0]!.header.msgCounter },
      ),
    );
    const failed = events(refused);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.kind, 'requestFailed');
    assert.equal(failed[0]!.kind === 'requestFailed' && failed[0]!.result?.errorNumber, 9);
  });

  it('sends nothing for a function the partner does not announce writable, or an unknown feature', () => {
    const { h } = discovered();
    for (const input of [
      // Measurement data is read-only in the recorded discovery.
      { destination: { entity: [1], feature: 6 }, function: 'measurementListData' },
      { destination: { entity: [1], feature: 99 }, function: 'loadControlLimitListData' },
      { destination: { entity: [1], feature: 2 }, function: 'loadControlLimitDescriptionListData' },
    ]) {
      const effects = h.input({ kind: 'write', now: 0, data: {}, ...input });
      assert.deepEqual(sent(effects), []);
      assert.deepEqual(
        events(effects).map((e) => e.kind),
        ['warning'],
      );
    }
  });
});

describe('SPINE session: the partner heartbeat (spine-protocol.md §8.3)', () => {
  it('is lost after twice its announced timeout on our clock, and restored (checklist 45)', () => {
    const { h } = discovered();
    h.now = 1_000;
    const first = h.receive(heartbeat(h, 1));
    // PT4S announced: lost after 8 s without a fresh heartbeat.
    assert.deepEqual(timers(first), [{ kind: 'startTimer', id: HEARTBEAT_WATCH_TIMER, ms: 8_000 }]);
    assert.ok(events(first).some((e) => e.kind === 'dataUpdated'));
    // The same counter again is not a fresh heartbeat: the watch is not re-armed.
    h.now = 5_000;
    assert.deepEqual(timers(h.receive(heartbeat(h, 1))), []);
    h.now = 9_000;
    const lost = events(h.fire(HEARTBEAT_WATCH_TIMER));
    assert.deepEqual(lost, [
      { kind: 'heartbeatLost', feature: NIBE_DD, lastSeenAt: 1_000, silentForMs: 8_000 },
    ]);
    assert.equal(h.state.remote.heartbeat?.lost, true);
    // Reported once.
    h.now = 20_000;
    assert.deepEqual(events(h.fire(HEARTBEAT_WATCH_TIMER)), []);
    const back = h.receive(heartbeat(h, 2));
    assert.ok(events(back).some((e) => e.kind === 'heartbeatRestored'));
    assert.equal(h.state.remote.heartbeat?.lost, false);
    assert.equal(h.state.remote.heartbeat?.counter, '2');
  });

  it('a heartbeat every 58 s with PT60S is never lost; an early timer re-arms for the rest (checklist 45)', () => {
    const { h } = discovered();
    for (let n = 1; n <= 5; n++) {
      h.now += 58_000;
      h.receive(heartbeat(h, n, 'PT60S'));
      // A timer that fires early (it was armed before the last heartbeat) re-arms.
      const early = h.fire(HEARTBEAT_WATCH_TIMER);
      assert.deepEqual(events(early), []);
      assert.deepEqual(timers(early), [
        { kind: 'startTimer', id: HEARTBEAT_WATCH_TIMER, ms: 120_000 },
      ]);
    }
    assert.equal(h.state.remote.heartbeat?.lost, false);
  });

  it('works without timestamp and with a large counter (uint64)', () => {
    const { h } = discovered();
    const beat = heartbeat(h, 1);
    const text = encodeDatagramText(beat)
      .replace('{"timestamp":"2020-01-01T00:00:00Z"},', '')
      .replace('{"heartbeatCounter":1}', '{"heartbeatCounter":18446744073709551615}');
    h.receiveText(text);
    assert.equal(h.state.remote.heartbeat?.counter, '18446744073709551615');
  });
});
