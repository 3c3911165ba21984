/**
 * Two hubs over real TLS + WebSocket on 127.0.0.1, each running a SPINE session per device
 * (src/hub/spine-driver.ts): each discovers the other's device (entities, features, use cases,
 * manufacturer data), both subscriptions are accepted, and heartbeats flow both ways
 * (spine-protocol.md §7.1 connection sequence, §8 heartbeat), and a write to a bound partner
 * feature lands in its data (§3.2, §5.6). Waits on session events only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Hub } from '../../src/hub/hub.js';
import { SpineDriver } from '../../src/hub/spine-driver.js';
import { TlsTransport } from '../../src/hub/transport.js';
import type { Ski } from '../../src/ship/ski.js';
import { createLocalDevice, type LocalFeatureSpec } from '../../src/spine/device/local.js';
import { featureKey } from '../../src/spine/model/address.js';
import type { LocalUseCase } from '../../src/spine/node-management/use-cases.js';
import {
  energyManagerDeviceSpec,
  manufacturerServerData,
} from '../../src/spine/session/defaults.js';
import type { SpineSessionEvent } from '../../src/spine/session/types.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import type { NodeIdentity } from '../../src/trust/identity.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { StaticDiscovery, serviceAt } from '../helpers/static-discovery.js';

/** Session events of one hub, with a way to wait for a condition on them. */
class EventLog {
  readonly events: Array<{ ski: Ski; event: SpineSessionEvent }> = [];
  private waiters: Array<{ check: () => boolean; resolve: () => void }> = [];

  push(ski: Ski, event: SpineSessionEvent): void {
    this.events.push({ ski, event });
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
  }

  of<K extends SpineSessionEvent['kind']>(kind: K): Array<Extract<SpineSessionEvent, { kind: K }>> {
    return this.events.flatMap(({ event }) =>
      event.kind === kind ? [event as Extract<SpineSessionEvent, { kind: K }>] : [],
    );
  }

  /** Resolves once `check` holds (checked now and after every event). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }
}

function makeHub(
  identity: NodeIdentity,
  peer: NodeIdentity,
  name: string,
  useCases: LocalUseCase[],
  serverFeatures: readonly LocalFeatureSpec[] = [],
) {
  const device = `d:_n:ShipHub_${name}-${identity.ski.slice(0, 8)}`;
  const spec = energyManagerDeviceSpec({ device });
  const [cem] = spec.entities;
  assert.ok(cem);
  const built = createLocalDevice({
    ...spec,
    entities: [{ ...cem, features: [...cem.features, ...serverFeatures] }],
  });
  assert.ok(built.ok);
  const log = new EventLog();
  const spine = new SpineDriver({
    clock: systemClock,
    session: {
      localDevice: built.device,
      useCases,
      serverData: [manufacturerServerData({ brand: 'ShipHub', model: name, shipId: `id-${name}` })],
      // Short, so that several heartbeats pass quickly: one every 150 ms.
      heartbeatTimeoutMs: 300,
      // Loss is not under test here; a loaded machine must not make it trip.
      heartbeatLossMs: 60_000,
    },
    onEvent: (ski, event) => log.push(ski, event),
  });
  const discovery = new StaticDiscovery();
  const hub = new Hub({
    localSki: identity.ski,
    localShipId: `id-${name}`,
    transport: new TlsTransport({
      tls: createShipTlsContext(identity),
      localSki: identity.ski,
      localShipId: `id-${name}`,
      port: 0,
      host: '127.0.0.1',
      clock: systemClock,
    }),
    clock: systemClock,
    discovery,
    trusted: [{ ski: peer.ski }],
    spine,
  });
  return { hub, discovery, spine, log, device, localDevice: built.device };
}

const MPC: LocalUseCase = {
  entity: [1],
  actor: 'MonitoringAppliance',
  useCaseName: 'monitoringOfPowerConsumption',
  scenarios: [1, 2, 3, 4, 5],
};
const LPC: LocalUseCase = {
  entity: [1],
  actor: 'EnergyGuard',
  useCaseName: 'limitationOfPowerConsumption',
  scenarios: [1, 2, 3, 4],
};

describe('SPINE between two hubs over real TLS on 127.0.0.1', () => {
  it(
    'each discovers the other, subscriptions are accepted, heartbeats flow both ways',
    { timeout: 30_000 },
    async () => {
      const ia = await testIdentity('spine-a');
      const ib = await testIdentity('spine-b');
      const a = makeHub(ia, ib, 'A', [MPC]);
      const b = makeHub(ib, ia, 'B', [MPC, LPC]);
      await a.hub.start();
      const portB = await b.hub.start();
      try {
        // Only A dials: one connection, no double-connection race in this test.
        a.discovery.add(serviceAt(ib.ski, portB));
        const heartbeatsFrom = (side: typeof a) =>
          side.log
            .of('dataUpdated')
            .filter(
              (e) => e.function === 'deviceDiagnosisHeartbeatData' && e.classifier === 'notify',
            );
        const settled = (side: typeof a) => () =>
          side.log.of('discovered').length === 1 &&
          side.log.of('useCases').length >= 1 &&
          side.log.of('relationResult').length >= 2 &&
          side.log
            .of('dataUpdated')
            .some((e) => e.function === 'deviceClassificationManufacturerData') &&
          heartbeatsFrom(side).length >= 3;
        await Promise.all([a.log.until(settled(a)), b.log.until(settled(b))]);

        for (const [side, other, otherName] of [
          [a, b, 'B'],
          [b, a, 'A'],
        ] as const) {
          const [discovered] = side.log.of('discovered');
          // The partner's whole device, as its own model says (entities, features, functions).
          assert.deepEqual(discovered!.device, other.localDevice);
          assert.deepEqual(discovered!.warnings, []);
          const useCases = side.log.of('useCases').at(-1)!.useCases;
          assert.deepEqual(
            useCases.flatMap((u) => u.useCases.map((c) => `${u.actor}/${c.useCaseName}`)),
            other === b
              ? [
                  'MonitoringAppliance/monitoringOfPowerConsumption',
                  'EnergyGuard/limitationOfPowerConsumption',
                ]
              : ['MonitoringAppliance/monitoringOfPowerConsumption'],
          );
          assert.deepEqual(useCases[0]!.address, { device: other.device, entity: [1] });
          const manufacturer = side.log
            .of('dataUpdated')
            .find((e) => e.function === 'deviceClassificationManufacturerData');
          assert.deepEqual(manufacturer!.data, {
            deviceName: otherName,
            deviceCode: `id-${otherName}`,
            vendorName: 'ShipHub',
            brandName: 'ShipHub',
          });
          // Our NodeManagement and DeviceDiagnosis subscriptions were both accepted.
          assert.deepEqual(
            side.log
              .of('relationResult')
              .map((e) => [e.relation.serverFeatureType, e.relation.status]),
            [
              ['NodeManagement', 'active'],
              ['DeviceDiagnosis', 'active'],
            ],
          );
          // Heartbeats with counters that go up, from the partner's DeviceDiagnosis server [1]:1.
          const beats = heartbeatsFrom(side);
          assert.deepEqual(beats[0]!.feature, { device: other.device, entity: [1], feature: 1 });
          const counters = beats.map(
            (e) => (e.data as { heartbeatCounter: number }).heartbeatCounter,
          );
          for (let i = 1; i < counters.length; i++)
            assert.ok(counters[i]! > counters[i - 1]!, String(counters));
          assert.equal((beats[0]!.data as { heartbeatTimeout: string }).heartbeatTimeout, 'PT0.3S');
          // Nothing either side sent was refused, and the session state agrees with the events.
          assert.deepEqual(side.log.of('errorAnswered'), []);
          assert.deepEqual(side.log.of('undecodable'), []);
          assert.deepEqual(side.log.of('heartbeatLost'), []);
          const ski = side === a ? ib.ski : ia.ski;
          const state = side.spine.state(ski);
          assert.equal(state?.remote.device?.device, other.device);
          assert.equal(
            state?.subscriptions.length,
            2,
            'the partner subscribed to our NM and heartbeat',
          );
        }
      } finally {
        a.spine.close();
        b.spine.close();
        await Promise.all([a.hub.stop(1_000), b.hub.stop(1_000)]);
      }
    },
  );

  it(
    'binds to a partner LoadControl server and writes a limit; hub.devices() describes the partner',
    { timeout: 30_000 },
    async () => {
      const ia = await testIdentity('spine-w-a');
      const ib = await testIdentity('spine-w-b');
      const a = makeHub(ia, ib, 'A', [MPC]);
      // B offers a LoadControl server whose limits may be written, also partially (§4.5).
      const b = makeHub(
        ib,
        ia,
        'B',
        [LPC],
        [
          {
            type: 'LoadControl',
            role: 'server',
            functions: [{ function: 'loadControlLimitListData', write: true, writePartial: true }],
          },
        ],
      );
      await a.hub.start();
      const portB = await b.hub.start();
      try {
        a.discovery.add(serviceAt(ib.ski, portB));
        await a.log.until(
          () => a.log.of('discovered').length === 1 && a.log.of('relationResult').length >= 2,
        );
        const partner = a.log.of('discovered')[0]!.device;
        const entity = partner.entities.find((e) =>
          e.features.some((f) => f.type === 'LoadControl' && f.role === 'server'),
        );
        const feature = entity?.features.find(
          (f) => f.type === 'LoadControl' && f.role === 'server',
        );
        assert.ok(entity && feature, 'B announces its LoadControl server');
        const limits = { entity: entity.entity, feature: feature.feature };
        const limit = (watts: number) => ({
          loadControlLimitData: [
            // Changeable: the merge rules refuse partial writes of other limits (error 7).
            { limitId: 1, isLimitChangeable: true, isLimitActive: true, value: { number: watts } },
          ],
        });

        // Not bound yet: B refuses with error 9 (SPINE_PS 7.3.5) and A reports it.
        assert.equal(a.spine.write(ib.ski, limits, 'loadControlLimitListData', limit(4_200)), true);
        await a.log.until(() => a.log.of('requestFailed').length === 1);
        assert.equal(a.log.of('requestFailed')[0]!.result?.errorNumber, 9);

        assert.equal(a.spine.subscribe(ib.ski, limits, 'binding'), true);
        await a.log.until(() =>
          a.log
            .of('relationResult')
            .some((e) => e.relation.kind === 'binding' && e.relation.status === 'active'),
        );
        assert.equal(a.spine.write(ib.ski, limits, 'loadControlLimitListData', limit(4_200)), true);
        const answers = () => a.log.of('written').length + a.log.of('requestFailed').length;
        await a.log.until(() => answers() === 2);
        assert.equal(a.log.of('written').length, 1, JSON.stringify(a.log.of('requestFailed')));
        assert.deepEqual(a.log.of('written')[0]!.destination, { device: b.device, ...limits });
        // B holds the limit A wrote.
        const stored = () =>
          b.spine
            .state(ia.ski)
            ?.localData.get(featureKey(limits.entity, limits.feature))
            ?.get('loadControlLimitListData');
        assert.deepEqual(stored(), limit(4_200));
        // A partial write changes the one limit it names (§3.1 merge by limitId).
        a.spine.write(ib.ski, limits, 'loadControlLimitListData', limit(3_000), {
          partial: true,
        });
        await a.log.until(() => answers() === 3);
        assert.equal(a.log.of('written').length, 2, JSON.stringify(a.log.of('requestFailed')));
        assert.deepEqual(stored(), limit(3_000));
        // A device without a session is refused at once.
        assert.equal(a.spine.write(ia.ski, limits, 'loadControlLimitListData', limit(1)), false);

        // hub.devices(): B as A sees it.
        const devices = a.hub.devices();
        assert.equal(devices.length, 1);
        const [seen] = devices;
        assert.equal(seen!.ski, ib.ski);
        assert.equal(seen!.deviceAddress, b.device);
        assert.equal(seen!.deviceType, 'EnergyManagementSystem');
        assert.equal(seen!.discovered, true);
        assert.ok(
          seen!.entities.some((e) =>
            e.features.some((f) => f.type === 'LoadControl' && f.role === 'server'),
          ),
        );
        assert.ok(seen!.relations.ours >= 3, JSON.stringify(seen!.relations));
        assert.deepEqual(a.log.of('errorAnswered'), []);
        assert.deepEqual(
          b.log.of('errorAnswered').map((e) => e.result.errorNumber),
          [9],
        );
      } finally {
        a.spine.close();
        b.spine.close();
        await Promise.all([a.hub.stop(1_000), b.hub.stop(1_000)]);
      }
    },
  );
});
