/**
 * Golden tests of the remote device model (spine-protocol.md §4, §5.1, §5.3): the detailed
 * discovery data of every real product in the devices repository, in object form and in wire
 * form, and every discovery reply/notify of the recorded sessions, parse into the model. The
 * expected numbers were counted from the raw files independently of the parser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagram, decodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { isObject } from '../../../src/spine/codec/values.js';
import {
  applyDiscoveryNotify,
  parseDetailedDiscovery,
} from '../../../src/spine/device/discovery.js';
import {
  featuresOf,
  findFeature,
  type DeviceDescription,
} from '../../../src/spine/model/device.js';
import {
  deviceDiscoveryFiles,
  deviceFolders,
  loadDeviceFile,
  loadSessionDatagrams,
} from '../../helpers/spine-vectors.js';

interface Expected {
  classifier: 'reply' | 'notify';
  device: string;
  type: string | undefined;
  versions: string[];
  entityTypes: string[];
  features: number;
  servers: number;
  clients: number;
}

const ELLI: Expected = {
  classifier: 'reply',
  device: 'd:_i:47859_Elli-Wallbox-xxxxxxxxxx',
  type: 'Generic',
  versions: ['1.3.0'],
  entityTypes: ['DeviceInformation', 'EVSE', 'EV'],
  features: 15,
  servers: 13,
  clients: 1,
};
const EVCC: Expected = {
  classifier: 'reply',
  device: 'd:_i:EVCC_HEMS-xxxxxxxxxxxxxxxx',
  type: 'EnergyManagementSystem',
  versions: ['1.1.1'],
  entityTypes: ['DeviceInformation', 'CEM'],
  features: 10,
  servers: 2,
  clients: 7,
};
const KOSTAL: Expected = {
  classifier: 'reply',
  device: 'd:_i:xxxxxxxx_Kostal-KSEM',
  type: 'Generic',
  versions: ['1.3.0'],
  entityTypes: [
    'DeviceInformation',
    'CEM',
    'CEM',
    'CEM',
    'CEM',
    'CEM',
    'GridConnectionPointOfPremises',
    'SubMeterElectricity',
  ],
  features: 20,
  servers: 14,
  clients: 5,
};
const PORSCHE: Expected = {
  classifier: 'reply',
  device: 'd:_i:19667_PorscheEVSE-xxxxxxxx',
  type: 'ChargingStation',
  versions: ['1.1.1'],
  entityTypes: ['DeviceInformation', 'EVSE', 'EV'],
  features: 16,
  servers: 13,
  clients: 2,
};
const SPELSBERG: Expected = {
  classifier: 'reply',
  device: 'd:_i:4711_SmartPro',
  type: 'Generic',
  versions: ['1.3.0'],
  entityTypes: ['DeviceInformation', 'EVSE', 'EV'],
  features: 15,
  servers: 13,
  clients: 1,
};
const VAILLANT: Expected = {
  classifier: 'reply',
  device: 'd:_i:42332_xxxxxxxxxxxxxxxxxxxxxxxxxxxx_0',
  type: 'Generic',
  versions: ['1.1.1'],
  entityTypes: ['DeviceInformation', 'Generic'],
  features: 3,
  servers: 1,
  clients: 1,
};
const VIESSMANN: Expected = {
  classifier: 'reply',
  device: 'd:_i:21381_Heatbox2-xxxxxx',
  type: 'Generic',
  versions: ['1.2.0'],
  entityTypes: ['DeviceInformation', 'HeatPumpAppliance'],
  features: 5,
  servers: 4,
  clients: 0,
};

/** Every discovery file of the devices repository (object form and wire form). */
const EXPECTED: Record<string, Expected> = {
  'elli-charger-connect-pro/discovery-data.json': ELLI,
  'elli-charger-connect-pro/wire/discovery-data.json': ELLI,
  'elli-charger-connect-pro/wire/discovery-data-notify-29393d6.json': {
    ...ELLI,
    classifier: 'notify',
    type: undefined,
    versions: [],
    entityTypes: ['EV'],
    features: 10,
    servers: 9,
    clients: 1,
  },
  'evcc.io-evcc/discovery-data.json': EVCC,
  'evcc.io-evcc/wire/discovery-data.json': EVCC,
  'evcc.io-evcc/wire/discovery-data-5ea83c4.json': {
    ...EVCC,
    device: 'd:_i:EVCC_HEMS-EVCC-3532393439363165',
  },
  'kostal-kostal-smart-energy-meter/discovery-data.json': KOSTAL,
  'kostal-kostal-smart-energy-meter/wire/discovery-data.json': KOSTAL,
  'porsche-mobile-charger-connect/discovery-data.json': PORSCHE,
  'porsche-mobile-charger-connect/wire/discovery-data.json': PORSCHE,
  'sma-home-manager-2/discovery-data.json': {
    classifier: 'reply',
    device: 'd:_i:36013_3002857654',
    type: 'Generic',
    versions: ['1.3.0'],
    entityTypes: [
      'DeviceInformation',
      'CEM',
      'CEM',
      'CEM',
      'CEM',
      'CEM',
      'ElectricityStorageSystem',
      'BatterySystem',
      'ElectricityGenerationSystem',
      'PVSystem',
      'CEM',
      'GridConnectionPointOfPremises',
    ],
    features: 24,
    servers: 17,
    clients: 6,
  },
  'sma-home-manager-2/wire/discovery-data-oldfw-29393d6.json': {
    classifier: 'reply',
    device: 'd:_i:36013_3002857654',
    type: undefined,
    versions: ['1.1.0'],
    entityTypes: ['DeviceInformation', 'Generic'],
    features: 3,
    servers: 1,
    clients: 1,
  },
  'spelsberg-wallbox-smart-pro/discovery-data.json': SPELSBERG,
  'spelsberg-wallbox-smart-pro/wire/discovery-data.json': SPELSBERG,
  'spelsberg-wallbox-smart-pro/wire/discovery-data-oldfw-c004202.json': {
    ...SPELSBERG,
    entityTypes: ['DeviceInformation', 'EVSE'],
    features: 5,
    servers: 4,
    clients: 0,
  },
  'vaillant-arotherm-vwl-75-6a/discovery-data.json': VAILLANT,
  'vaillant-arotherm-vwl-75-6a/wire/discovery-data.json': VAILLANT,
  'vaillant-vr920/wire/discovery-data.json': {
    ...VAILLANT,
    device: 'd:_i:42332_12345678912345678912345678A1_0',
  },
  'viessmann-vitoconnect/discovery-data.json': VIESSMANN,
  'viessmann-vitoconnect/wire/discovery-data.json': VIESSMANN,
};

/** The SPINE payload inside a devices-repo SHIP data message, in either form. */
function payloadOf(message: unknown): unknown {
  assert.ok(isObject(message));
  const data = message.data;
  if (Array.isArray(data)) {
    return (data.find((item) => isObject(item) && 'payload' in item) as { payload: unknown })
      .payload;
  }
  assert.ok(isObject(data));
  return data.payload;
}

function countFeatures(device: DeviceDescription, role?: string): number {
  return device.entities
    .flatMap((e) => e.features)
    .filter((f) => role === undefined || f.role === role).length;
}

describe('remote device model from the devices repository', () => {
  const seen: string[] = [];
  for (const folder of deviceFolders()) {
    for (const file of deviceDiscoveryFiles(folder)) {
      const name = `${folder}/${file}`;
      seen.push(name);
      it(`${name} parses into the model`, () => {
        const expected = EXPECTED[name];
        assert.ok(expected, `no expectation for ${name}`);
        const decoded = decodeDatagram(payloadOf(loadDeviceFile(folder, file)));
        assert.ok(decoded.ok);
        assert.equal(decoded.datagram.header.cmdClassifier, expected.classifier);
        const cmd = decoded.datagram.payload.cmd[0]!;
        assert.equal(cmd.data?.name, 'nodeManagementDetailedDiscoveryData');
        const parsed = parseDetailedDiscovery(cmd.data.value);
        assert.ok(parsed.ok);
        assert.deepEqual(parsed.warnings, []);
        const { device } = parsed;
        assert.equal(device.device, expected.device);
        assert.equal(device.type, expected.type);
        assert.deepEqual(device.specificationVersions, expected.versions);
        assert.deepEqual(
          device.entities.map((e) => e.type),
          expected.entityTypes,
        );
        assert.equal(countFeatures(device), expected.features);
        assert.equal(countFeatures(device, 'server'), expected.servers);
        assert.equal(countFeatures(device, 'client'), expected.clients);
        if (expected.classifier === 'reply') {
          // Every full description has NodeManagement at [0]:0 with role special (§5).
          const nm = findFeature(device, [0], 0);
          assert.equal(nm?.type, 'NodeManagement');
          assert.equal(nm.role, 'special');
          assert.ok(
            nm.functions.some(
              (f) => f.function === 'nodeManagementDetailedDiscoveryData' && f.read,
            ),
          );
        }
      });
    }
  }

  it('covers every discovery file of the repository', () => {
    assert.deepEqual(seen.sort(), Object.keys(EXPECTED).sort());
  });

  it('reads supported functions with their read/write/partial flags (Kostal KSEM)', () => {
    const decoded = decodeDatagram(
      payloadOf(loadDeviceFile('kostal-kostal-smart-energy-meter', 'discovery-data.json')),
    );
    assert.ok(decoded.ok);
    const parsed = parseDetailedDiscovery(decoded.datagram.payload.cmd[0]!.data!.value);
    assert.ok(parsed.ok);
    const measurements = featuresOf(parsed.device, 'Measurement', 'server');
    assert.ok(measurements.length > 0);
    const list = measurements[0]!.feature.functions.find(
      (f) => f.function === 'measurementListData',
    );
    assert.deepEqual(
      list && { read: list.read, readPartial: list.readPartial, write: list.write },
      { read: true, readPartial: true, write: false },
    );
  });

  it('the Elli partial notify adds the EV entity [1,1] to the known wallbox (§5.3)', () => {
    const full = decodeDatagram(
      payloadOf(loadDeviceFile('elli-charger-connect-pro', 'discovery-data.json')),
    );
    const notify = decodeDatagram(
      payloadOf(
        loadDeviceFile('elli-charger-connect-pro', 'wire/discovery-data-notify-29393d6.json'),
      ),
    );
    assert.ok(full.ok && notify.ok);
    const known = parseDetailedDiscovery(full.datagram.payload.cmd[0]!.data!.value);
    assert.ok(known.ok);
    // Start from the wallbox without its EV, as before the plug-in.
    const withoutEv: DeviceDescription = {
      ...known.device,
      entities: known.device.entities.filter((e) => e.entity.length === 1),
    };
    const cmd = notify.datagram.payload.cmd[0]!;
    assert.equal(cmd.filter?.[0]?.cmdControl, 'partial');
    const applied = applyDiscoveryNotify(withoutEv, cmd.data!.value, true);
    assert.ok(applied.ok);
    assert.deepEqual(applied.change.added, [[1, 1]]);
    assert.deepEqual(applied.change.removed, []);
    assert.equal(applied.change.device.entities.length, 3);
    assert.equal(applied.change.device.type, 'Generic', 'kept from the known device');
  });
});

describe('remote device model from the recorded sessions', () => {
  it('every discovery reply and notify of every session parses without warnings', () => {
    let count = 0;
    const devices = new Set<string>();
    for (const r of loadSessionDatagrams()) {
      const decoded = decodeDatagramText(r.payloadText);
      assert.ok(decoded.ok);
      for (const cmd of decoded.datagram.payload.cmd) {
        if (cmd.data?.name !== 'nodeManagementDetailedDiscoveryData') continue;
        if (decoded.datagram.header.cmdClassifier === 'read') continue;
        const parsed = parseDetailedDiscovery(cmd.data.value);
        assert.ok(parsed.ok, `${r.file} ${r.id}`);
        assert.deepEqual(parsed.warnings, [], `${r.file} ${r.id}`);
        assert.ok(parsed.device.entities.length >= 1, `${r.file} ${r.id}`);
        devices.add(parsed.device.device!);
        count++;
      }
    }
    assert.ok(count >= 10, `only ${count} discovery replies`);
    // openeebus hems + heat pump, eebus-go hems, evse, controlbox, ship-hub's stand-in.
    assert.ok(devices.size >= 5, [...devices].join(', '));
  });
});
