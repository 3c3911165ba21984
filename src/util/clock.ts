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

/**
 * The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). Longer ones overflow: Node
 * warns (TimeoutOverflowWarning) and fires after 1 ms. A peer chooses some delays (SHIP §13.4.4.1:
 * the hello `waiting` value), so a hostile 2^31 must not turn into an immediate timeout.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The platform timer functions the system clock runs on (replaceable in tests). */
export interface PlatformTimers {
  setTimeout(callback: () => void, delayMs: number): { unref(): unknown };
  clearTimeout(timer: { unref(): unknown }): void;
}

/** A clock on real time: performance.now() for durations, Date for wall time, unref'd timers. */
export function createSystemClock(
  timers: PlatformTimers = {
    setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
    clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  },
): Clock {
  return {
    now: () => performance.now(),
    wallNow: () => new Date(),
    setTimer(_name, delayMs, callback) {
      // Delays beyond MAX_TIMER_DELAY_MS (or not finite) run as a chain of maximal timers.
      let remainingMs = Number.isFinite(delayMs) ? Math.max(0, delayMs) : Number.MAX_VALUE;
      let timer: { unref(): unknown };
      const arm = (): void => {
        const stepMs = Math.min(remainingMs, MAX_TIMER_DELAY_MS);
        remainingMs -= stepMs;
        timer = timers.setTimeout(remainingMs > 0 ? arm : callback, stepMs);
        timer.unref();
      };
      arm();
      return { cancel: () => timers.clearTimeout(timer) };
    },
  };
}

/** The real clock every composition root uses. */
export const systemClock: Clock = createSystemClock();
