import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, backoffDelayMs, type BackoffPolicy } from '../../../src/util/backoff.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const DOUBLING: BackoffPolicy = { kind: 'exponential', initialMs: 1_000, maxMs: 60_000 };

describe('backoffDelayMs', () => {
  it('exponential: doubles from the initial delay up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelayMs(DOUBLING, n)),
      [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000],
    );
  });

  it('exponential: attempt 0 counts as the first, a huge attempt stays at the cap', () => {
    assert.equal(backoffDelayMs(DOUBLING, 0), 1_000);
    assert.equal(backoffDelayMs(DOUBLING, 1e9), 60_000);
    assert.equal(backoffDelayMs({ ...DOUBLING, factor: 3 }, 3), 9_000);
  });

  it('exponential with jitter: drawn from [d·(1 − jitter), d] by the injected source', () => {
    const policy: BackoffPolicy = { ...DOUBLING, jitter: 0.5 };
    assert.equal(
      backoffDelayMs(policy, 2, () => 0),
      1_000,
    );
    assert.equal(
      backoffDelayMs(policy, 2, () => 0.5),
      1_500,
    );
    assert.equal(
      backoffDelayMs(policy, 2, () => 0.999_999),
      2_000,
    );
  });

  it('ranges: the n-th range for attempt n, the last one repeating (the hub reconnect, ship-go)', () => {
    const policy: BackoffPolicy = {
      kind: 'ranges',
      rangesMs: [
        [0, 3_000],
        [3_000, 10_000],
        [10_000, 20_000],
      ],
    };
    assert.deepEqual(
      [1, 2, 3, 9].map((n) => backoffDelayMs(policy, n, () => 0.5)),
      [1_500, 6_500, 15_000, 15_000],
    );
    assert.equal(backoffDelayMs(policy, 1), 0, 'without a random source: the lower end');
  });
});

describe('Backoff', () => {
  it('schedules each retry one step later through the clock, under its name, until reset', () => {
    const clock = new FakeClock();
    const backoff = new Backoff({ clock, name: 'bus-reconnect', policy: DOUBLING });
    let fired = 0;
    assert.equal(
      backoff.schedule(() => (fired += 1)),
      1_000,
    );
    assert.deepEqual(clock.pendingTimers(), ['bus-reconnect']);
    assert.equal(
      backoff.schedule(() => assert.fail('a second retry while one is pending')),
      undefined,
    );
    clock.advance(1_000);
    assert.equal(fired, 1);
    assert.equal(backoff.pending, false);
    assert.equal(
      backoff.schedule(() => (fired += 1)),
      2_000,
    );
    clock.advance(2_000);
    assert.equal(fired, 2);
    assert.equal(backoff.attempts, 2);
    backoff.reset();
    assert.equal(
      backoff.schedule(() => (fired += 1)),
      1_000,
    );
    backoff.cancel();
    clock.advance(5_000);
    assert.equal(fired, 2, 'a cancelled retry does not run');
    assert.deepEqual(clock.pendingTimers(), []);
  });
});
