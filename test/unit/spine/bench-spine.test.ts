/**
 * The SPINE bench (bench/spine.ts) on a small count, so `npm run bench` cannot rot unnoticed:
 * the heat pump is set up, every read gets its reply and the last notify's value is the one the
 * session reports (the bench checks both and throws otherwise). No time is asserted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { measureSpineThroughput } from '../../../bench/spine.js';

describe('bench: SPINE throughput', () => {
  it('feeds notifies and reads through one session and counts them', () => {
    const result = measureSpineThroughput(200);
    assert.equal(result.datagrams, 400);
    assert.ok(result.notifyPerS > 0 && Number.isFinite(result.notifyPerS));
    assert.ok(result.readPerS > 0 && Number.isFinite(result.readPerS));
  });
});
