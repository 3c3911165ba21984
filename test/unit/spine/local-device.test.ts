/**
 * Our local device model and the discovery data built from it (spine-protocol.md §4, §5.1, §5.3;
 * conformance checklist items 6, 22 and 27).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText, encodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { toEebusJson } from '../../../src/ship/codec/eebus-json.js';
import {
  applyDiscoveryNotify,
  parseDetailedDiscovery,
} from '../../../src/spine/device/discovery.js';
import {
  buildDetailedDiscoveryData,
  buildEntityChangeNotify,
  createLocalDevice,
  type LocalDeviceSpec,
} from '../../../src/spine/device/local.js';
import { initialCorrelationState, step } from '../../../src/spine/correlation/machine.js';

const DEV = 'd:_n:ShipHub_HEMS-0001';

/** The CEM of spine-protocol.md §5.1 (monitoring appliance + energy guard). */
const CEM: LocalDeviceSpec = {
  device: DEV,
  type: 'EnergyManagementSystem',
  entities: [
    {
      type: 'CEM',
      features: [
        {
          type: 'DeviceDiagnosis',
          role: 'server',
          functions: [
            { function: 'deviceDiagnosisStateData' },
            { function: 'deviceDiagnosisHeartbeatData' },
          ],
        },
        { type: 'DeviceDiagnosis', role: 'client' },
        { type: 'Measurement', role: 'client' },
        { type: 'ElectricalConnection', role: 'client' },
        { type: 'LoadControl', role: 'client' },
        { type: 'DeviceConfiguration', role: 'client' },
        { type: 'DeviceClassification', role: 'client' },
      ],
    },
  ],
};

/** The plain example of spine-protocol.md §5.1, verbatim. */
const DOC_EXAMPLE = JSON.parse(`{"nodeManagementDetailedDiscoveryData":{
 "specificationVersionList":{"specificationVersion":["1.3.0"]},
 "deviceInformation":{"description":{"deviceAddress":{"device":"d:_n:ShipHub_HEMS-0001"},"deviceType":"EnergyManagementSystem","networkFeatureSet":"smart"}},
 "entityInformation":[
  {"description":{"entityAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[0]},"entityType":"DeviceInformation"}},
  {"description":{"entityAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1]},"entityType":"CEM"}}
 ],
 "featureInformation":[
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[0],"feature":0},"featureType":"NodeManagement","role":"special","supportedFunction":[{"function":"nodeManagementDetailedDiscoveryData","possibleOperations":{"read":{}}},{"function":"nodeManagementUseCaseData","possibleOperations":{"read":{}}},{"function":"nodeManagementSubscriptionData","possibleOperations":{"read":{}}},{"function":"nodeManagementSubscriptionRequestCall","possibleOperations":{}},{"function":"nodeManagementSubscriptionDeleteCall","possibleOperations":{}},{"function":"nodeManagementBindingData","possibleOperations":{"read":{}}},{"function":"nodeManagementBindingRequestCall","possibleOperations":{}},{"function":"nodeManagementBindingDeleteCall","possibleOperations":{}},{"function":"nodeManagementDestinationListData","possibleOperations":{"read":{}}}]}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[0],"feature":1},"featureType":"DeviceClassification","role":"server","supportedFunction":[{"function":"deviceClassificationManufacturerData","possibleOperations":{"read":{}}}]}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":1},"featureType":"DeviceDiagnosis","role":"server","supportedFunction":[{"function":"deviceDiagnosisStateData","possibleOperations":{"read":{}}},{"function":"deviceDiagnosisHeartbeatData","possibleOperations":{"read":{}}}]}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":2},"featureType":"DeviceDiagnosis","role":"client"}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":3},"featureType":"Measurement","role":"client"}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":4},"featureType":"ElectricalConnection","role":"client"}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":5},"featureType":"LoadControl","role":"client"}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":6},"featureType":"DeviceConfiguration","role":"client"}},
  {"description":{"featureAddress":{"device":"d:_n:ShipHub_HEMS-0001","entity":[1],"feature":7},"featureType":"DeviceClassification","role":"client"}}
 ]}}`) as { nodeManagementDetailedDiscoveryData: Record<string, unknown> };

describe('local device model', () => {
  const created = createLocalDevice(CEM);
  assert.ok(created.ok);
  const { device } = created;

  it('builds exactly the discovery data of spine-protocol.md §5.1, in element order', () => {
    const built = buildDetailedDiscoveryData(device);
    assert.deepEqual(built, DOC_EXAMPLE.nodeManagementDetailedDiscoveryData);
    assert.equal(
      JSON.stringify(built),
      JSON.stringify(DOC_EXAMPLE.nodeManagementDetailedDiscoveryData),
    );
    assert.deepEqual(created.warnings, []);
  });

  it('writes the two wire feature entries quoted in §5.1', () => {
    const features = buildDetailedDiscoveryData(device).featureInformation as unknown[];
    assert.equal(
      JSON.stringify(toEebusJson(features[1])),
      '[{"description":[{"featureAddress":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[0]},{"feature":1}]},{"featureType":"DeviceClassification"},{"role":"server"},{"supportedFunction":[[{"function":"deviceClassificationManufacturerData"},{"possibleOperations":[{"read":[]}]}]]}]}]',
    );
    assert.equal(
      JSON.stringify(toEebusJson(features[3])),
      '[{"description":[{"featureAddress":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[1]},{"feature":2}]},{"featureType":"DeviceDiagnosis"},{"role":"client"}]}]',
    );
  });

  it('parses back into the same model (our reply as a partner sees it)', () => {
    const parsed = parseDetailedDiscovery(buildDetailedDiscoveryData(device));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.device, device);
    const withoutDevice = parseDetailedDiscovery(
      buildDetailedDiscoveryData(device, { deviceInAddresses: false }),
    );
    assert.ok(withoutDevice.ok);
    assert.deepEqual(withoutDevice.device, device);
  });

  it('answers the first discovery read with a reply that decodes on the wire (checklist 22)', () => {
    const read = decodeDatagramText(
      '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"entity":[0]},{"feature":0}]},{"msgCounter":1},{"cmdClassifier":"read"}]},{"payload":[{"cmd":[[{"nodeManagementDetailedDiscoveryData":[]}]]}]}]}',
    );
    assert.ok(read.ok);
    const answered = step(initialCorrelationState({ localDevice: DEV }), {
      kind: 'reply',
      now: 0,
      request: read.datagram.header,
      cmd: {
        data: {
          name: 'nodeManagementDetailedDiscoveryData',
          value: buildDetailedDiscoveryData(device),
        },
      },
    });
    const send = answered.effects[0];
    assert.ok(send?.kind === 'send');
    const text = encodeDatagramText(send.datagram);
    const back = decodeDatagramText(text);
    assert.ok(back.ok);
    assert.equal(back.datagram.header.msgCounterReference, 1n);
    assert.deepEqual(back.datagram.header.addressSource, { device: DEV, entity: [0], feature: 0 });
    const parsed = parseDetailedDiscovery(back.datagram.payload.cmd[0]?.data?.value);
    assert.ok(parsed.ok);
    assert.equal(parsed.device.entities.flatMap((e) => e.features).length, 9);
  });

  it('our specificationVersion matches the IG-SPINE pattern (checklist 6)', () => {
    for (const version of device.specificationVersions)
      assert.match(version, /^[1-9][0-9]*\.[0-9]+\.[0-9]+$/);
  });

  it('entity added/removed notifies are partial and apply on the partner side (checklist 27)', () => {
    const extra = createLocalDevice({
      ...CEM,
      entities: [
        ...CEM.entities,
        {
          type: 'GridGuard',
          features: [
            {
              type: 'DeviceDiagnosis',
              role: 'server',
              functions: [{ function: 'deviceDiagnosisHeartbeatData' }],
            },
          ],
        },
      ],
    });
    assert.ok(extra.ok);
    const added = extra.device.entities[2]!;
    const addCmd = buildEntityChangeNotify(extra.device, added, 'added');
    assert.equal(addCmd.filter?.[0]?.cmdControl, 'partial');
    const onPartner = applyDiscoveryNotify(device, addCmd.data!.value, true);
    assert.ok(onPartner.ok);
    assert.deepEqual(onPartner.change.added, [[2]]);
    assert.deepEqual(onPartner.change.device, extra.device);
    const removeCmd = buildEntityChangeNotify(extra.device, added, 'removed');
    assert.equal((removeCmd.data!.value as Record<string, unknown>).featureInformation, undefined);
    const back = applyDiscoveryNotify(extra.device, removeCmd.data!.value, true);
    assert.ok(back.ok);
    assert.deepEqual(back.change.removed, [[2]]);
    assert.deepEqual(back.change.device, device);
  });

  it('numbers explicitly when asked and keeps read/write/partial flags', () => {
    const result = createLocalDevice({
      device: DEV,
      type: 'EnergyManagementSystem',
      networkFeatureSet: 'simple',
      entities: [
        {
          type: 'CEM',
          entity: [3],
          features: [
            {
              type: 'LoadControl',
              role: 'server',
              feature: 10,
              functions: [
                {
                  function: 'loadControlLimitListData',
                  readPartial: true,
                  write: true,
                  writePartial: true,
                },
              ],
            },
            { type: 'Measurement', role: 'client' },
          ],
        },
      ],
    });
    assert.ok(result.ok);
    const entity = result.device.entities[1]!;
    assert.deepEqual(entity.entity, [3]);
    assert.deepEqual(
      entity.features.map((f) => f.feature),
      [10, 11],
    );
    const built = buildDetailedDiscoveryData(result.device) as {
      featureInformation: Array<{ description: Record<string, unknown> }>;
    };
    assert.deepEqual(built.featureInformation[2]?.description.supportedFunction, [
      {
        function: 'loadControlLimitListData',
        possibleOperations: { read: { partial: {} }, write: { partial: {} } },
      },
    ]);
  });

  it('refuses what partners would choke on', () => {
    const bad = createLocalDevice({
      device: '',
      type: 'EnergyManagementSystem',
      entities: [
        { type: 'CEM', entity: [0], features: [] },
        { type: 'CEM', entity: [1], features: [] },
        { type: 'CEM', entity: [1], features: [] },
        { type: 'CEM', entity: [-1], features: [] },
        {
          type: 'CEM',
          entity: [2],
          features: [
            {
              type: 'Measurement',
              role: 'client',
              functions: [{ function: 'measurementListData' }],
            },
            { type: 'NodeManagement', role: 'server' },
            { type: 'Bogus' as 'Generic', role: 'server' },
            { type: 'Measurement', role: 'server', feature: 1 },
            { type: 'Measurement', role: 'server', feature: 1 },
            { type: 'Measurement', role: 'server', feature: -2 },
          ],
        },
      ],
    });
    assert.ok(!bad.ok);
    assert.equal(bad.errors.length, 9, bad.errors.join('\n'));
    const odd = createLocalDevice({ device: 'HEMS', type: 'Generic', entities: [] });
    assert.ok(odd.ok);
    assert.equal(odd.warnings.length, 1);
  });
});
