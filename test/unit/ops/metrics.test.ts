import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { HANDSHAKE_BUCKETS_SECONDS, createHubMetrics } from '../../../src/ops/metrics.js';

describe('metrics', () => {
  it('registers every series on a custom registry, not the global one', async () => {
    const metrics = createHubMetrics();
    const text = await metrics.text();
    for (const name of [
      'shiphub_connections',
      'shiphub_handshake_phase_duration_seconds',
      'shiphub_connection_failures_total',
      'shiphub_trust_decisions_total',
      'shiphub_reconnects_total',
      'shiphub_connections_total',
      'shiphub_trusted_devices',
      'shiphub_pending_pairings',
      'shiphub_process_cpu_user_seconds_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.equal(globalRegistry.getSingleMetric('shiphub_connections'), undefined);
  });

  it('two instances do not collide', async () => {
    const one = createHubMetrics({ defaultMetrics: false });
    const two = createHubMetrics({ defaultMetrics: false });
    one.reconnect();
    assert.match(await one.text(), /^shiphub_reconnects_total 1$/m);
    assert.match(await two.text(), /^shiphub_reconnects_total 0$/m);
  });

  it('starts known label values at zero', async () => {
    const text = await createHubMetrics({ defaultMetrics: false }).text();
    assert.match(text, /^shiphub_connections\{state="data"\} 0$/m);
    assert.match(text, /^shiphub_trust_decisions_total\{decision="auto_accepted"\} 0$/m);
    assert.match(text, /^shiphub_connections_total\{direction="inbound"\} 0$/m);
    assert.match(
      text,
      /^shiphub_handshake_phase_duration_seconds_count\{phase="access_methods"\} 0$/m,
    );
  });

  it('counts connections by state when read, from the source it was given', async () => {
    const m = createHubMetrics({ defaultMetrics: false });
    let counts: Partial<Record<'data' | 'handshake', number>> = { data: 2 };
    m.countConnectionsOnScrape(() => counts);
    let text = await m.text();
    assert.match(text, /^shiphub_connections\{state="data"\} 2$/m);
    assert.match(text, /^shiphub_connections\{state="handshake"\} 0$/m);
    // Nothing is set in between: the next read counts again.
    counts = { data: 1, handshake: 3 };
    text = await m.text();
    assert.match(text, /^shiphub_connections\{state="data"\} 1$/m);
    assert.match(text, /^shiphub_connections\{state="handshake"\} 3$/m);
  });

  it('updates through typed methods', async () => {
    const m = createHubMetrics({ defaultMetrics: false });
    m.countConnectionsOnScrape(() => ({ data: 3, handshake: 1, pending_trust: 2 }));
    m.connectionOpened('outbound');
    m.connectionOpened('outbound');
    m.observeHandshakePhase('hello', 0.02);
    m.observeHandshakePhase('total', 130);
    m.connectionFailed('timeout');
    m.connectionFailed('Weird Reason!');
    m.trustDecision('approved');
    m.reconnect();
    m.setTrustedDevices(8);
    m.setPendingPairings(1);
    const text = await m.text();
    assert.match(text, /^shiphub_connections\{state="data"\} 3$/m);
    assert.match(text, /^shiphub_connections\{state="handshake"\} 1$/m);
    assert.match(text, /^shiphub_connections\{state="pending_trust"\} 2$/m);
    assert.match(text, /^shiphub_connections_total\{direction="outbound"\} 2$/m);
    assert.match(
      text,
      /^shiphub_handshake_phase_duration_seconds_bucket\{le="0.025",phase="hello"\} 1$/m,
    );
    assert.match(
      text,
      /^shiphub_handshake_phase_duration_seconds_bucket\{le="\+Inf",phase="total"\} 1$/m,
    );
    assert.match(text, /^shiphub_connection_failures_total\{reason="timeout"\} 1$/m);
    assert.match(text, /^shiphub_connection_failures_total\{reason="other"\} 1$/m);
    assert.match(text, /^shiphub_trust_decisions_total\{decision="approved"\} 1$/m);
    assert.match(text, /^shiphub_reconnects_total 1$/m);
    assert.match(text, /^shiphub_trusted_devices 8$/m);
    assert.match(text, /^shiphub_pending_pairings 1$/m);
  });

  it('has buckets from 1 ms to 120 s', () => {
    assert.equal(HANDSHAKE_BUCKETS_SECONDS[0], 0.001);
    assert.equal(HANDSHAKE_BUCKETS_SECONDS.at(-1), 120);
  });
});
