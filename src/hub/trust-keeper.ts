/**
 * Changes of trust, in one place: the trust store (src/hub/trust-port.ts) holds who is trusted
 * and is written before the hub acts; this keeper then does what follows — answers a pending
 * request, dials a newly trusted device, disconnects an un-paired one — and reports it
 * (`trustChanged` with its cause).
 */
import { toSki, type Ski } from '../ship/ski.js';
import type { DiscoveredService } from '../mdns/types.js';
import type { Dialer } from './dialer.js';
import type { DenialList, PairingRequests } from './pairing.js';
import type { PeerEntry, PeerRegistry } from './peer-registry.js';
import type { HubTrustStore, TrustedDeviceDescription } from './trust-port.js';
import type { DeviceDescription, HubEmit, PairingStateUpdate, TrustChangeCause } from './types.js';

/** What trust changes need of the hub. */
export interface TrustKeeperContext {
  readonly trust: HubTrustStore;
  readonly peers: PeerRegistry;
  readonly denials: DenialList;
  readonly pairing: PairingRequests;
  readonly dialer: Dialer;
  readonly emit: HubEmit;
  visible(ski: Ski): DiscoveredService | undefined;
  setPairingState(entry: PeerEntry, update: PairingStateUpdate): void;
}

export class TrustKeeper {
  constructor(private readonly ctx: TrustKeeperContext) {}

  /**
   * Trusts a SKI (pairing by SKI, approving a request, or approving before the device is seen).
   * The trust store holds it durably before anything else happens: when it cannot be saved this
   * rejects (SHIPHUB_ERR_STORAGE from the file store), a request stays pending and nothing is
   * trusted that a restart would forget.
   */
  async register(skiText: string, info: DeviceDescription = {}): Promise<void> {
    const ski = toSki(skiText);
    const entry = this.ctx.peers.entry(ski);
    if (info.shipId !== undefined) entry.shipId = info.shipId;
    const newlyTrusted = !this.ctx.trust.has(ski);
    await this.ctx.trust.add({ ski, ...this.describe(ski, info) });
    this.ctx.denials.forget(ski);
    if (entry.pending) {
      // The decision is reported first, then the trust change (the seed's log order).
      this.ctx.pairing.resolve(entry, 'approved', newlyTrusted);
      return;
    }
    if (newlyTrusted) this.ctx.emit('trustChanged', ski, true, 'registered');
    if (entry.connections.size === 0 && entry.dial === undefined) {
      entry.queued = true;
      this.ctx.setPairingState(entry, { state: 'queued' });
      entry.reconnectTimer?.cancel();
      entry.reconnectTimer = undefined;
      this.ctx.dialer.schedule(entry, { immediate: true });
    }
  }

  /**
   * Removes trust: the trust store first (when that fails this rejects and nothing changed),
   * then the connections are closed (SHIP close) and pending state forgotten. Resolves to false
   * if the SKI was not trusted.
   */
  async unregister(skiText: string): Promise<boolean> {
    const ski = toSki(skiText);
    const wasTrusted = await this.ctx.trust.remove(ski);
    await this.untrusted(ski, wasTrusted ? 'unregistered' : undefined);
    return wasTrusted;
  }

  /**
   * The trust store was re-read (the daemon's SIGHUP after a person edited the file): devices
   * that came in are dialled when visible, those that went are disconnected.
   */
  async reloaded(changes: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
  }): Promise<void> {
    for (const text of changes.added) {
      const ski = toSki(text);
      const entry = this.ctx.peers.entry(ski);
      this.ctx.denials.forget(ski);
      this.ctx.emit('trustChanged', ski, true, 'reloaded');
      if (entry.pending) this.ctx.pairing.resolve(entry, 'approved', false);
      else this.ctx.dialer.schedule(entry, { immediate: true });
    }
    for (const text of changes.removed) await this.untrusted(toSki(text), 'reloaded');
  }

  /** What follows when a SKI is no longer trusted (the store holds it no more). */
  private async untrusted(ski: Ski, cause: TrustChangeCause | undefined): Promise<void> {
    if (cause !== undefined) this.ctx.emit('trustChanged', ski, false, cause);
    const entry = this.ctx.peers.get(ski);
    if (entry === undefined) return;
    entry.queued = false;
    entry.attempt = 0;
    this.ctx.dialer.cancel(entry);
    if (entry.pending) this.ctx.pairing.resolve(entry, 'denied');
    const closing = [...entry.connections].map((t) =>
      t.connection.close('removedConnection', 'un-paired'),
    );
    this.ctx.setPairingState(entry, { state: 'none' });
    await Promise.all(closing);
  }

  /**
   * What the trust store records of a device: given by a person, else from its pairing request
   * or its mDNS record; undefined fields leave what the store has.
   */
  describe(ski: Ski, info: DeviceDescription): Omit<TrustedDeviceDescription, 'ski'> {
    const pending = this.ctx.peers.get(ski)?.pending;
    const record = this.ctx.visible(ski)?.record;
    const brand = info.brand ?? pending?.brand ?? record?.brand;
    const model = info.model ?? pending?.model ?? record?.model;
    const deviceType = info.deviceType ?? pending?.deviceType ?? record?.type;
    return {
      ...(info.address !== undefined ? { address: info.address } : {}),
      ...(brand !== undefined ? { brand } : {}),
      ...(model !== undefined ? { model } : {}),
      ...(deviceType !== undefined ? { device_type: deviceType } : {}),
    };
  }

  /**
   * The auto-accept window let a device in (its hello was answered as trusted): it is paired
   * now. The trust store takes it at once; if that cannot be made durable the trust is undone
   * and the device disconnected, since a trust the store does not hold would vanish on restart.
   */
  autoAccepted(entry: PeerEntry): void {
    const ski = entry.ski;
    const saved = this.ctx.trust.add({ ski, ...this.describe(ski, {}) });
    this.ctx.emit('trustChanged', ski, true, 'auto_accepted');
    if (entry.pending === undefined) this.ctx.emit('trustDecision', ski, 'auto_accepted');
    saved.catch((error: unknown) => {
      this.ctx.emit('trustStoreError', error, ski);
      if (!this.ctx.trust.has(ski)) void this.untrusted(ski, 'rolled_back');
    });
  }
}
