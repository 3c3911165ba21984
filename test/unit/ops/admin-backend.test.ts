/**
 * The admin backend's trusted-devices view (GET /api/trusted, `ship-hub trust list`): whether a
 * device is in data exchange and since when. A connection opens before its handshake, and a
 * pairing can keep it in hello for minutes, so "since" is when the data exchange began (the
 * trust store's last_connection), not when the socket opened.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Hub } from '../../../src/hub/hub.js';
import type { ConnectionSummary } from '../../../src/hub/types.js';
import { createAdminBackend } from '../../../src/ops/admin-backend.js';
import type { Ski } from '../../../src/ship/ski.js';
import type { TrustedDevice, TrustStore } from '../../../src/trust/trust-store.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const PAIRED_LATE = 'a'.repeat(40) as Ski;
const RECORD_OLD = 'b'.repeat(40) as Ski;
const OFFLINE = 'c'.repeat(40) as Ski;

function device(ski: Ski, lastConnection: string): TrustedDevice {
  return {
    ski,
    brand: 'Acme',
    model: 'HP',
    device_type: 'HeatPump',
    paired_at: '2026-01-01T00:00:00Z',
    last_connection: lastConnection,
    connection_count: 1,
  };
}

function connection(ski: Ski, connectedForMs: number): ConnectionSummary {
  return {
    ski,
    direction: 'inbound',
    remoteAddress: '127.0.0.1',
    state: 'SME_STATE_COMPLETE',
    shipId: undefined,
    connectedForMs,
  };
}

describe('admin backend: trusted devices', () => {
  it('connected since the data exchange began, not since the socket opened', async () => {
    // Wall time 2026-01-01T00:10:00Z; both connections opened 5 minutes ago.
    const clock = new FakeClock(0, Date.UTC(2026, 0, 1, 0, 10, 0));
    const hub = {
      connections: () => [connection(PAIRED_LATE, 300_000), connection(RECORD_OLD, 300_000)],
    } as unknown as Hub;
    const trust = {
      list: () => [
        // Approved after 3 minutes in hello: data exchange from 00:08:00.
        device(PAIRED_LATE, '2026-01-01T00:08:00Z'),
        // A record older than the socket (its write failed): the socket's time is all we know.
        device(RECORD_OLD, '2025-12-31T23:00:00Z'),
        device(OFFLINE, '2025-12-31T22:00:00Z'),
      ],
    } as unknown as TrustStore;
    const backend = createAdminBackend({
      hub,
      trust,
      clock,
      logger: undefined as never,
      shipId: 'hub',
      ski: 'd'.repeat(40) as Ski,
      startedAt: 0,
      isReady: () => true,
      status: () => 'ok',
      storageError: () => undefined,
      describe: () => ({ brand: '', model: '', device_type: '' }),
      remember: () => undefined,
      approvePending: () => Promise.resolve(),
    });
    const rows = new Map((await backend.listTrusted()).map((row) => [row.ski, row]));
    assert.equal(rows.get(PAIRED_LATE)?.connected, true);
    assert.equal(rows.get(PAIRED_LATE)?.connected_since, '2026-01-01T00:08:00.000Z');
    assert.equal(rows.get(RECORD_OLD)?.connected_since, '2026-01-01T00:05:00.000Z');
    assert.equal(rows.get(OFFLINE)?.connected, false);
    assert.equal(rows.get(OFFLINE)?.connected_since, undefined);
  });
});
