/**
 * MPC monitoring through the SPINE driver (src/hub/spine-driver.ts, src/spine/monitoring): two
 * drivers wired back to back in memory, one our energy manager, the other a heat pump that offers
 * monitoringOfPowerConsumption as MonitoredUnit with Measurement and ElectricalConnection servers.
 * The energy manager must subscribe to both, read descriptions and values and report the values
 * with scale and sign applied (spine-protocol.md §7.1, §11.2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SpineDriver } from '../../../src/hub/spine-driver.js';
import type { DeviceDataHandler, RemoteDevice } from '../../../src/hub/types.js';
import { RawJsonPayload } from '../../../src/ship/codec/data.js';
import type { Ski } from '../../../src/ship/ski.js';
import { decodeDatagramText } from '../../../src/spine/codec/datagram.js';
import type { MonitoredEntity } from '../../../src/spine/monitoring/values.js';
import { monitoringApplianceUseCases } from '../../../src/spine/session/defaults.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { localDevice } from '../../helpers/spine-session.js';
import { HEAT_PUMP, HEAT_PUMP_DATA, HEAT_PUMP_USE_CASES } from '../../helpers/spine-heat-pump.js';

const CEM_SKI = '1111111111111111111111111111111111111111' as Ski;
const HP_SKI = '2222222222222222222222222222222222222222' as Ski;

/** Two drivers whose devices deliver to each other synchronously; every datagram is recorded. */
function backToBack(monitoring = true) {
  const clock = new FakeClock();
  const updates: MonitoredEntity[] = [];
  const wire: { from: 'cem' | 'hp'; name: string | undefined; classifier: string }[] = [];
  const cem = new SpineDriver({
    clock,
    session: { localDevice: localDevice(), useCases: monitoringApplianceUseCases() },
    monitoring,
    onMeasurements: (_ski, entity) => updates.push(entity),
  });
  const heatPump = new SpineDriver({
    clock,
    session: {
      localDevice: HEAT_PUMP,
      useCases: HEAT_PUMP_USE_CASES,
      serverData: HEAT_PUMP_DATA,
    },
  });
  const handlers: { cem?: DeviceDataHandler; hp?: DeviceDataHandler } = {};
  // Delivered after both handlers exist, in order, by a bounded pump (no timers, no sleeping).
  const queue: { to: 'cem' | 'hp'; text: string }[] = [];
  const device = (ski: Ski, from: 'cem' | 'hp', to: 'cem' | 'hp'): RemoteDevice => ({
    ski,
    direction: from === 'cem' ? 'outbound' : 'inbound',
    remoteAddress: '127.0.0.1',
    shipId: ski,
    send: (payload) => {
      assert.ok(payload instanceof RawJsonPayload);
      const decoded = decodeDatagramText(payload.text);
      assert.ok(decoded.ok);
      wire.push({
        from,
        name: decoded.datagram.payload.cmd[0]?.data?.name,
        classifier: decoded.datagram.header.cmdClassifier,
      });
      queue.push({ to, text: payload.text });
    },
    close: () => Promise.resolve(),
  });
  const cemDevice = device(HP_SKI, 'cem', 'hp');
  const hpDevice = device(CEM_SKI, 'hp', 'cem');
  handlers.hp = heatPump.setupRemoteDevice(hpDevice);
  handlers.cem = cem.setupRemoteDevice(cemDevice);
  for (let delivered = 0; queue.length > 0; delivered++) {
    assert.ok(delivered < 1_000, 'the two sessions settle');
    const next = queue.shift();
    if (next !== undefined) handlers[next.to]?.onData(undefined, next.text);
  }
  return { cem, heatPump, updates, wire };
}

describe('SpineDriver monitoring (MPC, monitoring appliance role)', () => {
  it('subscribes, reads descriptions and values, and reports live values with scale applied', () => {
    const { cem, updates, wire } = backToBack();
    const ours = wire.filter((w) => w.from === 'cem');
    const subscriptions = ours.filter((w) => w.name === 'nodeManagementSubscriptionRequestCall');
    // NodeManagement, ElectricalConnection and Measurement (heartbeat: the pump offers none).
    assert.equal(subscriptions.length, 3);
    const reads = ours.filter((w) => w.classifier === 'read').map((w) => w.name);
    for (const name of [
      'electricalConnectionDescriptionListData',
      'electricalConnectionParameterDescriptionListData',
      'measurementDescriptionListData',
      'measurementListData',
    ]) {
      assert.ok(reads.includes(name), name);
    }
    // One re-read of the descriptions for measurement 9, and only one.
    assert.equal(reads.filter((name) => name === 'measurementDescriptionListData').length, 2);

    const summary = cem.summary(HP_SKI);
    assert.ok(summary !== undefined);
    assert.equal(summary.monitoring.length, 1);
    const [entity] = summary.monitoring;
    assert.equal(entity?.useCase, 'monitoringOfPowerConsumption');
    assert.deepEqual(entity?.entity, [1]);
    assert.deepEqual(entity?.measurements, [
      {
        measurementId: 0,
        type: 'power',
        scope: 'acPowerTotal',
        unit: 'W',
        phases: 'abc',
        value: 1234.56,
      },
      { measurementId: 1, type: 'power', scope: 'acPower', unit: 'W', phases: 'a', value: 410 },
      { measurementId: 2, type: 'energy', scope: 'acEnergyConsumed', unit: 'Wh', value: 987650 },
    ]);
    // The event carried the same values once the last piece arrived.
    assert.deepEqual(updates.at(-1)?.measurements, entity?.measurements);
  });

  it('monitors nothing with monitoring off, and nothing of a device that offers no MPC/MGCP', () => {
    const off = backToBack(false);
    assert.ok(
      !off.wire.some(
        (w) => w.from === 'cem' && w.classifier === 'read' && w.name === 'measurementListData',
      ),
    );
    assert.equal(off.updates.length, 0);
    assert.deepEqual(off.cem.summary(HP_SKI)?.monitoring[0]?.measurements, []);
    // The heat pump is a monitored unit, not a monitoring appliance: it reads nothing of ours.
    const on = backToBack();
    assert.ok(
      !on.wire.some(
        (w) => w.from === 'hp' && w.classifier === 'read' && w.name === 'measurementListData',
      ),
    );
    assert.deepEqual(on.heatPump.summary(CEM_SKI)?.monitoring, []);
  });
});
