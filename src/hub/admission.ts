/**
 * Who gets in. Before any TLS work: the connection limit and new TCP connections per remote
 * address per minute (a table bounded without resetting anybody's limit). After TLS, when the
 * SKI is known: the pinned key, one session per unknown SKI, the double-connection rule for
 * paired devices (SHIP §12.2.2) and the budgets — unknown devices share maxPendingPairings and
 * give way (oldest first) to newer ones and to paired devices, so they can never lock a paired
 * device out.
 */
import type { Logger } from 'pino';
import { CloseCode, CloseReasonText } from '../ship/close-codes.js';
import type { Ski } from '../ship/ski.js';
import type { Clock } from '../util/clock.js';
import type { PeerEntry, PeerRegistry, Tracked } from './peer-registry.js';
import { decideDoubleConnection, type DoubleConnectionRule } from './policy.js';
import type { IdentifiedPeer, PeerDecision } from './transport.js';
import type { HubTrustStore } from './trust-port.js';
import type { HubOptions } from './types.js';

export const DEFAULT_PER_ADDRESS_PER_MINUTE = 120;
export const DEFAULT_MAX_RATE_LIMITED_ADDRESSES = 4_096;
const RATE_WINDOW_MS = 60_000;

export class AddressRateLimiter {
  /** Connection times per remote address in the last minute; Map order = least recently seen first. */
  readonly #recent = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number = DEFAULT_PER_ADDRESS_PER_MINUTE,
    private readonly maxAddresses: number = DEFAULT_MAX_RATE_LIMITED_ADDRESSES,
  ) {}

  /** Records a connection at `nowMs`; the refusal reason when the address is over its limit. */
  admit(remoteAddress: string, nowMs: number): string | undefined {
    const recent = (this.#recent.get(remoteAddress) ?? []).filter(
      (t) => nowMs - t < RATE_WINDOW_MS,
    );
    // Delete and set again: Map order stays least recently seen first.
    this.#recent.delete(remoteAddress);
    if (recent.length >= this.perMinute) {
      this.#recent.set(remoteAddress, recent);
      return `more than ${this.perMinute} connections per minute from ${remoteAddress}`;
    }
    recent.push(nowMs);
    this.#recent.set(remoteAddress, recent);
    this.bound();
    return undefined;
  }

  /** How many remote addresses are remembered (bounded). */
  get size(): number {
    return this.#recent.size;
  }

  /**
   * The table is in order of last connection, so the addresses forgotten first are those silent
   * the longest (after a minute they carry no information anyway). Only an attacker with more
   * fresh addresses than the bound can push out a fresh record, and then only the least recent.
   */
  private bound(): void {
    for (const address of this.#recent.keys()) {
      if (this.#recent.size <= this.maxAddresses) return;
      this.#recent.delete(address);
    }
  }
}

/** What admission needs of the hub. */
export interface AdmissionContext {
  readonly peers: PeerRegistry;
  readonly trust: HubTrustStore;
  readonly rateLimiter: AddressRateLimiter;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly rule: DoubleConnectionRule;
  readonly localSki: Ski;
  readonly maxConnections: number;
  readonly maxPendingPairings: number;
  readonly sme: HubOptions['sme'];
  isStopping(): boolean;
  autoAcceptOpen(): boolean;
}

export class Admission {
  constructor(private readonly ctx: AdmissionContext) {}

  /** Before TLS: the connection limit (unless an unknown device can make room) and the rate. */
  admit(remoteAddress: string): string | undefined {
    if (this.ctx.isStopping()) return 'the hub is stopping';
    // max_connections holds before any TLS work is spent, unless an untrusted connection could
    // make room: who is connecting is known only after TLS (decideIncoming evicts then).
    if (
      this.ctx.peers.liveConnectionCount() >= this.ctx.maxConnections &&
      this.ctx.peers.oldestUntrusted() === undefined
    ) {
      return `connection limit reached (${this.ctx.maxConnections})`;
    }
    return this.ctx.rateLimiter.admit(remoteAddress, this.ctx.clock.now());
  }

  /** Why a connection presenting `keySha256` is not the paired device, if it is not. */
  keyMismatch(entry: PeerEntry, keySha256: string | undefined): string | undefined {
    const pinned = this.ctx.trust.get(entry.ski)?.public_key_sha256;
    if (pinned === undefined || keySha256 === undefined) return undefined;
    if (keySha256 === pinned) return undefined;
    return (
      `the peer holds SKI ${entry.ski} but not the key that was paired with it ` +
      `(key SHA-256 ${keySha256.slice(0, 16)}…, paired ${pinned.slice(0, 16)}…)`
    );
  }

  private evict(tracked: Tracked, why: string): void {
    tracked.ending = true;
    this.ctx.logger?.debug(
      { peerSki: tracked.connection.remoteSki, why },
      'untrusted connection evicted',
    );
    void tracked.connection.terminate(
      CloseCode.shipClose,
      `${CloseReasonText.shipClose}: ${why}`,
      'SHIPHUB_ERR_CONNECTION_LIMIT',
    );
  }

  /** After TLS, when the SKI is known: accept (trusted or pending) or refuse, making room. */
  decide(peer: IdentifiedPeer): PeerDecision {
    if (this.ctx.isStopping()) {
      return { accept: false, reason: 'the hub is stopping', code: 'SHIPHUB_ERR_CLOSED' };
    }
    const entry = this.ctx.peers.entry(peer.ski);
    const keyRefusal = this.keyMismatch(entry, peer.keySha256);
    // Checked before the double-connection rule: an impostor must not displace the device.
    if (keyRefusal !== undefined) {
      return { accept: false, reason: keyRefusal, code: 'SHIPHUB_ERR_SKI_MISMATCH' };
    }
    const trustEntry = this.ctx.trust.get(peer.ski);
    if (peer.legacySki && trustEntry !== undefined && trustEntry.public_key_sha256 === undefined) {
      this.ctx.logger?.warn(
        { peerSki: peer.ski },
        'a legacy certificate connects for a paired SKI without a pinned key: its key is pinned now',
      );
    }
    const trusted = trustEntry !== undefined || this.ctx.autoAcceptOpen();
    if (!trusted && entry.connections.size > 0) {
      // One session per unknown SKI: the newest replaces the others (a device whose old
      // connection died silently gets in at once; copies cannot hide outside `pairing list`).
      // Double-connection rules are for paired devices (SHIP §12.2.2).
      this.dropOthers(entry, undefined, CloseReasonText.replacedByNewer);
    } else if (entry.connections.size > 0 || entry.dial !== undefined) {
      const decision = decideDoubleConnection(
        this.ctx.rule,
        this.ctx.localSki,
        peer.ski,
        'inbound',
      );
      if (decision === 'rejectNew') {
        return {
          accept: false,
          closeCode: CloseCode.doubleConnection,
          reason: CloseReasonText.doubleConnection,
          code: 'SHIPHUB_ERR_DOUBLE_CONNECTION',
        };
      }
      if (decision === 'keepNew') this.dropOthers(entry, undefined);
    }
    // Budgets: trusted devices always get in while untrusted connections can make room; unknown
    // devices share maxPendingPairings, the oldest giving way to the newest.
    if (this.ctx.peers.liveConnectionCount() >= this.ctx.maxConnections) {
      const victim = this.ctx.peers.oldestUntrusted(entry);
      if (victim === undefined) {
        return { accept: false, reason: `connection limit reached (${this.ctx.maxConnections})` };
      }
      this.evict(victim, `connection limit (${this.ctx.maxConnections}) reached`);
    }
    if (!trusted && this.ctx.peers.untrustedConnectionCount() >= this.ctx.maxPendingPairings) {
      const victim = this.ctx.peers.oldestUntrusted(entry);
      if (victim !== undefined) {
        this.evict(victim, `more than ${this.ctx.maxPendingPairings} unknown devices connected`);
      } else {
        return { accept: false, reason: `pending pairing limit (${this.ctx.maxPendingPairings})` };
      }
    }
    return {
      accept: true,
      sme: {
        ...this.ctx.sme,
        initialTrust: trusted ? 'trusted' : 'pending',
        ...(entry.shipId !== undefined ? { expectedShipId: entry.shipId } : {}),
      },
    };
  }

  /** Closes every connection of `entry` except `keep`, and aborts an in-flight dial. */
  dropOthers(
    entry: PeerEntry,
    keep: Tracked | undefined,
    why: string = CloseReasonText.doubleConnection,
  ): void {
    if (keep === undefined || keep.direction === 'inbound') {
      entry.dial?.abort();
      entry.dial = undefined;
    }
    for (const t of entry.connections) {
      if (t === keep) continue;
      t.ending = true;
      void t.connection.terminate(CloseCode.doubleConnection, why, 'SHIPHUB_ERR_DOUBLE_CONNECTION');
    }
  }
}
