/**
 * The SPINE driver (src/hub/spine-driver.ts) with a fake device and a FakeClock: payload text in,
 * RawJsonPayload out, the session's timers on the clock (heartbeat every half timeout, a stalled
 * partner heartbeat reported), everything stopped on close.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpineDriver } from '../../../src/hub/spine-driver.js';
import type { RemoteDevice } from '../../../src/hub/types.js';
import { RawJsonPayload } from '../../../src/ship/codec/data.js';
import type { Ski } from '../../../src/ship/ski.js';
import { decodeDatagramText, encodeDatagramText } from '../../../src/spine/codec/datagram.js';
import type { SpineDatagram } from '../../../src/spine/model/datagram.js';
import type { SpineSessionEvent } from '../../../src/spine/session/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { PEER, SessionHarness, US, cmd, localDevice } from '../../helpers/spine-session.js';

const SKI = '0123456789abcdef0123456789abcdef01234567' as Ski;

function setup() {
  const clock = new FakeClock();
  const sentTexts: string[] = [];
  const events: SpineSessionEvent[] = [];
  const messages = { received: 0, sent: 0 };
  const device: RemoteDevice = {
    ski: SKI,
    direction: 'outbound',
    remoteAddress: '127.0.0.1',
    shipId: 'peer',
    send: (payload) => {
      assert.ok(payload instanceof RawJsonPayload, 'SPINE sends JSON text');
      sentTexts.push(payload.text);
    },
    close: () => Promise.resolve(),
  };
  const driver = new SpineDriver({
    clock,
    session: { localDevice: localDevice(), heartbeatTimeoutMs: 4_000, heartbeatLossMs: 10_000 },
    onEvent: (_ski, event) => events.push(event),
    onMessage: (_ski, direction) => messages[direction]++,
  });
  const handler = driver.setupRemoteDevice(device);
  const sent = (): SpineDatagram[] =>
    sentTexts.splice(0).map((text) => {
      const decoded = decodeDatagramText(text);
      assert.ok(decoded.ok);
      return decoded.datagram;
    });
  return { clock, driver, handler, sent, events, messages };
}

describe('SpineDriver', () => {
  it('starts the session at once and answers payload text and parsed payloads alike', () => {
    const { handler, sent } = setup();
    const [first] = sent();
    assert.equal(first?.payload.cmd[0]?.data?.name, 'nodeManagementDetailedDiscoveryData');
    const peer = new SessionHarness();
    const read = peer.peer(
      'read',
      { device: PEER, entity: [0], feature: 0 },
      { entity: [0], feature: 0 },
      cmd('nodeManagementUseCaseData'),
      { msgCounter: 18446744073709551615n },
    );
    const text = encodeDatagramText(read);
    handler.onData(JSON.parse(text), text);
    const [reply] = sent();
    assert.equal(reply?.header.msgCounterReference, 18446744073709551615n);
    // Without text (a transport that cannot give it) the parsed value is used.
    const small = peer.peer(
      'read',
      { device: PEER, entity: [0], feature: 0 },
      { entity: [0], feature: 0 },
      cmd('nodeManagementUseCaseData'),
      {
        msgCounter: 7n,
      },
    );
    handler.onData(JSON.parse(encodeDatagramText(small)));
    assert.equal(sent()[0]?.header.msgCounterReference, 7n);
  });

  it('runs heartbeats and the heartbeat watch on the clock, and stops them on close', () => {
    const { clock, driver, handler, sent, events } = setup();
    sent();
    const peer = new SessionHarness();
    handler.onData(
      undefined,
      encodeDatagramText(
        peer.peer(
          'call',
          { device: PEER, entity: [0], feature: 0 },
          { device: US, entity: [0], feature: 0 },
          cmd('nodeManagementSubscriptionRequestCall', {
            subscriptionRequest: {
              clientAddress: { device: PEER, entity: [1], feature: 8 },
              serverAddress: { device: US, entity: [1], feature: 1 },
              serverFeatureType: 'DeviceDiagnosis',
            },
          }),
        ),
      ),
    );
    const beats = () =>
      sent().filter((d) => d.payload.cmd[0]?.data?.name === 'deviceDiagnosisHeartbeatData');
    assert.equal(beats().length, 1, 'the first heartbeat at once');
    clock.advance(2_000);
    const [second] = beats();
    assert.deepEqual(second?.payload.cmd[0]?.data?.value, {
      timestamp: '2026-01-01T00:00:02Z',
      heartbeatCounter: 2,
      heartbeatTimeout: 'PT4S',
    });
    clock.advance(6_000);
    assert.equal(beats().length, 3);
    assert.equal(driver.state(SKI)?.heartbeatCounter, 5);
    handler.onClose?.({} as never);
    assert.deepEqual(driver.devices(), []);
    assert.deepEqual(
      clock.listTimers().filter((t) => t.name.startsWith('spine-')),
      [],
    );
    clock.advance(10_000);
    assert.equal(beats().length, 0);
    assert.ok(!events.some((e) => e.kind === 'heartbeatLost'));
  });

  it('reports a stalled partner heartbeat through the clock, and summarises the device', () => {
    const { clock, driver, handler, sent, events, messages } = setup();
    const [read] = sent();
    const peer = new SessionHarness();
    handler.onData(
      undefined,
      encodeDatagramText(
        peer.peer(
          'reply',
          { device: PEER, entity: [0], feature: 0 },
          { device: US, entity: [0], feature: 0 },
          cmd('nodeManagementDetailedDiscoveryData', {
            deviceInformation: { description: { deviceAddress: { device: PEER } } },
            entityInformation: [
              { description: { entityAddress: { entity: [0] }, entityType: 'DeviceInformation' } },
              { description: { entityAddress: { entity: [1] }, entityType: 'HeatPumpAppliance' } },
            ],
            featureInformation: [
              {
                description: {
                  featureAddress: { entity: [1], feature: 4 },
                  featureType: 'DeviceDiagnosis',
                  role: 'server',
                  supportedFunction: [
                    { function: 'deviceDiagnosisHeartbeatData', possibleOperations: { read: {} } },
                  ],
                },
              },
            ],
          }),
          { msgCounterReference: read!.header.msgCounter },
        ),
      ),
    );
    assert.ok(events.some((e) => e.kind === 'discovered'));
    clock.advance(9_999);
    assert.ok(!events.some((e) => e.kind === 'heartbeatLost'));
    clock.advance(1);
    assert.deepEqual(
      events.filter((e) => e.kind === 'heartbeatLost'),
      [
        {
          kind: 'heartbeatLost',
          feature: { device: PEER, entity: [1], feature: 4 },
          lastSeenAt: 0,
          silentForMs: 10_000,
        },
      ],
    );
    assert.equal(driver.state(SKI)?.remote.heartbeat?.lost, true);

    // The summary an application and the admin API see.
    const summary = driver.summary(SKI);
    assert.deepEqual(
      { ...summary, relations: undefined },
      {
        session: 'running',
        discovered: true,
        deviceAddress: PEER,
        entities: [
          { entity: [0], type: 'DeviceInformation', features: [] },
          {
            entity: [1],
            type: 'HeatPumpAppliance',
            features: [
              {
                feature: 4,
                type: 'DeviceDiagnosis',
                role: 'server',
                functions: ['deviceDiagnosisHeartbeatData'],
              },
            ],
          },
        ],
        heartbeat: { state: 'lost', silentForMs: 10_000 },
        // Its NodeManagement announces no use case data: none, not "still unknown" (§7.1).
        useCases: [],
        // It offers no monitoring use case: nothing monitored.
        monitoring: [],
        relations: undefined,
      },
    );
    assert.deepEqual([...driver.summaries().keys()], [SKI]);
    assert.equal(driver.summary('ffffffffffffffffffffffffffffffffffffffff' as Ski), undefined);
    assert.deepEqual(messages, { received: 1, sent: messages.sent });
    assert.ok(messages.sent >= 2, 'discovery read and the subscription/read that followed');
  });
});
