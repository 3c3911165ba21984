/**
 * The SPINE session as a server: NodeManagement (spine-protocol.md §5.1, §5.4–§5.7), our server
 * features, and every error result of §6.3 (conformance checklist items 3–5, 8, 9, 13–18, 22,
 * 23, 25, 26, 33, 34). The partner's datagrams go in as wire text.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { buildDetailedDiscoveryData } from '../../../src/spine/device/local.js';
import { parseDetailedDiscovery } from '../../../src/spine/device/discovery.js';
import { buildUseCaseData } from '../../../src/spine/node-management/use-cases.js';
import { manufacturerServerData } from '../../../src/spine/session/defaults.js';
import { HEARTBEAT_SEND_TIMER } from '../../../src/spine/session/types.js';
import {
  PEER,
  SessionHarness,
  US,
  cmd,
  events,
  localDevice,
  resultOf,
  sent,
  timers,
} from '../../helpers/spine-session.js';

const PEER_NM = { device: PEER, entity: [0], feature: 0 };
const OUR_NM = { entity: [0], feature: 0 };
const OUR_NM_FULL = { device: US, entity: [0], feature: 0 };
const OUR_DD_SERVER = { device: US, entity: [1], feature: 1 };
const OUR_DD_CLIENT = { device: US, entity: [1], feature: 2 };
const PEER_DD_CLIENT = { device: PEER, entity: [1], feature: 8 };

/** The one datagram sent in reaction to an input. */
function only(effects: ReturnType<SessionHarness['input']>) {
  const datagrams = sent(effects);
  assert.equal(datagrams.length, 1, `expected one datagram, got ${datagrams.length}`);
  return datagrams[0]!;
}

/** Expects one error result with this number, referencing `counter`. */
function expectError(
  effects: ReturnType<SessionHarness['input']>,
  errorNumber: number,
  counter: bigint,
) {
  const answer = only(effects);
  assert.equal(answer.header.cmdClassifier, 'result');
  assert.equal(answer.header.msgCounterReference, counter);
  assert.equal(resultOf(answer).errorNumber, errorNumber, resultOf(answer).description);
  const reported = events(effects).filter((e) => e.kind === 'errorAnswered');
  assert.equal(reported.length, 1);
}

function subscribeCall(client: object, server: object, serverFeatureType: string) {
  return cmd('nodeManagementSubscriptionRequestCall', {
    subscriptionRequest: { clientAddress: client, serverAddress: server, serverFeatureType },
  });
}

function bindingCall(client: object, server: object, serverFeatureType: string) {
  return cmd('nodeManagementBindingRequestCall', {
    bindingRequest: { clientAddress: client, serverAddress: server, serverFeatureType },
  });
}

describe('SPINE session: NodeManagement reads (spine-protocol.md §5)', () => {
  it('answers a discovery read without device with our whole device (checklist 22, 16)', () => {
    const h = new SessionHarness();
    const read = h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementDetailedDiscoveryData'));
    const reply = only(h.receive(read));
    assert.equal(reply.header.cmdClassifier, 'reply');
    assert.equal(reply.header.msgCounterReference, read.header.msgCounter);
    assert.deepEqual(reply.header.addressSource, OUR_NM_FULL);
    assert.deepEqual(reply.header.addressDestination, PEER_NM);
    assert.deepEqual(reply.payload.cmd[0]!.data, {
      name: 'nodeManagementDetailedDiscoveryData',
      value: buildDetailedDiscoveryData(localDevice()),
    });
    const parsed = parseDetailedDiscovery(reply.payload.cmd[0]!.data.value);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.device, localDevice());
  });

  it('answers our use case data (§5.4, checklist 30)', () => {
    const useCases = [
      {
        entity: [1],
        actor: 'MonitoringAppliance',
        useCaseName: 'monitoringOfPowerConsumption',
        scenarios: [1, 2, 3, 4, 5],
      },
    ];
    const h = new SessionHarness({ useCases });
    const reply = only(
      h.receive(h.peer('read', PEER_NM, OUR_NM_FULL, cmd('nodeManagementUseCaseData'))),
    );
    assert.deepEqual(reply.payload.cmd[0]!.data!.value, buildUseCaseData(US, useCases));
    assert.deepEqual(buildUseCaseData(US, useCases), {
      useCaseInformation: [
        {
          address: { device: US, entity: [1] },
          actor: 'MonitoringAppliance',
          useCaseSupport: [
            {
              useCaseName: 'monitoringOfPowerConsumption',
              useCaseVersion: '1.0.0',
              useCaseAvailable: true,
              scenarioSupport: [1, 2, 3, 4, 5],
              useCaseDocumentSubRevision: 'release',
            },
          ],
        },
      ],
    });
  });

  it('answers the destination list with our own device (§5.7)', () => {
    const h = new SessionHarness();
    const reply = only(
      h.receive(h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementDestinationListData'))),
    );
    assert.deepEqual(reply.payload.cmd[0]!.data!.value, {
      nodeManagementDestinationData: [
        {
          deviceDescription: {
            deviceAddress: { device: US },
            deviceType: 'EnergyManagementSystem',
            networkFeatureSet: 'smart',
          },
        },
      ],
    });
  });

  it('answers manufacturer data and diagnosis state from our server features (§9)', () => {
    const manufacturer = manufacturerServerData({ brand: 'ShipHub', model: 'HEMS', shipId: 'X' });
    const h = new SessionHarness({ serverData: [manufacturer] });
    const m = only(
      h.receive(
        h.peer(
          'read',
          { device: PEER, entity: [1], feature: 9 },
          { device: US, entity: [0], feature: 1 },
          cmd('deviceClassificationManufacturerData'),
        ),
      ),
    );
    assert.deepEqual(m.payload.cmd[0]!.data!.value, {
      deviceName: 'HEMS',
      deviceCode: 'X',
      vendorName: 'ShipHub',
      brandName: 'ShipHub',
    });
    const state = only(
      h.receive(h.peer('read', PEER_DD_CLIENT, OUR_DD_SERVER, cmd('deviceDiagnosisStateData'))),
    );
    assert.deepEqual(state.payload.cmd[0]!.data!.value, { operatingState: 'normalOperation' });
  });

  it('answers several read cmds with one reply holding one cmd each (checklist 9)', () => {
    const h = new SessionHarness();
    const reply = only(
      h.receive(
        h.peer('read', PEER_NM, OUR_NM, [
          cmd('nodeManagementUseCaseData'),
          cmd('nodeManagementSubscriptionData'),
        ]),
      ),
    );
    assert.deepEqual(
      reply.payload.cmd.map((c) => c.data!.name),
      ['nodeManagementUseCaseData', 'nodeManagementSubscriptionData'],
    );
  });

  it('references a 64-bit counter exactly and ignores ackRequest on reads (checklist 8, 15)', () => {
    const h = new SessionHarness();
    const read = h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementUseCaseData'), {
      msgCounter: 18446744073709551615n,
      ackRequest: true,
    });
    const effects = h.receive(read);
    const reply = only(effects);
    assert.equal(reply.header.cmdClassifier, 'reply');
    assert.equal(reply.header.msgCounterReference, 18446744073709551615n);
    const text = (effects.find((e) => e.kind === 'send') as { text: string }).text;
    assert.ok(text.includes('{"msgCounterReference":18446744073709551615}'), text);
  });

  it('processes a datagram with a higher minor version and unknown header elements (checklist 3, 5)', () => {
    const h = new SessionHarness();
    const read = h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementUseCaseData'));
    const text = encodeDatagramText({
      ...read,
      header: { ...read.header, specificationVersion: '1.999.0' },
    }).replace('{"cmdClassifier":"read"}', '{"cmdClassifier":"read"},{"futureElement":1}');
    assert.ok(text.includes('futureElement'));
    const reply = only(h.receiveText(text));
    assert.equal(reply.header.cmdClassifier, 'reply');
  });
});

describe('SPINE session: error results (spine-protocol.md §6.3)', () => {
  it('4 for an unknown feature, entity, or another device (checklist 17)', () => {
    const h = new SessionHarness();
    for (const destination of [
      { device: US, entity: [1], feature: 99 },
      { device: US, entity: [7], feature: 1 },
      { device: 'd:_n:Other_X-1', entity: [0], feature: 0 },
    ]) {
      const read = h.peer('read', PEER_NM, destination, cmd('nodeManagementUseCaseData'));
      expectError(h.receive(read), 4, read.header.msgCounter);
    }
  });

  it('7 for a read of one of our client features (checklist 17)', () => {
    const h = new SessionHarness();
    const read = h.peer('read', PEER_NM, OUR_DD_CLIENT, cmd('deviceDiagnosisHeartbeatData'));
    expectError(h.receive(read), 7, read.header.msgCounter);
  });

  it('6 for an unknown function, a function of another feature, a call read (checklist 4, 23)', () => {
    const h = new SessionHarness();
    const cases = [
      h.peer('read', PEER_DD_CLIENT, OUR_DD_SERVER, cmd('futureListData')),
      h.peer('read', PEER_DD_CLIENT, OUR_DD_SERVER, cmd('measurementListData')),
      // NodeManagement functions exist only at [0]:0 (TC_SPINE_FC_001).
      h.peer('read', PEER_NM, OUR_DD_SERVER, cmd('nodeManagementDetailedDiscoveryData')),
      h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementSubscriptionRequestCall')),
    ];
    for (const read of cases) expectError(h.receive(read), 6, read.header.msgCounter);
  });

  it('6 for a cmd whose only element is unknown', () => {
    const h = new SessionHarness();
    const read = h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementDetailedDiscoveryData'));
    const text = encodeDatagramText(read).replace(
      '"nodeManagementDetailedDiscoveryData"',
      '"futureDiscoveryData"',
    );
    expectError(h.receiveText(text), 6, read.header.msgCounter);
  });

  it('6 for a write to a read-only function, calls to other features, unknown calls (checklist 18)', () => {
    const h = new SessionHarness();
    const write = h.peer(
      'write',
      PEER_DD_CLIENT,
      OUR_DD_SERVER,
      cmd('deviceDiagnosisHeartbeatData'),
      {
        ackRequest: true,
      },
    );
    expectError(h.receive(write), 6, write.header.msgCounter);
    const call = h.peer(
      'call',
      PEER_NM,
      OUR_DD_SERVER,
      subscribeCall(PEER_NM, OUR_NM_FULL, 'NodeManagement'),
    );
    expectError(h.receive(call), 6, call.header.msgCounter);
    const unknown = h.peer('call', PEER_NM, OUR_NM, cmd('nodeManagementFutureCall'));
    expectError(h.receive(unknown), 6, unknown.header.msgCounter);
  });

  it('7 for a write to a client feature', () => {
    const h = new SessionHarness();
    const write = h.peer(
      'write',
      PEER_DD_CLIENT,
      OUR_DD_CLIENT,
      cmd('deviceDiagnosisHeartbeatData'),
    );
    expectError(h.receive(write), 7, write.header.msgCounter);
  });

  it('a notify to an unknown feature: 4 with ackRequest, silence without (checklist 13)', () => {
    const h = new SessionHarness();
    const quiet = h.peer(
      'notify',
      PEER_DD_CLIENT,
      { device: US, entity: [3], feature: 3 },
      cmd('x'),
    );
    assert.equal(sent(h.receive(quiet)).length, 0);
    const asked = h.peer(
      'notify',
      PEER_DD_CLIENT,
      { device: US, entity: [1], feature: 3 },
      cmd('measurementListData'),
      {
        ackRequest: true,
      },
    );
    // [1]:3 is our Measurement client: the notify is taken; the result acknowledges it.
    const ack = only(h.receive(asked));
    assert.equal(resultOf(ack).errorNumber, 0);
  });

  it('never answers a result, whatever it says (checklist 14)', () => {
    const h = new SessionHarness();
    for (const ackRequest of [true, false]) {
      const result = h.peer('result', PEER_NM, OUR_NM_FULL, cmd('resultData', { errorNumber: 1 }), {
        ackRequest,
        msgCounterReference: 77n,
      });
      assert.equal(sent(h.receive(result)).length, 0);
    }
  });

  it('answers a datagram without cmdClassifier with 4, and stays usable (§6.3)', () => {
    const h = new SessionHarness();
    const read = h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementUseCaseData'));
    const text = encodeDatagramText(read).replace(',{"cmdClassifier":"read"}', '');
    const effects = h.receiveText(text);
    assert.equal(events(effects).filter((e) => e.kind === 'undecodable').length, 1);
    const answer = only(effects);
    assert.equal(answer.header.cmdClassifier, 'result');
    assert.equal(resultOf(answer).errorNumber, 4);
    // The session goes on.
    assert.equal(
      only(h.receive(h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementUseCaseData')))).header
        .cmdClassifier,
      'reply',
    );
  });

  it('reports text that is not JSON and sends nothing (nobody to address)', () => {
    const h = new SessionHarness();
    const effects = h.receiveText('{"datagram":');
    assert.equal(sent(effects).length, 0);
    assert.deepEqual(
      events(effects).map((e) => e.kind),
      ['undecodable'],
    );
  });

  it('acknowledges a notify with ackRequest with 0 and stores it (checklist 13)', () => {
    const h = new SessionHarness();
    const notify = h.peer(
      'notify',
      { device: PEER, entity: [1], feature: 4 },
      { device: US, entity: [1], feature: 3 },
      cmd('measurementListData', {
        measurementData: [{ measurementId: 0, value: { number: 5, scale: 0 } }],
      }),
      { ackRequest: true },
    );
    const effects = h.receive(notify);
    assert.equal(resultOf(only(effects)).errorNumber, 0);
    const update = events(effects).find((e) => e.kind === 'dataUpdated');
    assert.ok(update?.kind === 'dataUpdated');
    assert.equal(update.function, 'measurementListData');
  });
});

describe('SPINE session: subscriptions and bindings (spine-protocol.md §5.5, §5.6)', () => {
  it('accepts a NodeManagement subscription once, lists it, deletes it twice without harm (checklist 25, 33)', () => {
    const h = new SessionHarness();
    const call = h.peer(
      'call',
      PEER_NM,
      OUR_NM_FULL,
      subscribeCall(PEER_NM, OUR_NM_FULL, 'NodeManagement'),
      {
        ackRequest: true,
      },
    );
    const first = h.receive(call);
    assert.equal(resultOf(only(first)).errorNumber, 0);
    assert.equal(events(first).filter((e) => e.kind === 'peerRelationAdded').length, 1);
    const again = h.receive(
      h.peer('call', PEER_NM, OUR_NM_FULL, subscribeCall(PEER_NM, OUR_NM_FULL, 'NodeManagement'), {
        ackRequest: true,
      }),
    );
    assert.equal(resultOf(only(again)).errorNumber, 0);
    assert.equal(h.state.subscriptions.length, 1);
    const list = only(
      h.receive(h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementSubscriptionData'))),
    );
    assert.deepEqual(list.payload.cmd[0]!.data!.value, {
      subscriptionEntry: [
        { subscriptionId: 1, clientAddress: PEER_NM, serverAddress: OUR_NM_FULL },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const del = h.peer(
        'call',
        PEER_NM,
        OUR_NM_FULL,
        cmd('nodeManagementSubscriptionDeleteCall', {
          subscriptionDelete: {
            clientAddress: { entity: [0], feature: 0 },
            serverAddress: OUR_NM_FULL,
          },
        }),
        { ackRequest: true },
      );
      assert.equal(resultOf(only(h.receive(del))).errorNumber, 0);
    }
    assert.equal(h.state.subscriptions.length, 0);
  });

  it('refuses subscriptions to unknown features, of the wrong type, or malformed (1)', () => {
    const h = new SessionHarness();
    const cases = [
      subscribeCall(PEER_NM, { device: US, entity: [1], feature: 42 }, 'Measurement'),
      subscribeCall(PEER_DD_CLIENT, OUR_DD_SERVER, 'Measurement'),
      subscribeCall(
        PEER_DD_CLIENT,
        { device: 'd:_n:Else_1', entity: [1], feature: 1 },
        'DeviceDiagnosis',
      ),
      cmd('nodeManagementSubscriptionRequestCall', {
        subscriptionRequest: { clientAddress: PEER_NM },
      }),
      cmd('nodeManagementSubscriptionRequestCall', {}),
    ];
    for (const c of cases) {
      const call = h.peer('call', PEER_NM, OUR_NM_FULL, c);
      // A failed call is answered even without ackRequest (§6.2 rule 3).
      expectError(h.receive(call), 1, call.header.msgCounter);
    }
    assert.equal(h.state.subscriptions.length, 0);
  });

  it('refuses a binding to NodeManagement with 7 and a second client with 7 (checklist 26)', () => {
    const h = new SessionHarness();
    const nm = h.peer(
      'call',
      PEER_NM,
      OUR_NM_FULL,
      bindingCall(PEER_NM, OUR_NM_FULL, 'NodeManagement'),
      {
        ackRequest: true,
      },
    );
    expectError(h.receive(nm), 7, nm.header.msgCounter);
    const first = h.peer(
      'call',
      PEER_NM,
      OUR_NM_FULL,
      bindingCall(PEER_DD_CLIENT, OUR_DD_SERVER, 'DeviceDiagnosis'),
      {
        ackRequest: true,
      },
    );
    assert.equal(resultOf(only(h.receive(first))).errorNumber, 0);
    const other = { device: PEER, entity: [2], feature: 8 };
    const second = h.peer(
      'call',
      PEER_NM,
      OUR_NM_FULL,
      bindingCall(other, OUR_DD_SERVER, 'DeviceDiagnosis'),
    );
    expectError(h.receive(second), 7, second.header.msgCounter);
    const list = only(h.receive(h.peer('read', PEER_NM, OUR_NM, cmd('nodeManagementBindingData'))));
    assert.deepEqual(list.payload.cmd[0]!.data!.value, {
      bindingEntry: [{ bindingId: 1, clientAddress: PEER_DD_CLIENT, serverAddress: OUR_DD_SERVER }],
    });
  });

  it('refuses a client feature missing from the requester once its discovery is known (checklist 33)', () => {
    const h = new SessionHarness();
    h.start();
    const discoveryRead = sent(h.effects)[0]!;
    h.receive(
      h.peer(
        'reply',
        PEER_NM,
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
              },
            },
          ],
        }),
        { msgCounterReference: discoveryRead.header.msgCounter },
      ),
    );
    assert.equal(h.state.remote.device?.device, PEER);
    const call = h.peer(
      'call',
      PEER_NM,
      OUR_NM_FULL,
      subscribeCall(PEER_DD_CLIENT, OUR_DD_SERVER, 'DeviceDiagnosis'),
    );
    expectError(h.receive(call), 1, call.header.msgCounter);
  });

  it('write: 9 without binding; with binding applied, subscribers notified before the result (checklist 18, 19, 34)', () => {
    const spec = {
      device: US,
      type: 'ChargingStation',
      entities: [
        {
          type: 'EVSE',
          features: [
            {
              type: 'LoadControl' as const,
              role: 'server' as const,
              functions: [
                { function: 'loadControlLimitListData', write: true, writePartial: true },
              ],
            },
          ],
        },
      ],
    };
    const lc = { device: US, entity: [1], feature: 1 };
    const client = { device: PEER, entity: [1], feature: 5 };
    const h = new SessionHarness({
      localDevice: localDevice(spec),
      serverData: [
        {
          entity: [1],
          feature: 1,
          function: 'loadControlLimitListData',
          data: {
            loadControlLimitData: [
              {
                limitId: 0,
                isLimitChangeable: true,
                isLimitActive: false,
                value: { number: 0, scale: 0 },
              },
            ],
          },
        },
      ],
    });
    const write = () =>
      h.peer(
        'write',
        client,
        lc,
        {
          function: 'loadControlLimitListData',
          filter: [{ cmdControl: 'partial' }],
          data: {
            name: 'loadControlLimitListData',
            value: {
              loadControlLimitData: [
                { limitId: 0, isLimitActive: true, value: { number: 4200, scale: 0 } },
              ],
            },
          },
        },
        { ackRequest: true },
      );
    const unbound = write();
    expectError(h.receive(unbound), 9, unbound.header.msgCounter);
    h.receive(
      h.peer('call', PEER_NM, OUR_NM_FULL, subscribeCall(client, lc, 'LoadControl'), {
        ackRequest: true,
      }),
    );
    h.receive(
      h.peer('call', PEER_NM, OUR_NM_FULL, bindingCall(client, lc, 'LoadControl'), {
        ackRequest: true,
      }),
    );
    const effects = h.receive(write());
    const out = sent(effects);
    assert.deepEqual(
      out.map((d) => d.header.cmdClassifier),
      ['notify', 'result'],
    );
    assert.deepEqual(out[0]!.header.addressDestination, client);
    assert.deepEqual(out[0]!.payload.cmd[0]!.data!.value, {
      loadControlLimitData: [
        {
          limitId: 0,
          isLimitChangeable: true,
          isLimitActive: true,
          value: { number: 4200, scale: 0 },
        },
      ],
    });
    assert.equal(resultOf(out[1]!).errorNumber, 0);
    const read = only(h.receive(h.peer('read', client, lc, cmd('loadControlLimitListData'))));
    assert.deepEqual(read.payload.cmd[0]!.data!.value, out[0]!.payload.cmd[0]!.data!.value);
  });
});

describe('SPINE session: our heartbeat (spine-protocol.md §8.1, §8.2)', () => {
  it('a subscriber gets a heartbeat at once, then every half timeout, until it unsubscribes (checklist 43, 44)', () => {
    const h = new SessionHarness({ heartbeatTimeoutMs: 4000 });
    const call = h.peer(
      'call',
      PEER_NM,
      OUR_NM_FULL,
      subscribeCall(PEER_DD_CLIENT, OUR_DD_SERVER, 'DeviceDiagnosis'),
      {
        ackRequest: true,
      },
    );
    const first = h.receive(call);
    const out = sent(first);
    assert.deepEqual(
      out.map((d) => d.header.cmdClassifier),
      ['result', 'notify'],
    );
    const heartbeat = out[1]!;
    assert.deepEqual(heartbeat.header.addressSource, OUR_DD_SERVER);
    assert.deepEqual(heartbeat.header.addressDestination, PEER_DD_CLIENT);
    assert.deepEqual(heartbeat.payload.cmd[0]!.data, {
      name: 'deviceDiagnosisHeartbeatData',
      value: { timestamp: '2026-01-01T00:00:00Z', heartbeatCounter: 1, heartbeatTimeout: 'PT4S' },
    });
    assert.deepEqual(
      timers(first).filter((t) => t.id === HEARTBEAT_SEND_TIMER),
      [{ kind: 'startTimer', id: HEARTBEAT_SEND_TIMER, ms: 2000 }],
    );
    for (let n = 2; n <= 4; n++) {
      h.now += 2000;
      const tick = h.fire(HEARTBEAT_SEND_TIMER);
      const beat = only(tick);
      assert.equal(
        (beat.payload.cmd[0]!.data!.value as { heartbeatCounter: number }).heartbeatCounter,
        n,
      );
      assert.deepEqual(timers(tick), [{ kind: 'startTimer', id: HEARTBEAT_SEND_TIMER, ms: 2000 }]);
    }
    // A read of the heartbeat gets the current data.
    const read = only(
      h.receive(h.peer('read', PEER_DD_CLIENT, OUR_DD_SERVER, cmd('deviceDiagnosisHeartbeatData'))),
    );
    assert.equal(
      (read.payload.cmd[0]!.data!.value as { heartbeatCounter: number }).heartbeatCounter,
      4,
    );
    const del = h.receive(
      h.peer(
        'call',
        PEER_NM,
        OUR_NM_FULL,
        cmd('nodeManagementSubscriptionDeleteCall', {
          subscriptionDelete: { clientAddress: PEER_DD_CLIENT, serverAddress: OUR_DD_SERVER },
        }),
        { ackRequest: true },
      ),
    );
    assert.deepEqual(timers(del), [{ kind: 'cancelTimer', id: HEARTBEAT_SEND_TIMER }]);
    assert.equal(h.state.heartbeatRunning, false);
  });

  it('stops its timers when the connection closes', () => {
    const h = new SessionHarness();
    h.receive(
      h.peer(
        'call',
        PEER_NM,
        OUR_NM_FULL,
        subscribeCall(PEER_DD_CLIENT, OUR_DD_SERVER, 'DeviceDiagnosis'),
      ),
    );
    const closed = h.input({ kind: 'closed', now: h.now });
    assert.ok(
      timers(closed).some((t) => t.kind === 'cancelTimer' && t.id === HEARTBEAT_SEND_TIMER),
    );
    assert.equal(sent(h.fire(HEARTBEAT_SEND_TIMER)).length, 0);
  });
});
