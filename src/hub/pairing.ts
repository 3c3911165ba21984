/**
 * Pairing under a person's control: requests of unknown devices waiting for a decision (one per
 * SKI, keeping its start and expiry when the device reconnects), denials a person made
 * (remembered for a cool-down, so a denied device is not asked about every 10-20 s, forever) and
 * the auto-accept window (SHIP §12.3.1.1: at most 2 minutes, never a permanent switch).
 */
import { CloseCode } from '../ship/close-codes.js';
import type { Ski } from '../ship/ski.js';
import type { DiscoveredService } from '../mdns/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { PeerEntry, PeerRegistry, Tracked } from './peer-registry.js';
import { MAX_AUTO_ACCEPT_WINDOW_MS } from './policy.js';
import type { DeniedPairing, HubEmit, PairingStateUpdate, PendingPairing } from './types.js';

export const DEFAULT_PENDING_TIMEOUT_MS = 600_000;

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

/** What pairing requests need of the hub. */
export interface PairingContext {
  readonly peers: PeerRegistry;
  readonly clock: Clock;
  readonly denials: DenialList;
  readonly pendingTimeoutMs: number;
  readonly emit: HubEmit;
  /** Can a person decide about this SKI now? If not, unknown devices are aborted at once. */
  readonly canWaitForTrust: ((ski: Ski) => boolean) | undefined;
  visible(ski: Ski): DiscoveredService | undefined;
  setPairingState(entry: PeerEntry, update: PairingStateUpdate): void;
}

export class PairingRequests {
  constructor(private readonly ctx: PairingContext) {}

  /** Requests waiting for a decision. */
  list(): PendingPairing[] {
    const result: PendingPairing[] = [];
    for (const entry of this.ctx.peers.values()) {
      const p = entry.pending;
      if (p) {
        result.push({
          ski: p.ski,
          remoteAddress: p.remoteAddress,
          since: p.since,
          expiresAt: p.expiresAt,
          ...(p.brand !== undefined ? { brand: p.brand } : {}),
          ...(p.model !== undefined ? { model: p.model } : {}),
          ...(p.deviceType !== undefined ? { deviceType: p.deviceType } : {}),
          ...(p.shipId !== undefined ? { shipId: p.shipId } : {}),
        });
      }
    }
    return result;
  }

  /** The connection carrying a request closed: the request is withdrawn (not decided). */
  closed(entry: PeerEntry, tracked: Tracked): void {
    if (entry.pending?.tracked === tracked) {
      entry.pending.timer.cancel();
      entry.pending = undefined;
      this.ctx.emit('pairingWithdrawn', entry.ski);
    }
    if (entry.connections.size === 0) entry.pairingWindow = undefined;
  }

  /** A device we do not trust asks to be trusted (its hello is pending, SHIP §13.4.4.1.3). */
  onTrustRequired(entry: PeerEntry, tracked: Tracked): void {
    const deniedUntil = this.ctx.denials.refuse(entry.ski);
    if (deniedUntil !== undefined) {
      // Denied by a person a short while ago: refused without asking again (the device would
      // otherwise ask every 10-20 s, forever).
      tracked.endedByDecision = true;
      tracked.connection.deny();
      this.ctx.emit('pairingRefusedDenied', entry.ski, deniedUntil);
      return;
    }
    const canWait = this.ctx.canWaitForTrust?.(entry.ski) ?? true;
    if (!canWait) {
      // Like ship-go's AllowWaitingForTrust=false: abort at once.
      tracked.connection.deny();
      this.ctx.emit('trustDecision', entry.ski, 'denied');
      return;
    }
    const service = this.ctx.visible(entry.ski);
    const monotonicNow = this.ctx.clock.now();
    const wallNow = this.ctx.clock.wallNow();
    const defaultTimeoutMs = this.ctx.pendingTimeoutMs;
    // A request that is still running (the device reconnected) keeps its start and expiry.
    const window =
      entry.pairingWindow !== undefined && entry.pairingWindow.expiresAtMs > monotonicNow
        ? entry.pairingWindow
        : { since: wallNow, expiresAtMs: monotonicNow + defaultTimeoutMs };
    entry.pairingWindow = window;
    const timeoutMs = window.expiresAtMs - monotonicNow;
    const pending: PendingPairing = {
      ski: entry.ski,
      remoteAddress: tracked.connection.remoteAddress,
      since: window.since,
      expiresAt: new Date(wallNow.getTime() + timeoutMs),
      ...(service?.record.brand !== undefined ? { brand: service.record.brand } : {}),
      ...(service?.record.model !== undefined ? { model: service.record.model } : {}),
      ...(service?.record.type !== undefined ? { deviceType: service.record.type } : {}),
      ...(service?.record.shipId !== undefined ? { shipId: service.record.shipId } : {}),
    };
    entry.pending?.timer.cancel();
    entry.pending = {
      ...pending,
      tracked,
      timer: this.ctx.clock.setTimer('pendingPairing', timeoutMs, () => {
        this.resolve(entry, 'expired');
      }),
    };
    this.ctx.setPairingState(entry, { state: 'receivedPairingRequest' });
    this.ctx.emit('pairingRequest', pending);
  }

  /** Ends a pending request; for `approved` the trust store holds the SKI already. */
  resolve(
    entry: PeerEntry,
    decision: 'approved' | 'denied' | 'expired',
    newlyTrusted = false,
  ): void {
    const pending = entry.pending;
    if (pending === undefined) return;
    pending.timer.cancel();
    entry.pending = undefined;
    entry.pairingWindow = undefined;
    if (decision === 'denied') this.ctx.denials.remember(entry.ski);
    this.ctx.emit('trustDecision', entry.ski, decision);
    if (decision === 'approved') {
      if (newlyTrusted) this.ctx.emit('trustChanged', entry.ski, true, 'approved');
      pending.tracked.connection.approve();
    } else {
      pending.tracked.endedByDecision = true;
      pending.tracked.connection.deny();
      // Every other session of the SKI ends with the request (there should be none: one per SKI).
      for (const t of entry.connections) {
        if (t === pending.tracked || t.ending) continue;
        t.ending = true;
        void t.connection.terminate(
          CloseCode.shipClose,
          'pairing denied',
          'SHIPHUB_ERR_TRUST_DENIED',
        );
      }
      this.ctx.setPairingState(entry, {
        state: 'none',
        reason: decision === 'expired' ? 'nobody decided in time' : 'denied',
      });
    }
  }
}
