/** A minimal fake Clock for the mDNS tests: timers fire only when the test advances time. */
import type { Clock, PendingTimer, TimerHandle, TimerOptions } from '../../../src/util/clock.js';

interface FakeTimer {
  id: number;
  name: string;
  at: number;
  unref: boolean;
  callback: () => void;
}

export class FakeClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  now(): number {
    return this.time;
  }

  wallNow(): Date {
    return new Date(Date.UTC(2026, 0, 1) + this.time);
  }

  setTimer(
    name: string,
    delayMs: number,
    callback: () => void,
    options?: TimerOptions,
  ): TimerHandle {
    const id = this.nextId++;
    const at = this.time + Math.max(0, delayMs);
    this.timers.set(id, { id, name, at, unref: options?.unref ?? true, callback });
    return { cancel: () => this.timers.delete(id) };
  }

  listTimers(): readonly PendingTimer[] {
    return [...this.timers.values()]
      .sort((a, b) => a.at - b.at || a.id - b.id)
      .map((t) => ({ name: t.name, dueAt: t.at, unref: t.unref }));
  }

  /** Names of pending timers (diagnostics). */
  pending(): string[] {
    return [...this.timers.values()].map((t) => t.name);
  }

  /** Moves time forward, firing due timers in order (also ones they schedule). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      let next: FakeTimer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.at <= end && (next === undefined || timer.at < next.at)) next = timer;
      }
      if (next === undefined) break;
      this.timers.delete(next.id);
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = end;
  }
}
