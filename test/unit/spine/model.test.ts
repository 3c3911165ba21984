/**
 * Address and device-model helpers (spine-protocol.md §2.1 FeatureAddress, §4.3/§4.4 lookup by
 * type and role, §4.5 supported functions).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  entityKey,
  featureKey,
  formatAddress,
  sameEntity,
  sameFeature,
} from '../../../src/spine/model/address.js';
import { createLocalDevice, buildDetailedDiscoveryData } from '../../../src/spine/device/local.js';
import { parseDetailedDiscovery } from '../../../src/spine/device/discovery.js';
import {
  featuresOf,
  findEntity,
  findFeature,
  supportedFunction,
} from '../../../src/spine/model/device.js';

describe('addresses', () => {
  it('compare entity paths and features; a missing device matches any (§2.4)', () => {
    assert.equal(sameEntity([1, 1], [1, 1]), true);
    assert.equal(sameEntity([1], [1, 1]), false);
    assert.equal(sameEntity([1, 2], [1, 1]), false);
    assert.equal(sameEntity(undefined, undefined), true);
    assert.equal(sameEntity(undefined, [0]), false);
    assert.equal(
      sameFeature({ entity: [0], feature: 0 }, { device: 'd:_i:1_A', entity: [0], feature: 0 }),
      true,
    );
    assert.equal(
      sameFeature(
        { device: 'd:_i:1_B', entity: [0], feature: 0 },
        { device: 'd:_i:1_A', entity: [0], feature: 0 },
      ),
      false,
    );
    assert.equal(sameFeature({ entity: [0], feature: 1 }, { entity: [0], feature: 0 }), false);
  });

  it('format keys and log text', () => {
    assert.equal(entityKey([1, 1]), '1.1');
    assert.equal(featureKey([1, 1], 3), '1.1:3');
    assert.equal(
      formatAddress({ device: 'd:_i:1_A', entity: [1, 1], feature: 3 }),
      'd:_i:1_A [1,1]:3',
    );
    assert.equal(formatAddress({}), '? ');
  });
});

describe('device model lookups', () => {
  const local = createLocalDevice({
    device: 'd:_n:ShipHub_HEMS-0001',
    type: 'EnergyManagementSystem',
    label: 'hub',
    description: 'ship-hub',
    entities: [
      {
        type: 'CEM',
        label: 'cem',
        description: 'energy manager',
        features: [
          {
            type: 'Measurement',
            role: 'server',
            specificUsage: ['Electrical'],
            maxResponseDelay: 'PT5S',
            label: 'm',
            description: 'measurements',
            functions: [{ function: 'measurementListData', read: true }],
          },
          { type: 'Measurement', role: 'client' },
        ],
      },
    ],
  });
  assert.ok(local.ok);
  const device = local.device;

  it('finds entities, features, functions; by type and role', () => {
    assert.equal(findEntity(device, [1])?.type, 'CEM');
    assert.equal(findEntity(device, [1, 1]), undefined);
    assert.equal(findFeature(device, [1], 2)?.role, 'client');
    assert.equal(findFeature(device, [1], 9), undefined);
    assert.deepEqual(
      featuresOf(device, 'Measurement').map((f) => f.feature.role),
      ['server', 'client'],
    );
    const server = featuresOf(device, 'Measurement', 'server')[0]!.feature;
    assert.equal(supportedFunction(server, 'measurementListData')?.read, true);
    assert.equal(supportedFunction(server, 'measurementDescriptionListData'), undefined);
  });

  it('labels, descriptions, specificUsage and maxResponseDelay survive build → parse', () => {
    const parsed = parseDetailedDiscovery(buildDetailedDiscoveryData(device));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.device, device);
    assert.equal(findFeature(parsed.device, [1], 1)?.maxResponseDelay, 'PT5S');
  });
});
