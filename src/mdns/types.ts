/**
 * The discovery port (house style: one interface, several adapters, after HAP-NodeJS's
 * Advertiser). The hub only sees {@link MdnsProvider}; `avahi.ts` and `builtin.ts` implement it.
 */
import type { Ski } from '../ship/ski.js';
import type { ShipTxtInfo, ShipTxtRecord } from './txt.js';

/** DNS-SD service type of SHIP (SHIP §7.1). */
export const SHIP_SERVICE_TYPE = '_ship._tcp';
/** SHIP §7: "2 minutes" record TTL (what ship-go's zeroconf provider announces). */
export const SHIP_RECORD_TTL_S = 120;

export type MdnsProviderName = 'avahi' | 'builtin';

/** What we announce. `announce()` again with changed TXT updates the record in place. */
export interface MdnsAnnouncement {
  /** DNS-SD instance name (free text, usually the SHIP ID); renamed on conflict (SHIP §7.1). */
  instanceName: string;
  /** TCP port of our SHIP WebSocket server (the SRV record carries it). */
  port: number;
  txt: ShipTxtInfo;
}

/** One usable address of a discovered service. */
export interface DiscoveredAddress {
  /** IPv4 dotted quad, or IPv6; IPv6 link-local always carries its zone ("fe80::1%eth0"). */
  address: string;
  family: 4 | 6;
  /** Interface the address was learned on, when known. */
  interfaceName?: string;
}

/** A SHIP service seen on the network, merged over all interfaces and address families. */
export interface DiscoveredService {
  /** DNS-SD instance name, unescaped. */
  instanceName: string;
  /** SRV target without the trailing dot ("wallbox-00015609.local"). */
  hostName?: string;
  port: number;
  /** IPv4 first, then IPv6 global, then IPv6 link-local (only with a zone "%ifname"). */
  addresses: DiscoveredAddress[];
  record: ShipTxtRecord;
  ski: Ski;
  provider: MdnsProviderName;
  /** Our own announcement (same SKI as ours): reported, but the hub must never dial it. */
  own: boolean;
}

export type ServiceEventType = 'up' | 'update' | 'down';

export interface ServiceEvent {
  type: ServiceEventType;
  service: DiscoveredService;
}

export type ServiceListener = (event: ServiceEvent) => void;

/** The discovery port. Every method is safe to call more than once. */
export interface MdnsProvider {
  readonly name: MdnsProviderName;
  /** Starts browsing for `_ship._tcp`. */
  start(): Promise<void>;
  /**
   * Announces us, or updates the announcement (e.g. register=true during an auto-accept window).
   * Throws a ConfigError for a TXT record that cannot be announced.
   */
  announce(announcement: MdnsAnnouncement): Promise<void>;
  /** Withdraws the announcement (goodbye packets, TTL 0). */
  unannounce(): Promise<void>;
  /** Subscribes to service events; returns the unsubscribe function. */
  onService(listener: ServiceListener): () => void;
  /** The SHIP services visible now (own announcement included, flagged `own`). */
  services(): DiscoveredService[];
  /** Unannounces, stops browsing, releases sockets and D-Bus connections. */
  close(): Promise<void>;
}
