/**
 * The hub's peer registry: one entry per SKI the hub holds state for (trusted, connecting,
 * pending, or recently seen), with its open connections. Bounded: an unknown SKI with nothing
 * open is kept only among the most recent `maxIdleUnknown`.
 */
import type { Ski } from '../ship/ski.js';
import type { ShipConnection } from '../transport/ship-connection.js';
import type { TimerHandle } from '../util/clock.js';
import type { Direction } from './policy.js';
import type {
  ConnectionSummary,
  DeviceDataHandler,
  PairingState,
  PendingPairing,
  RemoteDevice,
} from './types.js';

export interface Tracked {
  readonly connection: ShipConnection;
  readonly direction: Direction;
  /** Being closed by this hub (evicted or replaced): no longer counts against any budget. */
  ending: boolean;
  /**
   * Ended by a pairing decision (denied, expired, or refused during a denial cool-down): its
   * close was reported as that decision, not as a device failure.
   */
  endedByDecision: boolean;
  handler: DeviceDataHandler | undefined;
  device: RemoteDevice | undefined;
}

export interface PeerEntry {
  readonly ski: Ski;
  /** Approved by a person before it was seen: dialled at once when visible. */
  queued: boolean;
  shipId: string | undefined;
  readonly connections: Set<Tracked>;
  active: Tracked | undefined;
  dial: AbortController | undefined;
  reconnectTimer: TimerHandle | undefined;
  attempt: number;
  pairingState: PairingState;
  pending: (PendingPairing & { timer: TimerHandle; tracked: Tracked }) | undefined;
  /**
   * When the device first asked and when its request expires: kept while any of its connections
   * is open, so reconnecting does not restart the pairing timeout.
   */
  pairingWindow: { since: Date; expiresAtMs: number } | undefined;
}

export class PeerRegistry {
  readonly #peers = new Map<Ski, PeerEntry>();
  /** Unknown SKIs with nothing open; Set order = least recently active first. */
  readonly #idleUnknown = new Set<Ski>();

  /**
   * @param isTrusted the trust store's view (the registry keeps no trust of its own)
   * @param maxIdleUnknown unknown SKIs remembered after their connections closed
   */
  constructor(
    private readonly isTrusted: (ski: Ski) => boolean,
    private readonly maxIdleUnknown: number,
  ) {}

  get(ski: Ski): PeerEntry | undefined {
    return this.#peers.get(ski);
  }

  /** The entry of `ski`, created when missing. */
  entry(ski: Ski): PeerEntry {
    let entry = this.#peers.get(ski);
    if (entry === undefined) {
      entry = {
        ski,
        queued: false,
        shipId: undefined,
        connections: new Set(),
        active: undefined,
        dial: undefined,
        reconnectTimer: undefined,
        attempt: 0,
        pairingState: 'none',
        pending: undefined,
        pairingWindow: undefined,
      };
      this.#peers.set(ski, entry);
    }
    return entry;
  }

  values(): IterableIterator<PeerEntry> {
    return this.#peers.values();
  }

  /** How many SKIs the registry holds (bounded; for tests and diagnostics). */
  get size(): number {
    return this.#peers.size;
  }

  /** A connection of `ski` was tracked: it is not idle any more. */
  touched(ski: Ski): void {
    this.#idleUnknown.delete(ski);
  }

  /** Every open connection, for views (`connections` of the admin API). */
  summaries(nowMs: number): ConnectionSummary[] {
    const result: ConnectionSummary[] = [];
    for (const entry of this.#peers.values()) {
      for (const t of entry.connections) {
        result.push({
          ski: entry.ski,
          direction: t.direction,
          remoteAddress: t.connection.remoteAddress,
          state: t.connection.subState,
          shipId: t.connection.remoteShipId ?? entry.shipId,
          connectedForMs: nowMs - t.connection.openedAt,
        });
      }
    }
    return result;
  }

  /** Connections that are open (any phase). */
  openConnectionCount(): number {
    let count = 0;
    for (const entry of this.#peers.values()) count += entry.connections.size;
    return count;
  }

  /** Open connections not being closed by the hub. */
  liveConnectionCount(): number {
    let count = 0;
    for (const entry of this.#peers.values()) {
      for (const t of entry.connections) if (!t.ending) count++;
    }
    return count;
  }

  /** Open connections of SKIs that are not trusted, not being closed by the hub. */
  untrustedConnectionCount(): number {
    let count = 0;
    for (const entry of this.#peers.values()) {
      if (this.isTrusted(entry.ski)) continue;
      for (const t of entry.connections) if (!t.ending) count++;
    }
    return count;
  }

  /** The untrusted connection open longest (evicted first), optionally not of `except`. */
  oldestUntrusted(except?: PeerEntry): Tracked | undefined {
    let oldest: Tracked | undefined;
    for (const entry of this.#peers.values()) {
      if (entry === except || this.isTrusted(entry.ski)) continue;
      for (const t of entry.connections) {
        if (t.ending) continue;
        if (oldest === undefined || t.connection.openedAt < oldest.connection.openedAt) oldest = t;
      }
    }
    return oldest;
  }

  /**
   * Keeps the table bounded: an unknown SKI with nothing open, pending or planned is kept (for
   * its pairing state) among the most recent maxIdleUnknown and forgotten after.
   */
  forgetIfIdle(entry: PeerEntry | undefined): void {
    if (entry === undefined || !isIdle(entry) || this.isTrusted(entry.ski)) return;
    this.#idleUnknown.delete(entry.ski);
    this.#idleUnknown.add(entry.ski);
    for (const ski of this.#idleUnknown) {
      if (this.#idleUnknown.size <= this.maxIdleUnknown) break;
      this.#idleUnknown.delete(ski);
      const stale = this.#peers.get(ski);
      // Re-checked: it may have become active or trusted since it was marked idle.
      if (stale !== undefined && isIdle(stale) && !this.isTrusted(ski)) this.#peers.delete(ski);
    }
  }
}

function isIdle(entry: PeerEntry): boolean {
  return (
    !entry.queued &&
    entry.connections.size === 0 &&
    entry.dial === undefined &&
    entry.reconnectTimer === undefined &&
    entry.pending === undefined
  );
}
