/**
 * Retry delays, written once: a pure function that turns an attempt number into a delay, and a
 * small scheduler that runs the retry through the injected {@link Clock} under a timer name.
 *
 * Randomness comes from an injected source so tests are deterministic; it spreads retries of
 * many nodes (or of both sides of a SHIP pair) apart instead of letting them fire together.
 */
import type { Clock, TimerHandle } from './clock.js';

/** A source of random numbers in [0, 1), such as Math.random. */
export type RandomSource = () => number;

/** How retry delays grow with the attempt number. */
export type BackoffPolicy =
  | {
      /** `initialMs · factor^(attempt − 1)`, capped at `maxMs`. */
      readonly kind: 'exponential';
      readonly initialMs: number;
      readonly maxMs: number;
      /** Growth per attempt; default 2. */
      readonly factor?: number;
      /**
       * Fraction of the delay that is random: the delay is drawn from `[d · (1 − jitter), d]`.
       * Default 0 (no randomness).
       */
      readonly jitter?: number;
    }
  | {
      /** Attempt n draws its delay from `rangesMs[n − 1]`; the last range repeats. */
      readonly kind: 'ranges';
      readonly rangesMs: readonly (readonly [minMs: number, maxMs: number])[];
    };

/**
 * The delay before retry number `attempt` (1-based; anything below 1 counts as 1), in whole
 * milliseconds. Without `random` the delay is the lower end of its range.
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  attempt: number,
  random: RandomSource = () => 0,
): number {
  const n = Math.max(1, Math.floor(attempt));
  let minMs: number;
  let maxMs: number;
  switch (policy.kind) {
    case 'exponential': {
      const factor = policy.factor ?? 2;
      // Capped before it can overflow to Infinity on a long outage.
      const exponent = Math.min(n - 1, 1024);
      maxMs = Math.min(policy.initialMs * factor ** exponent, policy.maxMs);
      minMs = maxMs * (1 - (policy.jitter ?? 0));
      break;
    }
    case 'ranges': {
      const range = policy.rangesMs[Math.min(n, policy.rangesMs.length) - 1];
      if (range === undefined) throw new RangeError('backoff: a ranges policy needs a range');
      [minMs, maxMs] = range;
      break;
    }
  }
  if (minMs === maxMs) return Math.round(minMs);
  return Math.round(minMs + random() * (maxMs - minMs));
}

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  readonly clock: Clock;
  /** Timer name, as listed by {@link Clock.listTimers} (e.g. `avahi-reconnect`). */
  readonly name: string;
  readonly policy: BackoffPolicy;
  readonly random?: RandomSource;
}

/**
 * Retries of one thing (a bus connection, a peer): each {@link schedule} waits one attempt longer
 * than the last, until {@link reset} after a success. At most one retry is pending.
 */
export class Backoff {
  readonly #options: BackoffOptions;
  #attempts = 0;
  #timer: TimerHandle | undefined;

  constructor(options: BackoffOptions) {
    this.#options = options;
  }

  /** Retries scheduled since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** True while a retry is waiting for its timer. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * Runs `callback` after the next delay and returns that delay. If a retry is already pending,
   * nothing changes and undefined is returned.
   */
  schedule(callback: () => void): number | undefined {
    if (this.#timer !== undefined) return undefined;
    this.#attempts += 1;
    const { clock, name, policy, random } = this.#options;
    const delayMs = backoffDelayMs(policy, this.#attempts, random);
    this.#timer = clock.setTimer(name, delayMs, () => {
      this.#timer = undefined;
      callback();
    });
    return delayMs;
  }

  /** After a success: the next retry starts from the first delay again. */
  reset(): void {
    this.#attempts = 0;
  }

  /** Drops a pending retry (on close). */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
