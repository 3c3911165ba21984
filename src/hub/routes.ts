/**
 * Where the hub dials a device: its mDNS record when the device is visible (SHIP §7: the SRV
 * record carries the port, the TXT record the path), otherwise a static address an operator
 * gave for networks mDNS does not reach (VLANs, containers, routed subnets): in the device's
 * trust entry (`trust add SKI --address HOST:PORT`) or in the config's `peers` list.
 */
import type { DiscoveredService } from '../mdns/types.js';
import { toSki, type Ski } from '../ship/ski.js';
import { parseStaticAddress } from '../util/host-port.js';

export { parseStaticAddress };

/** One way to reach a device: addresses tried in order, one port, the WebSocket path. */
export interface DialRoute {
  readonly addresses: readonly string[];
  readonly port: number;
  readonly path?: string;
  /** TLS server name (SNI), when the device has a host name. */
  readonly servername?: string;
  /** Where the route came from (for logs). */
  readonly source: 'mdns' | 'static';
}

/** A device the hub dials at a fixed address (the config's `peers`). */
export interface StaticPeer {
  readonly ski: string;
  /** "host:port", "[ipv6]:port"; an optional path after the port ("host:4712/ship/"). */
  readonly address: string;
}

/** The route of an mDNS record (own services are never dialled). */
export function mdnsRoute(service: DiscoveredService): DialRoute | undefined {
  if (service.own) return undefined;
  return {
    addresses: service.addresses.map((a) => a.address),
    port: service.port,
    path: service.record.path,
    ...(service.hostName !== undefined ? { servername: service.hostName } : {}),
    source: 'mdns',
  };
}

/** The route of a static address (already validated; an invalid one gives no route). */
export function staticRoute(address: string): DialRoute | undefined {
  const parsed = parseStaticAddress(address);
  if (typeof parsed === 'string') return undefined;
  return {
    addresses: [parsed.host],
    port: parsed.port,
    ...(parsed.path !== undefined ? { path: parsed.path } : {}),
    source: 'static',
  };
}

/** The config's static peers by SKI (the last entry of an SKI wins). */
export function staticPeerTable(peers: readonly StaticPeer[] = []): Map<Ski, string> {
  const table = new Map<Ski, string>();
  for (const peer of peers) table.set(toSki(peer.ski), peer.address);
  return table;
}
