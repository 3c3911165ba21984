/**
 * The parts of pairing that are state of their own: denials a person made (remembered for a
 * cool-down, so a denied device is not asked about every 10-20 s, forever) and the auto-accept
 * window (SHIP §12.3.1.1: at most 2 minutes, never a permanent switch).
 */
import type { Ski } from '../ship/ski.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { MAX_AUTO_ACCEPT_WINDOW_MS } from './policy.js';
import type { DeniedPairing } from './types.js';

export const DEFAULT_DENIED_PAIRING_COOLDOWN_MS = 600_000;
/** Denials remembered at most (least recent forgotten first). */
const MAX_DENIALS = 1_024;

interface Denial {
  readonly deniedAt: Date;
  readonly untilMs: number;
  refusedSince: number;
}

export class DenialList {
  /** Map order = least recently denied first. */
  readonly #denials = new Map<Ski, Denial>();

  constructor(
    private readonly clock: Clock,
    private readonly cooldownMs: number = DEFAULT_DENIED_PAIRING_COOLDOWN_MS,
  ) {}

  /** A person denied `ski`: its requests are refused without a question for the cool-down. */
  remember(ski: Ski): void {
    if (this.cooldownMs <= 0) return;
    this.#denials.delete(ski);
    this.#denials.set(ski, {
      deniedAt: this.clock.wallNow(),
      untilMs: this.clock.now() + this.cooldownMs,
      refusedSince: 0,
    });
    for (const oldest of this.#denials.keys()) {
      if (this.#denials.size <= MAX_DENIALS) break;
      this.#denials.delete(oldest);
    }
  }

  /**
   * `ski` asks again: while its cool-down runs, the refusal is counted and the end of the
   * cool-down returned (wall clock); an ended denial is forgotten.
   */
  refuse(ski: Ski): Date | undefined {
    const denial = this.#denials.get(ski);
    if (denial === undefined) return undefined;
    const now = this.clock.now();
    if (denial.untilMs <= now) {
      this.#denials.delete(ski);
      return undefined;
    }
    denial.refusedSince++;
    return new Date(this.clock.wallNow().getTime() + denial.untilMs - now);
  }

  /** Ends a denial (an approval, or `pairing forget SKI`); false if there was none. */
  forget(ski: Ski): boolean {
    return this.#denials.delete(ski);
  }

  /** Denials whose cool-down has not ended (`pairing list`). */
  list(): DeniedPairing[] {
    const now = this.clock.now();
    const wallNow = this.clock.wallNow().getTime();
    const result: DeniedPairing[] = [];
    for (const [ski, denial] of this.#denials) {
      if (denial.untilMs <= now) continue;
      result.push({
        ski,
        deniedAt: denial.deniedAt,
        until: new Date(wallNow + (denial.untilMs - now)),
        refusedSince: denial.refusedSince,
      });
    }
    return result;
  }
}

export class AutoAcceptWindow {
  #untilMs: number | undefined;
  #timer: TimerHandle | undefined;

  /** @param onClosedByTimer runs when the window ends by itself */
  constructor(
    private readonly clock: Clock,
    private readonly onClosedByTimer: () => void,
  ) {}

  /** Opens (or re-opens) the window for `durationMs`, clamped to 0..2 min; returns its end. */
  open(durationMs: number): number {
    const ms = Math.min(Math.max(0, durationMs), MAX_AUTO_ACCEPT_WINDOW_MS);
    this.#timer?.cancel();
    this.#untilMs = this.clock.now() + ms;
    this.#timer = this.clock.setTimer('autoAcceptWindow', ms, () => this.onClosedByTimer());
    return this.#untilMs;
  }

  /** Closes it; false if it was not open. */
  close(): boolean {
    if (this.#untilMs === undefined) return false;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#untilMs = undefined;
    return true;
  }

  get isOpen(): boolean {
    return this.#untilMs !== undefined && this.clock.now() < this.#untilMs;
  }
}
