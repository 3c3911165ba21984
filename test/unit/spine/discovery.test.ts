/**
 * Unit tests of detailed discovery parsing and discovery notifies (spine-protocol.md §4.4, §5.1,
 * §5.3; conformance checklist items 7, 28, 29).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText } from '../../../src/spine/codec/datagram.js';
import {
  applyDiscoveryNotify,
  parseDetailedDiscovery,
} from '../../../src/spine/device/discovery.js';
import { featuresOf, findFeature } from '../../../src/spine/model/device.js';

const DEV = 'd:_i:12345_HeatPump-42';

function feature(
  entity: number[],
  feature: number,
  featureType: string,
  role: string,
  fns: unknown[] = [],
) {
  return {
    description: {
      featureAddress: { device: DEV, entity, feature },
      featureType,
      role,
      ...(fns.length > 0 ? { supportedFunction: fns } : {}),
    },
  };
}

const DISCOVERY = {
  specificationVersionList: { specificationVersion: ['1.3.0'] },
  deviceInformation: {
    description: {
      deviceAddress: { device: DEV },
      deviceType: 'HeatGenerationSystem',
      networkFeatureSet: 'smart',
    },
  },
  entityInformation: [
    {
      description: { entityAddress: { device: DEV, entity: [0] }, entityType: 'DeviceInformation' },
    },
    { description: { entityAddress: { entity: [1] }, entityType: 'HeatPumpAppliance' } },
    { description: { entityAddress: { entity: [2] }, entityType: 'Compressor' } },
  ],
  featureInformation: [
    feature([0], 0, 'NodeManagement', 'special', [
      { function: 'nodeManagementDetailedDiscoveryData', possibleOperations: { read: {} } },
      { function: 'nodeManagementSubscriptionRequestCall', possibleOperations: {} },
    ]),
    feature([1], 1, 'Measurement', 'server', [
      { function: 'measurementListData', possibleOperations: { read: { partial: {} } } },
      { function: 'measurementDescriptionListData', possibleOperations: { read: {} } },
    ]),
    feature([1], 2, 'LoadControl', 'server', [
      {
        function: 'loadControlLimitListData',
        possibleOperations: { read: {}, write: { partial: {} } },
      },
    ]),
    feature([1], 3, 'CompletelyUnknown', 'server', [
      { function: 'futureListData', possibleOperations: { read: {} } },
    ]),
    feature([2], 1, 'DeviceDiagnosis', 'client'),
  ],
};

describe('parseDetailedDiscovery', () => {
  it('builds device, entities, features and function flags', () => {
    const parsed = parseDetailedDiscovery(DISCOVERY);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.warnings, []);
    const { device } = parsed;
    assert.equal(device.device, DEV);
    assert.equal(device.type, 'HeatGenerationSystem');
    assert.equal(device.networkFeatureSet, 'smart');
    assert.deepEqual(
      device.entities.map((e) => [e.entity, e.type, e.features.length]),
      [
        [[0], 'DeviceInformation', 1],
        [[1], 'HeatPumpAppliance', 3],
        [[2], 'Compressor', 1],
      ],
    );
    const lc = findFeature(device, [1], 2);
    assert.deepEqual(lc?.functions, [
      {
        function: 'loadControlLimitListData',
        read: true,
        readPartial: false,
        write: true,
        writePartial: true,
      },
    ]);
    const nm = findFeature(device, [0], 0);
    assert.deepEqual(nm?.functions[1], {
      function: 'nodeManagementSubscriptionRequestCall',
      read: false,
      readPartial: false,
      write: false,
      writePartial: false,
    });
    assert.deepEqual(findFeature(device, [2], 1)?.functions, []);
  });

  it('keeps an unknown feature type and the other features usable (checklist item 7)', () => {
    const parsed = parseDetailedDiscovery(DISCOVERY);
    assert.ok(parsed.ok);
    assert.equal(featuresOf(parsed.device, 'CompletelyUnknown').length, 1);
    assert.equal(featuresOf(parsed.device, 'Measurement', 'server').length, 1);
    assert.equal(featuresOf(parsed.device, 'Measurement', 'client').length, 0);
  });

  it('skips broken entries with a warning instead of failing', () => {
    const parsed = parseDetailedDiscovery({
      ...DISCOVERY,
      entityInformation: [
        ...DISCOVERY.entityInformation,
        { description: { entityType: 'NoAddress' } },
        'junk',
        { description: { entityAddress: { device: 'd:_i:other', entity: [5] } } },
        { description: { entityAddress: { entity: [1] }, entityType: 'Again' } },
      ],
      featureInformation: [
        ...DISCOVERY.featureInformation,
        feature([9], 1, 'Measurement', 'server'),
        { description: { featureAddress: { entity: [1] }, featureType: 'X', role: 'server' } },
        {
          description: {
            featureAddress: { entity: [1], feature: 7 },
            supportedFunction: [{ possibleOperations: {} }],
          },
        },
      ],
    });
    assert.ok(parsed.ok);
    assert.equal(parsed.warnings.length, 7, parsed.warnings.join('\n'));
    assert.equal(parsed.device.entities.length, 3);
    assert.equal(parsed.device.entities[1]?.type, 'Again');
  });

  it('fails only when the data is no element', () => {
    assert.equal(parseDetailedDiscovery(5).ok, false);
    assert.equal(parseDetailedDiscovery('x').ok, false);
    const empty = parseDetailedDiscovery({});
    assert.ok(empty.ok);
    assert.deepEqual(empty.device, { specificationVersions: [], entities: [] });
  });
});

describe('applyDiscoveryNotify (§5.3)', () => {
  const known = parseDetailedDiscovery(DISCOVERY);
  assert.ok(known.ok);

  it('the removal notify of spine-protocol.md §5.3 drops entity [2] (checklist item 28)', () => {
    const wire =
      '{"datagram":[{"header":[{"addressSource":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"entity":[0]},{"feature":0}]},{"msgCounter":40},{"cmdClassifier":"notify"}]},{"payload":[{"cmd":[[{"function":"nodeManagementDetailedDiscoveryData"},{"filter":[[{"cmdControl":[{"partial":[]}]}]]},{"nodeManagementDetailedDiscoveryData":[{"specificationVersionList":[{"specificationVersion":["1.3.0"]}]},{"deviceInformation":[{"description":[{"deviceAddress":[{"device":"d:_i:12345_HeatPump-42"}]},{"deviceType":"HeatGenerationSystem"},{"networkFeatureSet":"smart"}]}]},{"entityInformation":[[{"description":[{"entityAddress":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[2]}]},{"entityType":"Compressor"},{"lastStateChange":"removed"}]}]]}]}]]}]}]}';
    const decoded = decodeDatagramText(wire);
    assert.ok(decoded.ok);
    const applied = applyDiscoveryNotify(
      known.device,
      decoded.datagram.payload.cmd[0]!.data!.value,
      true,
    );
    assert.ok(applied.ok);
    assert.deepEqual(applied.change.removed, [[2]]);
    assert.deepEqual(applied.change.added, []);
    assert.deepEqual(
      applied.change.device.entities.map((e) => e.entity),
      [[0], [1]],
    );
  });

  it('a modified entity without features keeps its features; an unknown removal is only a warning', () => {
    const applied = applyDiscoveryNotify(
      known.device,
      {
        entityInformation: [
          {
            description: {
              entityAddress: { entity: [1] },
              entityType: 'HeatPumpAppliance',
              label: 'HP',
              lastStateChange: 'modified',
            },
          },
          { description: { entityAddress: { entity: [7] }, lastStateChange: 'removed' } },
        ],
      },
      true,
    );
    assert.ok(applied.ok);
    assert.equal(applied.change.device.entities[1]?.label, 'HP');
    assert.equal(applied.change.device.entities[1]?.features.length, 3);
    assert.equal(applied.change.warnings.length, 1);
    assert.equal(applied.change.device.type, 'HeatGenerationSystem');
  });

  it('a full notify is a snapshot: missing entities removed, new ones added (checklist item 29)', () => {
    const applied = applyDiscoveryNotify(
      known.device,
      {
        ...DISCOVERY,
        entityInformation: [
          DISCOVERY.entityInformation[0],
          DISCOVERY.entityInformation[1],
          { description: { entityAddress: { entity: [3] }, entityType: 'Pump' } },
        ],
        featureInformation: DISCOVERY.featureInformation.slice(0, 4),
      },
      false,
    );
    assert.ok(applied.ok);
    assert.deepEqual(applied.change.added, [[3]]);
    assert.deepEqual(applied.change.removed, [[2]]);
  });

  it('refuses data that is no element', () => {
    assert.equal(applyDiscoveryNotify(known.device, 3, true).ok, false);
  });
});
