/**
 * `ship-hub devices`: the four views of the admin API joined into one row per SKI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinDevices, spineCell, spineDetailLines } from '../../../src/cli/devices-view.js';
import type { SpineDeviceSummary } from '../../../src/hub/spine-summary.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);

describe('devices view', () => {
  it('one row per SKI: seen, asking, trusted and connected, each where it applies', () => {
    const rows = joinDevices({
      trusted: [
        {
          ski: A,
          brand: 'Vaillant',
          model: 'aroTHERM',
          device_type: 'HeatPump',
          paired_at: '2026-01-01T00:00:00Z',
          last_connection: '2026-01-02T00:00:00Z',
          connection_count: 3,
        },
        {
          ski: D,
          brand: '',
          model: '',
          device_type: '',
          paired_at: '2026-01-01T00:00:00Z',
          last_connection: '2026-01-01T00:00:00Z',
          connection_count: 0,
        },
      ],
      discovered: [
        { ski: A, brand: 'Other', address: '192.0.2.1', port: 4712, trusted: true },
        {
          ski: B,
          brand: 'Elli',
          model: 'Charger',
          address: '192.0.2.2',
          port: 4711,
          trusted: false,
        },
      ],
      pending: [
        {
          ski: C,
          brand: 'SMA',
          requested_at: '2026-01-03T00:00:00Z',
          expires_at: '2026-01-03T00:10:00Z',
        },
      ],
      connections: [
        { ski: A, direction: 'outbound', state: 'SME_STATE_COMPLETE' },
        { ski: C, direction: 'inbound', state: 'SME_HELLO_STATE_PENDING_LISTEN' },
      ],
    });
    assert.deepEqual(
      rows.map((r) => [r.ski[0], r.brand, r.trusted, r.mdns, r.pairing, r.connection]),
      [
        ['a', 'Vaillant', 'yes', '192.0.2.1:4712', '-', 'outbound, SME_STATE_COMPLETE'],
        ['b', 'Elli', 'no', '192.0.2.2:4711', '-', '-'],
        [
          'c',
          'SMA',
          'no',
          '-',
          'asking until 2026-01-03T00:10:00Z',
          'inbound, SME_HELLO_STATE_PENDING_LISTEN',
        ],
        ['d', '', 'yes', '-', '-', '-'],
      ],
    );
  });

  it("adds what SPINE says of connected devices, and escapes the device's strings in detail", () => {
    const summary: SpineDeviceSummary = {
      session: 'running',
      discovered: true,
      deviceAddress: 'd:_i:19667_PorscheEVSE-\u001b[2J',
      deviceType: 'ChargingStation',
      entities: [
        {
          entity: [1],
          type: 'EVSE\u202e',
          features: [
            { feature: 2, type: 'Measurement', role: 'server', functions: ['measurementListData'] },
          ],
        },
      ],
      useCases: [{ actor: 'EVSE', name: 'evseCommissioningAndConfiguration', scenarios: [1, 2] }],
      manufacturer: { brandName: 'Porsche\u0007' },
      heartbeat: { state: 'lost', silentForMs: 130_000, announcedTimeoutMs: 60_000 },
      monitoring: [
        {
          useCase: 'monitoringOfPowerConsumption',
          entity: [1],
          entityType: 'EVSE',
          scenarios: [1, 3],
          measurements: [
            {
              measurementId: 0,
              type: 'power',
              scope: 'acPowerTotal',
              unit: 'W',
              phases: 'abc',
              value: 1234.56,
              source: 'measuredValue',
            },
            {
              measurementId: 3,
              type: 'current',
              scope: 'acCurrent\u001b[31m',
              unit: 'A',
              phases: 'b',
              value: -6.5,
            },
          ],
          configuration: [],
        },
      ],
      relations: { ours: 2, oursRefused: 1, theirSubscriptions: 1, theirBindings: 0 },
    };
    const rows = joinDevices({
      trusted: [],
      discovered: [],
      pending: [],
      connections: [{ ski: A, direction: 'inbound', state: 'data' }],
      spine: [{ ski: A, spine: summary }],
    });
    assert.equal(rows[0]?.spine, 'ChargingStation, 1 use case, heartbeat lost, 1234.56 W');
    assert.equal(rows[0]?.device_type, 'ChargingStation', 'the SPINE type fills an empty label');
    assert.equal(rows[0]?.spine_details, summary);
    assert.equal(spineCell({ ...summary, discovered: false }), 'discovery pending');
    assert.equal(
      spineCell({
        session: summary.session,
        discovered: true,
        deviceType: 'ChargingStation',
        entities: [],
        heartbeat: summary.heartbeat,
        monitoring: [],
        relations: summary.relations,
      }),
      'ChargingStation, use cases pending, heartbeat lost',
    );

    const lines = spineDetailLines(summary);
    const text = lines.join('\n');
    // eslint-disable-next-line no-control-regex -- control characters are what is looked for
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/.test(text), text);
    assert.ok(lines.includes('heartbeat:      lost (last 130 s ago), announced timeout 60 s'));
    assert.ok(lines.includes('  evseCommissioningAndConfiguration as EVSE (scenarios 1, 2)'));
    assert.ok(lines.includes('    2: Measurement (server) measurementListData'));
    assert.ok(lines.includes('monitoring:     monitoringOfPowerConsumption on [1] EVSE'), text);
    assert.ok(lines.includes('  power acPowerTotal phase abc: 1234.56 W (measuredValue)'), text);
    assert.ok(
      lines.some((line) => line.startsWith('  current acCurrent\\x1b[31m phase b: -6.5 A')),
      text,
    );
    assert.ok(
      lines.includes('subscriptions:  ours 2 accepted, 1 refused; theirs 1, bindings 0'),
      text,
    );
  });

  it('nothing known gives no rows', () => {
    assert.deepEqual(
      joinDevices({ trusted: [], discovered: [], pending: [], connections: [] }),
      [],
    );
  });
});
