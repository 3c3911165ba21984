/**
 * MPC monitoring on real traffic: the openeebus heat pump of the recorded session
 * `openeebus-hems-vs-openeebus-heatpump.txt` (spine-vectors README, notes B.1 steps 3-5). Its
 * discovery and use case replies give the monitoring target; its description replies and the
 * measurementListData notifies, merged as the session merges them (src/spine/merge), give the
 * values the recording's notes list: power 1234.56 W total, 410.00/411.00/413.56 W per phase,
 * energy 9876543.21 Wh consumed and 12.34 Wh produced, currents 17.8/17.9/18.0 A, voltages
 * 230.1/230.2/230.3 V and 398.5/398.6/398.7 V, frequency 50.01 Hz (spine-protocol.md §11.2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { parseDetailedDiscovery } from '../../../src/spine/device/discovery.js';
import { mergeFunctionData } from '../../../src/spine/merge/merge.js';
import { featureKey } from '../../../src/spine/model/address.js';
import type { SpineDatagram } from '../../../src/spine/model/datagram.js';
import { monitoringRequests, monitoringTargets } from '../../../src/spine/monitoring/targets.js';
import { monitoredEntity, type LiveMeasurement } from '../../../src/spine/monitoring/values.js';
import { parseUseCaseData } from '../../../src/spine/node-management/use-cases.js';
import { loadSessionDatagrams } from '../../helpers/spine-vectors.js';

const FILE = 'openeebus-hems-vs-openeebus-heatpump.txt';

function heatPumpDatagrams(): { id: string; datagram: SpineDatagram }[] {
  return loadSessionDatagrams()
    .filter((r) => r.file === FILE && r.direction === 'HP>HEMS')
    .map((r) => {
      const decoded = decodeDatagramText(r.payloadText);
      assert.ok(decoded.ok, r.id);
      return { id: r.id, datagram: decoded.datagram };
    });
}

/** "power acPower a" → value, for compact expectations. */
function byQuantity(values: readonly LiveMeasurement[]): Record<string, number> {
  return Object.fromEntries(
    values.map((v) => [
      `${v.type} ${v.scope}${v.phases !== undefined ? ` ${v.phases}` : ''}` +
        (v.inReferenceTo !== undefined && v.inReferenceTo !== 'neutral'
          ? `-${v.inReferenceTo}`
          : ''),
      v.value,
    ]),
  );
}

describe('MPC monitoring of the recorded openeebus heat pump', () => {
  it('finds the monitored unit and turns its recorded notifies into the documented values', () => {
    const datagrams = heatPumpDatagrams();
    const dataOf = (name: string) =>
      datagrams.find(
        (d) =>
          d.datagram.header.cmdClassifier === 'reply' &&
          d.datagram.payload.cmd[0]?.data?.name === name,
      )?.datagram.payload.cmd[0]?.data?.value;
    const discovery = parseDetailedDiscovery(dataOf('nodeManagementDetailedDiscoveryData'));
    assert.ok(discovery.ok);
    const { useCases } = parseUseCaseData(dataOf('nodeManagementUseCaseData'));
    const targets = monitoringTargets(discovery.device, useCases);
    assert.equal(targets.length, 1);
    const [target] = targets;
    assert.ok(target !== undefined);
    assert.deepEqual(target.entity, [1]);
    assert.equal(target.measurement.feature, 6);
    assert.equal(target.electricalConnection?.feature, 5);
    assert.deepEqual(target.scenarios, [1, 2, 3, 4, 5]);
    // What the recorded HEMS asked for, we ask for too (its reads #0020-#0023, #0047).
    const reads = monitoringRequests(target, discovery.device).flatMap((r) =>
      r.kind === 'read' ? [r.function] : [],
    );
    assert.deepEqual(reads, [
      'electricalConnectionDescriptionListData',
      'electricalConnectionParameterDescriptionListData',
      'measurementDescriptionListData',
      'measurementConstraintsListData',
      'measurementListData',
    ]);

    // Merge every reply and notify of its Measurement and ElectricalConnection servers in order.
    const store = new Map<string, Map<string, unknown>>();
    const snapshots = new Map<string, Record<string, number>>();
    for (const { id, datagram } of datagrams) {
      const { cmdClassifier, addressSource } = datagram.header;
      if (cmdClassifier !== 'reply' && cmdClassifier !== 'notify') continue;
      const cmd = datagram.payload.cmd[0];
      const name = cmd?.data?.name;
      if (cmd === undefined || name === undefined || addressSource?.entity === undefined) continue;
      if (!/^(measurement|electricalConnection)/.test(name)) continue;
      const key = featureKey(addressSource.entity, addressSource.feature ?? 0);
      const functions = store.get(key) ?? new Map<string, unknown>();
      const merged = mergeFunctionData(functions.get(name), cmd, cmdClassifier);
      assert.ok(merged.ok, `${id} ${name}`);
      functions.set(name, merged.data);
      store.set(key, functions);
      snapshots.set(id, byQuantity(monitoredEntity(target, store).measurements));
    }

    // #0051: the first notify carries the total power only.
    assert.deepEqual(snapshots.get('#0051'), { 'power acPowerTotal abc': 1234.56 });
    // #0057: all 16 values set (notes B.1 step 5).
    assert.deepEqual(snapshots.get('#0057'), {
      'power acPowerTotal abc': 1234.56,
      'power acPower a': 410,
      'power acPower b': 411,
      'power acPower c': 413.56,
      'energy acEnergyConsumed': 9876543.21,
      'energy acEnergyProduced': 12.34,
      'current acCurrent a': 17.8,
      'current acCurrent b': 17.9,
      'current acCurrent c': 18,
      'voltage acVoltage a': 230.1,
      'voltage acVoltage b': 230.2,
      'voltage acVoltage c': 230.3,
      'voltage acVoltage a-b': 398.5,
      'voltage acVoltage b-c': 398.6,
      'voltage acVoltage c-a': 398.7,
      'frequency acFrequency': 50.01,
    });
    // The last notify (#0075) changed the total power to 500 W and nothing else.
    const last = [...snapshots.values()].at(-1);
    assert.equal(last?.['power acPowerTotal abc'], 500);
    assert.equal(last?.['frequency acFrequency'], 50.01);
    const units = monitoredEntity(target, store).measurements.map((m) => `${m.type}:${m.unit}`);
    assert.ok(units.includes('power:W') && units.includes('frequency:Hz'), units.join(' '));
  });
});
