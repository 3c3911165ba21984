/**
 * The clock port. Everything that needs the time or a timer gets a Clock passed down from the
 * composition root (createHub / the CLI); tests pass a FakeClock and advance it by hand.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic for the system clock. */
  now(): number;
  /** Wall-clock time for persisted timestamps (paired_at, last_connection). */
  wallNow(): Date;
  /** Runs `callback` once after `delayMs`. `name` is for diagnostics only. */
  setTimer(name: string, delayMs: number, callback: () => void): TimerHandle;
}

/** The real clock: performance.now() for durations, Date for wall time, unref'd timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => new Date(),
  setTimer(_name, delayMs, callback) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
