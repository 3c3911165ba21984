/**
 * The clock port. Everything that needs the time or a timer gets a Clock passed down from the
 * composition root (createHub / the CLI); tests pass a FakeClock and advance it by hand.
 *
 * Every timer has a name, and the clock lists the timers still pending (as matter.js's time
 * registry does), so a diagnostic dump or a test can say what the process is waiting for. Nothing
 * in src/ calls setTimeout or setInterval itself; lint enforces that outside this file.
 */
export interface TimerHandle {
  cancel(): void;
}

/** Options of {@link Clock.setTimer}. */
export interface TimerOptions {
  /**
   * Whether the timer lets the process exit while it is pending. Default true: protocol and
   * utility timers never hold a daemon open on their own (house style). A CLI's browse window,
   * which is the only thing the process is waiting for, passes false.
   */
  readonly unref?: boolean;
}

/** A timer that was started and has neither fired nor been cancelled. */
export interface PendingTimer {
  /** The name given to {@link Clock.setTimer}, e.g. `helloRemote` or `avahi-reconnect`. */
  readonly name: string;
  /** When it fires, on the scale of {@link Clock.now}. */
  readonly dueAt: number;
  /** False if the timer holds the process open. */
  readonly unref: boolean;
}

export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic for the system clock. */
  now(): number;
  /** Wall-clock time for persisted timestamps (paired_at, last_connection). */
  wallNow(): Date;
  /** Runs `callback` once after `delayMs`. `name` identifies the timer in {@link listTimers}. */
  setTimer(
    name: string,
    delayMs: number,
    callback: () => void,
    options?: TimerOptions,
  ): TimerHandle;
  /** The pending timers, soonest first (diagnostics). */
  listTimers(): readonly PendingTimer[];
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

/** Sorts pending timers soonest first; equal times in start order (the array's order). */
export function sortPendingTimers(timers: Iterable<PendingTimer>): PendingTimer[] {
  return [...timers].sort((a, b) => a.dueAt - b.dueAt);
}

/** A clock on real time: performance.now() for durations, Date for wall time, unref'd timers. */
export function createSystemClock(
  timers: PlatformTimers = {
    setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
    clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  },
): Clock {
  const pending = new Set<PendingTimer>();
  return {
    now: () => performance.now(),
    wallNow: () => new Date(),
    setTimer(name, delayMs, callback, options) {
      const unref = options?.unref ?? true;
      // Delays beyond MAX_TIMER_DELAY_MS (or not finite) run as a chain of maximal timers.
      let remainingMs = Number.isFinite(delayMs) ? Math.max(0, delayMs) : Number.MAX_VALUE;
      const entry: PendingTimer = { name, dueAt: performance.now() + remainingMs, unref };
      pending.add(entry);
      const fire = (): void => {
        pending.delete(entry);
        callback();
      };
      let timer: { unref(): unknown };
      const arm = (): void => {
        const stepMs = Math.min(remainingMs, MAX_TIMER_DELAY_MS);
        remainingMs -= stepMs;
        timer = timers.setTimeout(remainingMs > 0 ? arm : fire, stepMs);
        if (unref) timer.unref();
      };
      arm();
      return {
        cancel: () => {
          pending.delete(entry);
          timers.clearTimeout(timer);
        },
      };
    },
    listTimers: () => sortPendingTimers(pending),
  };
}

/** The real clock every composition root uses. */
export const systemClock: Clock = createSystemClock();
