/**
 * Where the hub finds devices: the services mDNS shows (SHIP §7) and the static addresses of
 * trusted devices, and the reaction to a service appearing or going (dial a trusted device when
 * it appears, fall back to its static address when it goes).
 */
import type { DiscoveredService, ServiceEvent } from '../mdns/types.js';
import type { Ski } from '../ship/ski.js';
import type { Dialer } from './dialer.js';
import type { PeerRegistry } from './peer-registry.js';
import {
  mdnsRoute,
  staticPeerTable,
  staticRoute,
  type DialRoute,
  type StaticPeer,
} from './routes.js';
import type { HubTrustStore } from './trust-port.js';

export interface LocatorContext {
  readonly localSki: Ski;
  readonly peers: PeerRegistry;
  readonly trust: HubTrustStore;
  readonly staticPeers: readonly StaticPeer[] | undefined;
  /** The dialer, read when needed (it is built after the locator, with `route` from here). */
  dialer(): Dialer;
  servicesChanged(services: DiscoveredService[], event: ServiceEvent): void;
}

export class PeerLocator {
  private readonly visible = new Map<Ski, DiscoveredService>();
  /** The config's static peers: SKI → "host:port". */
  private readonly staticPeers: Map<Ski, string>;

  constructor(private readonly ctx: LocatorContext) {
    this.staticPeers = staticPeerTable(ctx.staticPeers);
  }

  /** The service mDNS shows for a SKI right now, if any. */
  service(ski: Ski): DiscoveredService | undefined {
    return this.visible.get(ski);
  }

  services(): DiscoveredService[] {
    return [...this.visible.values()];
  }

  onServiceEvent(event: ServiceEvent): void {
    const { service } = event;
    const { peers, trust } = this.ctx;
    if (event.type === 'down') {
      this.visible.delete(service.ski);
      const entry = peers.get(service.ski);
      // Pending attempts are cancelled when the SKI disappears (ship-go dev); a device with a
      // static address is dialled there instead.
      if (entry !== undefined) {
        entry.reconnectTimer?.cancel();
        entry.reconnectTimer = undefined;
        if (this.route(entry.ski) !== undefined) this.ctx.dialer().schedule(entry);
      }
    } else {
      this.visible.set(service.ski, service);
    }
    this.ctx.servicesChanged(this.services(), event);
    if (event.type !== 'down' && !service.own && service.ski !== this.ctx.localSki) {
      const entry =
        peers.get(service.ski) ?? (trust.has(service.ski) ? peers.entry(service.ski) : undefined);
      if (entry !== undefined) this.ctx.dialer().schedule(entry, { immediate: entry.queued });
    }
  }

  /**
   * Where to dial a device: its mDNS record while visible, else a static address (its trust
   * entry's, then the config's `peers`).
   */
  route(ski: Ski): DialRoute | undefined {
    const service = this.visible.get(ski);
    const fromMdns = service === undefined ? undefined : mdnsRoute(service);
    if (fromMdns !== undefined) return fromMdns;
    const address = this.ctx.trust.get(ski)?.address ?? this.staticPeers.get(ski);
    return address === undefined ? undefined : staticRoute(address);
  }

  /** Trusted devices with a static address are dialled at start, mDNS or not. */
  dialStaticPeers(): void {
    for (const { ski } of this.ctx.trust.list()) {
      if (this.visible.has(ski) || ski === this.ctx.localSki) continue;
      if (this.route(ski) !== undefined) {
        this.ctx.dialer().schedule(this.ctx.peers.entry(ski), { immediate: true });
      }
    }
  }
}
