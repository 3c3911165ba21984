/**
 * The pure monitoring core (src/spine/monitoring): ScaledNumber (spine-protocol.md §10), the
 * join of measurements with descriptions, phases and energy direction with the MPC rules
 * (§11.2), DeviceConfiguration key values (§11.3), and which entities of real devices are
 * monitored with which requests (§11.1, §7.1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDetailedDiscovery } from '../../../src/spine/device/discovery.js';
import { monitoringRequests, monitoringTargets } from '../../../src/spine/monitoring/targets.js';
import {
  configurationValues,
  liveMeasurements,
  scaledNumberValue,
  undescribedMeasurementIds,
} from '../../../src/spine/monitoring/values.js';
import { parseUseCaseData } from '../../../src/spine/node-management/use-cases.js';
import type { DeviceDescription } from '../../../src/spine/model/device.js';
import { loadDeviceFile } from '../../helpers/spine-vectors.js';

const DESCRIPTIONS = {
  measurementDescriptionData: [
    { measurementId: 0, measurementType: 'power', unit: 'W', scopeType: 'acPowerTotal' },
    { measurementId: 1, measurementType: 'current', unit: 'A', scopeType: 'acCurrent' },
    { measurementId: 2, measurementType: 'energy', unit: 'Wh', scopeType: 'acEnergyProduced' },
    { measurementId: 3, measurementType: 'voltage', unit: 'V', scopeType: 'acVoltage' },
  ],
};
const PARAMETERS = {
  electricalConnectionParameterDescriptionData: [
    { electricalConnectionId: 0, parameterId: 0, measurementId: 0, acMeasuredPhases: 'abc' },
    { electricalConnectionId: 0, parameterId: 1, measurementId: 1, acMeasuredPhases: 'a' },
    { electricalConnectionId: 0, parameterId: 2, measurementId: 2 },
    {
      electricalConnectionId: 0,
      parameterId: 3,
      measurementId: 3,
      acMeasuredPhases: 'a',
      acMeasuredInReferenceTo: 'b',
    },
  ],
};
const value = (measurementId: number, number: number | bigint, scale?: number, extra = {}) => ({
  measurementId,
  valueType: 'value',
  value: scale === undefined ? { number } : { number, scale },
  ...extra,
});

describe('scaledNumberValue (spine-protocol.md §10)', () => {
  it('applies the scale, defaults it to 0, and refuses what is no ScaledNumber', () => {
    const table: [unknown, number | undefined][] = [
      [{ number: 123456, scale: -2 }, 1234.56],
      [{ number: 96906, scale: -4 }, 9.6906],
      [{ number: 42 }, 42],
      [{ number: 5, scale: 3 }, 5000],
      [{ number: 9007199254740993n, scale: 0 }, 9007199254740992],
      [{ number: -1578231, scale: -1 }, -157823.1],
      [[{ number: 7 }, { scale: 1 }], 70], // EEBUS-JSON sequence form
      [{}, undefined], // "value":[] of an unset value
      [{ number: 1.5 }, undefined],
      [{ number: '12' }, undefined],
      [{ number: 1, scale: 0.5 }, undefined],
      [{ number: 1, scale: 400 }, undefined],
      [{ number: 1, scale: 127 }, 1e127],
      [null, undefined],
      ['12', undefined],
    ];
    for (const [input, expected] of table) {
      assert.equal(
        scaledNumberValue(input),
        expected,
        JSON.stringify(input, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
      );
    }
  });

  it('property: never throws, and gives a finite number or undefined for any input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const result = scaledNumberValue(input);
        return result === undefined || Number.isFinite(result);
      }),
      { numRuns: 300 },
    );
  });
});

describe('liveMeasurements (MPC §11.2 rules)', () => {
  it('joins description, phases and direction; skips what cannot be interpreted', () => {
    const values = liveMeasurements({
      measurementDescriptionListData: DESCRIPTIONS,
      electricalConnectionParameterDescriptionListData: PARAMETERS,
      electricalConnectionDescriptionListData: {
        electricalConnectionDescriptionData: [
          { electricalConnectionId: 0, positiveEnergyDirection: 'consume' },
        ],
      },
      measurementListData: {
        measurementData: [
          value(3, 3985, -1),
          value(0, 1234),
          value(1, -65, -1, { timestamp: '2025-01-15T10:00:05Z', valueSource: 'measuredValue' }),
          value(2, 12, 0, { valueState: 'normal' }),
          value(7, 1), // no description
          value(0, 5, 0, { valueType: 'averageValue' }),
          value(3, 1, 0, { valueState: 'outOfRange' }),
          value(3, 1, 0, { valueState: 'error' }),
          { measurementId: 1, valueType: 'value', value: {} },
          { measurementId: 'x', value: { number: 1 } },
          'garbage',
        ],
      },
    });
    assert.deepEqual(values, [
      {
        measurementId: 0,
        type: 'power',
        scope: 'acPowerTotal',
        unit: 'W',
        phases: 'abc',
        value: 1234,
      },
      {
        measurementId: 1,
        type: 'current',
        scope: 'acCurrent',
        unit: 'A',
        phases: 'a',
        value: -6.5,
        timestamp: '2025-01-15T10:00:05Z',
        source: 'measuredValue',
      },
      { measurementId: 2, type: 'energy', scope: 'acEnergyProduced', unit: 'Wh', value: 12 },
      {
        measurementId: 3,
        type: 'voltage',
        scope: 'acVoltage',
        unit: 'V',
        phases: 'a',
        inReferenceTo: 'b',
        value: 398.5,
      },
    ]);
  });

  it('inverts power and current, not counters or voltage, when the connection says produce', () => {
    const values = liveMeasurements({
      measurementDescriptionListData: DESCRIPTIONS,
      electricalConnectionParameterDescriptionListData: PARAMETERS,
      electricalConnectionDescriptionListData: {
        electricalConnectionDescriptionData: [
          { electricalConnectionId: 0, positiveEnergyDirection: 'produce' },
        ],
      },
      measurementListData: {
        measurementData: [value(0, 3000), value(1, 13), value(2, 500), value(3, 230), value(0, 0)],
      },
    });
    assert.deepEqual(
      values.map((v) => v.value),
      [-3000, 0, -13, 500, 230],
    );
    assert.ok(!Object.is(values[1]?.value, -0), 'zero stays zero, not -0');
  });

  it('gives nothing before the descriptions arrive, and names the ids to re-read', () => {
    const sources = {
      measurementListData: { measurementData: [value(0, 1), value(4, 2), value(4, 3)] },
    };
    assert.deepEqual(liveMeasurements(sources), []);
    assert.deepEqual(undescribedMeasurementIds(sources), [0, 4]);
    assert.deepEqual(
      undescribedMeasurementIds({ ...sources, measurementDescriptionListData: DESCRIPTIONS }),
      [4],
    );
    assert.deepEqual(liveMeasurements({}), []);
  });

  it('property: never throws on arbitrary data, and every value it gives is finite', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (list, descriptions) => {
        const values = liveMeasurements({
          measurementListData: list,
          measurementDescriptionListData: descriptions,
        });
        return values.every((v) => Number.isFinite(v.value));
      }),
      { numRuns: 300 },
    );
  });
});

describe('configurationValues (MGCP §11.3)', () => {
  it('joins key values with their names and units; unset values are skipped', () => {
    assert.deepEqual(
      configurationValues(
        {
          deviceConfigurationKeyValueDescriptionData: [
            {
              keyId: 0,
              keyName: 'pvCurtailmentLimitFactor',
              valueType: 'scaledNumber',
              unit: 'pct',
            },
            { keyId: 1, keyName: 'failsafeDurationMinimum', valueType: 'duration' },
          ],
        },
        {
          deviceConfigurationKeyValueData: [
            { keyId: 1, value: { duration: 'PT2H' } },
            { keyId: 0, value: { scaledNumber: { number: 70, scale: 0 } } },
            { keyId: 2, value: { boolean: true } },
            { keyId: 3, value: { scaledNumber: {} } },
            { keyId: 'x', value: { string: 'a' } },
          ],
        },
      ),
      [
        { keyId: 0, keyName: 'pvCurtailmentLimitFactor', unit: 'pct', value: 70 },
        { keyId: 1, keyName: 'failsafeDurationMinimum', value: 'PT2H' },
        { keyId: 2, value: true },
      ],
    );
  });
});

/** The device model and use cases of a recorded product (enbility/devices, object form). */
function recorded(folder: string): {
  device: DeviceDescription;
  useCases: ReturnType<typeof parseUseCaseData>['useCases'];
} {
  const cmdOf = (file: string, name: string): unknown => {
    const message = loadDeviceFile(folder, file) as {
      data: { payload: { datagram: { payload: { cmd: Record<string, unknown>[] } } } };
    };
    return message.data.payload.datagram.payload.cmd[0]?.[name];
  };
  const discovery = parseDetailedDiscovery(
    cmdOf('discovery-data.json', 'nodeManagementDetailedDiscoveryData'),
  );
  assert.ok(discovery.ok);
  return {
    device: discovery.device,
    useCases: parseUseCaseData(cmdOf('usecase-data.json', 'nodeManagementUseCaseData')).useCases,
  };
}

describe('monitoringTargets and monitoringRequests (§11.1, §7.1)', () => {
  it('finds the grid connection point of a Kostal meter and the monitored units of an SMA HM2', () => {
    for (const folder of ['kostal-kostal-smart-energy-meter', 'sma-home-manager-2']) {
      const { device, useCases } = recorded(folder);
      const targets = monitoringTargets(device, useCases);
      assert.ok(targets.length > 0, folder);
      for (const target of targets) {
        // Every target has a Measurement server on the named entity.
        const entity = device.entities.find((e) => e.entity.join('.') === target.entity.join('.'));
        const feature = entity?.features.find((f) => f.feature === target.measurement.feature);
        assert.equal(feature?.type, 'Measurement', folder);
        assert.equal(feature?.role, 'server', folder);
        assert.equal(target.measurement.device, device.device);
        // The use case was announced by the partner actor on that entity.
        const announced = useCases.some(
          (u) =>
            u.useCases.some((c) => c.useCaseName === target.useCase) &&
            (u.address?.entity === undefined ||
              u.address.entity.join('.') === target.entity.join('.')),
        );
        assert.ok(announced, `${folder} ${target.useCase}`);
      }
    }
    const kostal = recorded('kostal-kostal-smart-energy-meter');
    const grid = monitoringTargets(kostal.device, kostal.useCases).find(
      (t) => t.useCase === 'monitoringOfGridConnectionPoint',
    );
    assert.ok(grid !== undefined, 'the meter is a grid connection point');
    assert.ok(grid.electricalConnection !== undefined);
  });

  it('asks in the eebus-go order: subscribe, then descriptions, then values', () => {
    const { device, useCases } = recorded('kostal-kostal-smart-energy-meter');
    const [target] = monitoringTargets(device, useCases);
    assert.ok(target !== undefined);
    const requests = monitoringRequests(target, device);
    const names = requests.map((r) => (r.kind === 'subscribe' ? 'subscribe' : r.function));
    const measurement = names.indexOf('measurementDescriptionListData');
    assert.ok(measurement > 0);
    assert.equal(names[measurement - 1], 'subscribe');
    assert.ok(names.indexOf('measurementListData') > measurement);
    assert.ok(names.includes('electricalConnectionParameterDescriptionListData'));
  });

  it('ignores monitoring appliances, other use cases and entities without a Measurement server', () => {
    const { device } = recorded('kostal-kostal-smart-energy-meter');
    const entity = device.entities.find((e) => e.features.some((f) => f.type === 'Measurement'));
    assert.ok(entity !== undefined);
    const announce = (
      actor: string,
      useCaseName: string,
      on: readonly number[] = entity.entity,
    ) => [{ actor, address: { entity: on }, useCases: [{ useCaseName, scenarios: [1] }] }];
    assert.deepEqual(
      monitoringTargets(device, announce('MonitoringAppliance', 'monitoringOfPowerConsumption')),
      [],
    );
    assert.deepEqual(
      monitoringTargets(device, announce('MonitoredUnit', 'limitationOfPowerConsumption')),
      [],
    );
    assert.deepEqual(
      monitoringTargets(device, announce('MonitoredUnit', 'monitoringOfPowerConsumption', [0])),
      [],
    );
    assert.equal(
      monitoringTargets(device, announce('MonitoredUnit', 'monitoringOfPowerConsumption')).length,
      1,
    );
    // `__proto__` and other inherited names are no use case.
    assert.deepEqual(monitoringTargets(device, announce('MonitoredUnit', '__proto__')), []);
  });
});
