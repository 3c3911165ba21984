import type { Clock, PendingTimer, TimerHandle, TimerOptions } from '../../src/util/clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly name: string;
  readonly unref: boolean;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A virtual clock: time moves only when a test calls advance(); timers fire in order. */
export class FakeClock implements Clock {
  private current: number;
  private seq = 0;
  private queue: Pending[] = [];
  readonly wallEpochMs: number;

  constructor(start = 0, wallEpochMs = Date.UTC(2026, 0, 1)) {
    this.current = start;
    this.wallEpochMs = wallEpochMs;
  }

  now(): number {
    return this.current;
  }

  wallNow(): Date {
    return new Date(this.wallEpochMs + this.current);
  }

  setTimer(
    name: string,
    delayMs: number,
    callback: () => void,
    options?: TimerOptions,
  ): TimerHandle {
    const entry: Pending = {
      at: this.current + Math.max(0, delayMs),
      seq: ++this.seq,
      name,
      unref: options?.unref ?? true,
      callback,
      cancelled: false,
    };
    this.queue.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  listTimers(): readonly PendingTimer[] {
    return this.live().map((p) => ({ name: p.name, dueAt: p.at, unref: p.unref }));
  }

  /** Names of the timers still pending, soonest first. */
  pendingTimers(): string[] {
    return this.live().map((p) => p.name);
  }

  /** Moves time forward by `ms`, firing every timer due on the way (also ones they start). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const next = this.live()[0];
      if (next === undefined || next.at > target) break;
      this.current = next.at;
      next.cancelled = true;
      next.callback();
    }
    this.current = target;
    this.queue = this.live();
  }

  /**
   * Like advance(), but lets promise continuations and I/O callbacks run after every timer:
   * needed when the code under test awaits between timers (dials, hub logic).
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + ms;
    await flush();
    for (let guard = 0; guard < 1_000_000; guard++) {
      const next = this.live()[0];
      if (next === undefined || next.at > target) break;
      this.current = next.at;
      next.cancelled = true;
      next.callback();
      await flush();
    }
    this.current = target;
    this.queue = this.live();
    await flush();
  }

  /** Runs until no timer is pending or `limitMs` passed. */
  runAll(limitMs = 24 * 3600_000): void {
    const end = this.current + limitMs;
    for (let guard = 0; guard < 100_000; guard++) {
      const next = this.live()[0];
      if (next === undefined || next.at > end) return;
      this.advance(next.at - this.current);
    }
  }

  private live(): Pending[] {
    this.queue = this.queue
      .filter((p) => !p.cancelled)
      .sort((a, b) => a.at - b.at || a.seq - b.seq);
    return this.queue;
  }
}

function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
