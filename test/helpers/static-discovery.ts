/**
 * mDNS stand-ins for tests that run on 127.0.0.1 without multicast: a service record for a node
 * at an address and port, and a discovery provider whose services the test controls.
 */
import type { DiscoveredService, MdnsProvider, ServiceListener } from '../../src/mdns/types.js';
import type { Ski } from '../../src/ship/ski.js';

/** The mDNS entry of a SHIP node, as the hub would see it after resolving. */
export function serviceAt(
  ski: Ski,
  port: number,
  extra: { address?: string; shipId?: string; brand?: string; model?: string; type?: string } = {},
): DiscoveredService {
  const shipId = extra.shipId ?? `node-${ski.slice(0, 6)}`;
  return {
    instanceName: shipId,
    port,
    addresses: [{ address: extra.address ?? '127.0.0.1', family: 4 }],
    record: {
      txtvers: 1,
      shipId,
      path: '/ship/',
      ski,
      announcedSki: ski,
      register: false,
      ...(extra.brand !== undefined ? { brand: extra.brand } : {}),
      ...(extra.model !== undefined ? { model: extra.model } : {}),
      ...(extra.type !== undefined ? { type: extra.type } : {}),
      extra: {},
    },
    ski,
    provider: 'builtin',
    own: false,
  };
}

/** A discovery provider that reports exactly the services the test adds. */
export class StaticDiscovery implements MdnsProvider {
  readonly name = 'builtin' as const;
  private readonly listeners = new Set<ServiceListener>();
  private readonly list: DiscoveredService[];

  constructor(services: DiscoveredService[] = []) {
    this.list = [...services];
  }

  start = (): Promise<void> => Promise.resolve();
  announce = (): Promise<void> => Promise.resolve();
  unannounce = (): Promise<void> => Promise.resolve();
  close = (): Promise<void> => Promise.resolve();
  services = (): DiscoveredService[] => [...this.list];

  onService(listener: ServiceListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adds a service and reports it as `up`. */
  add(service: DiscoveredService): void {
    this.list.push(service);
    for (const l of this.listeners) l({ type: 'up', service });
  }
}
