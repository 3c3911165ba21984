import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createSystemClock,
  MAX_TIMER_DELAY_MS,
  type PlatformTimers,
} from '../../../src/util/clock.js';

/** Platform timers that only record what they were asked to do; `fire` runs one by hand. */
function recordingTimers() {
  const armed: Array<{
    delayMs: number;
    callback: () => void;
    cleared: boolean;
    unrefd: boolean;
  }> = [];
  const timers: PlatformTimers = {
    setTimeout(callback, delayMs) {
      const entry = { delayMs, callback, cleared: false, unrefd: false };
      armed.push(entry);
      return { unref: () => (entry.unrefd = true), entry };
    },
    clearTimeout(timer) {
      (timer as unknown as { entry: { cleared: boolean } }).entry.cleared = true;
    },
  };
  return { armed, timers };
}

describe('systemClock timers', () => {
  it('never hands setTimeout a delay it would overflow (a hello waiting of 2^31 ms)', () => {
    const { armed, timers } = recordingTimers();
    const clock = createSystemClock(timers);
    let fired = 0;
    clock.setTimer('helloRemote', 2 ** 31 + 5, () => (fired += 1));
    assert.equal(armed.length, 1);
    assert.equal(armed[0]!.delayMs, MAX_TIMER_DELAY_MS);
    armed[0]!.callback(); // the first maximal step elapsed: the rest is armed, nothing fired
    assert.equal(fired, 0);
    assert.equal(armed.length, 2);
    assert.equal(armed[1]!.delayMs, 6);
    armed[1]!.callback();
    assert.equal(fired, 1);
  });

  it('cancel stops a chained timer in any step', () => {
    const { armed, timers } = recordingTimers();
    const clock = createSystemClock(timers);
    const handle = clock.setTimer('long', 3 * MAX_TIMER_DELAY_MS, () => assert.fail('fired'));
    armed[0]!.callback();
    handle.cancel();
    assert.equal(armed[1]!.cleared, true);
  });

  it('short, negative and non-finite delays', () => {
    const { armed, timers } = recordingTimers();
    const clock = createSystemClock(timers);
    clock.setTimer('short', 50, () => undefined);
    clock.setTimer('negative', -5, () => undefined);
    clock.setTimer('infinite', Number.POSITIVE_INFINITY, () => undefined);
    assert.deepEqual(
      armed.map((a) => a.delayMs),
      [50, 0, MAX_TIMER_DELAY_MS],
    );
  });

  it('lists pending timers by name, soonest first, until they fire or are cancelled', () => {
    const { armed, timers } = recordingTimers();
    const clock = createSystemClock(timers);
    clock.setTimer('later', 5_000, () => undefined);
    const soon = clock.setTimer('soon', 10, () => undefined);
    clock.setTimer('window', 1_000, () => undefined, { unref: false });
    assert.deepEqual(
      clock.listTimers().map((t) => [t.name, t.unref]),
      [
        ['soon', true],
        ['window', false],
        ['later', true],
      ],
    );
    soon.cancel();
    armed[0]!.callback(); // 'later' fires
    assert.deepEqual(
      clock.listTimers().map((t) => t.name),
      ['window'],
    );
  });

  it('unrefs timers unless told not to', () => {
    const { armed, timers } = recordingTimers();
    const clock = createSystemClock(timers);
    clock.setTimer('utility', 10, () => undefined);
    clock.setTimer('browseWindow', 10, () => undefined, { unref: false });
    assert.deepEqual(
      armed.map((a) => a.unrefd),
      [true, false],
    );
  });
});
