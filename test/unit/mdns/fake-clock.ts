/** The shared FakeClock (test/helpers), with the name the mDNS tests use for its pending timers. */
import { FakeClock as SharedFakeClock } from '../../helpers/fake-clock.js';

export class FakeClock extends SharedFakeClock {
  /** Names of pending timers, soonest first. */
  pending(): string[] {
    return this.pendingTimers();
  }
}
