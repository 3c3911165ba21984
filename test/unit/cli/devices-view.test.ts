/**
 * `ship-hub devices`: the four views of the admin API joined into one row per SKI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinDevices } from '../../../src/cli/devices-view.js';

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

  it('nothing known gives no rows', () => {
    assert.deepEqual(
      joinDevices({ trusted: [], discovered: [], pending: [], connections: [] }),
      [],
    );
  });
});
