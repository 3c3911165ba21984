/**
 * What the daemon says about a device's SPINE side (src/ops/spine-reporter.ts): one line per
 * discovery and use case list, device strings escaped and bounded, heartbeat loss as a warning
 * counted in /metrics, device-caused errors counted but kept at debug level. Our own SPINE
 * device address and type from the config (spine-protocol.md §4.1, §4.2).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Hub } from '../../../src/hub/hub.js';
import { createHubMetrics } from '../../../src/ops/metrics.js';
import {
  SpineReporter,
  discoveredLine,
  monitoringLine,
  useCasesLine,
} from '../../../src/ops/spine-reporter.js';
import type { MonitoredEntity } from '../../../src/spine/monitoring/values.js';
import { spineDeviceAddress, spineDeviceType } from '../../../src/spine/session/defaults.js';
import type { Ski } from '../../../src/ship/ski.js';
import { quietLogger } from '../../helpers/admin-fakes.js';

const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0' as Ski;
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const HOSTILE = /[\u0000-\u0008\u000b-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('SPINE operator lines', () => {
  it('names the device type, address and entity types, escaped and bounded', () => {
    const line = discoveredLine(SKI, {
      device: 'd:_n:Evil_\u001b[2J\u202e',
      type: 'HeatPump\u0007',
      specificationVersions: [],
      entities: [
        { entity: [0], type: 'DeviceInformation', features: [] },
        ...Array.from({ length: 12 }, (_, i) => ({
          entity: [i + 1],
          type: `T${i}${'x'.repeat(300)}`,
          features: [],
        })),
      ],
    });
    assert.ok(!HOSTILE.test(line), line);
    assert.match(line, /^🔌 SPINE a1b2c3d4e5f6\.\.\.: HeatPump.* with 12 entities \(T0x+/);
    assert.match(line, /and 4 more\)$/);
    assert.ok(line.length < 1_000, `bounded: ${line.length}`);
    assert.match(
      discoveredLine(SKI, { specificationVersions: [], entities: [] }),
      /: device of unknown type with 0 entities$/,
    );
  });

  it('lists use cases with their actors, or says there are none', () => {
    assert.equal(
      useCasesLine(SKI, [
        {
          actor: 'MonitoredUnit',
          useCases: [{ useCaseName: 'monitoringOfPowerConsumption', scenarios: [1] }],
        },
      ]),
      '📋 SPINE a1b2c3d4e5f6...: use cases monitoringOfPowerConsumption (MonitoredUnit)',
    );
    assert.equal(useCasesLine(SKI, []), '📋 SPINE a1b2c3d4e5f6...: offers no use cases');
  });

  it('warns of a lost heartbeat and counts it; device errors only at debug, counted', async () => {
    const hub = new EventEmitter();
    const { logger, lines } = quietLogger();
    const metrics = createHubMetrics({ defaultMetrics: false });
    new SpineReporter(hub as unknown as Hub, { logger, metrics });
    hub.emit('spine', SKI, {
      kind: 'heartbeatLost',
      feature: { device: 'd:_n:X_1', entity: [1], feature: 4 },
      lastSeenAt: 0,
      silentForMs: 120_000,
    });
    for (let i = 0; i < 3; i++) {
      hub.emit('spine', SKI, {
        kind: 'undecodable',
        error: { code: 'notDatagram', path: 'datagram', detail: 'x' },
      });
    }
    hub.emit('spine', SKI, {
      kind: 'errorAnswered',
      request: {},
      result: { errorNumber: 6 },
    });
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; event: string; msg: string });
    const lost = parsed.find((l) => l.event === 'spine_heartbeat_lost');
    assert.equal(lost?.level, 40, 'warn');
    assert.equal(lost?.msg, '💔 SPINE a1b2c3d4e5f6...: heartbeat lost (silent for 120 s)');
    assert.ok(
      parsed.filter((l) => l.event !== 'spine_heartbeat_lost').every((l) => l.level === 20),
      'device-caused errors at debug only',
    );
    const text = await metrics.text();
    assert.match(text, /shiphub_spine_heartbeat_losses_total 1/);
    assert.match(text, /shiphub_spine_errors_total\{kind="undecodable"\} 3/);
    assert.match(text, /shiphub_spine_errors_total\{kind="error_answered"\} 1/);
    assert.match(text, /shiphub_spine_errors_total\{kind="request_failed"\} 0/);
  });

  it('logs the first values of a monitored entity once per connection, later ones at debug', () => {
    const hub = new EventEmitter();
    const { logger, lines } = quietLogger();
    new SpineReporter(hub as unknown as Hub, {
      logger,
      metrics: createHubMetrics({ defaultMetrics: false }),
    });
    const entity = (value: number, count = 2): MonitoredEntity => ({
      useCase: 'monitoringOfPowerConsumption',
      entity: [1],
      entityType: 'HeatPump\u202eAppliance',
      scenarios: [1],
      measurements: [
        { measurementId: 0, type: 'power', scope: 'acPowerTotal', unit: 'W', value },
        { measurementId: 1, type: 'power', scope: 'acPower', unit: 'W', value: 1 },
      ].slice(0, count),
      configuration: [],
    });
    hub.emit('measurements', SKI, entity(0, 0)); // nothing known yet: debug
    hub.emit('measurements', SKI, entity(1234.56));
    hub.emit('measurements', SKI, entity(500));
    hub.emit('disconnected', SKI, {});
    hub.emit('measurements', SKI, entity(42));
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; event: string; msg: string });
    const info = parsed.filter((l) => l.level === 30).map((l) => l.msg);
    assert.deepEqual(info, [
      '📈 SPINE a1b2c3d4e5f6...: monitoring MPC on [1] HeatPump\\u202eAppliance: power 1234.56 W, 2 values',
      '📈 SPINE a1b2c3d4e5f6...: monitoring MPC on [1] HeatPump\\u202eAppliance: power 42 W, 2 values',
    ]);
    assert.equal(parsed.filter((l) => l.event === 'spine_monitoring').length, 4);
    assert.equal(monitoringLine(SKI, entity(7, 1)).endsWith('power 7 W, 1 value'), true);
  });
});

describe('our SPINE device from the config', () => {
  it('builds a conforming address (§4.1) from brand, model and serial', () => {
    const pattern = /^d:_(i:[1-9][0-9]*|n:[a-zA-Z0-9-]+)_[^\p{Cc}\p{Cf}\p{Z}]+$/u;
    const cases = [
      { brand: 'YourCompany', model: 'SmartEnergyGateway', serial: 'SEG-2024-001' },
      { brand: 'Acme Energy GmbH & Co.', model: 'Box 2\u001b', serial: '\u202e42 ' },
      { brand: '', model: 'x', serial: 'y' },
    ];
    const addresses = cases.map(spineDeviceAddress);
    assert.deepEqual(addresses, [
      'd:_n:YourCompany_SmartEnergyGateway-SEG-2024-001',
      'd:_n:AcmeEnergyGmbHCo_Box2-42',
      'd:_n:ShipHub_x-y',
    ]);
    for (const address of addresses) assert.match(address, pattern);
  });

  it('maps the configured device type onto a DeviceTypeType (§4.2)', () => {
    assert.equal(spineDeviceType('EnergyManager'), 'EnergyManagementSystem');
    assert.equal(spineDeviceType('chargingstation'), 'ChargingStation');
    assert.equal(spineDeviceType('HeatPump'), 'Generic');
  });
});
