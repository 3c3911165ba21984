/**
 * Merges what an mDNS backend observes (one observation per interface and protocol for Avahi, one
 * per instance for the builtin browser) into one {@link DiscoveredService} per instance name, and
 * turns changes into up/update/down events. Shared by both backends; no I/O.
 *
 * SHIP interop notes (protocol doc §11 items 13, 14): Avahi reports one event per address, so
 * they are merged; records without a valid SHIP TXT are ignored; IPv6 link-local addresses
 * without a zone cannot be dialled and are dropped.
 */
import type { Ski } from '../ship/ski.js';
import { silentLogger, type MdnsLogger } from './log.js';
import { parseShipTxt } from './txt.js';
import type {
  DiscoveredAddress,
  DiscoveredService,
  MdnsProviderName,
  ServiceListener,
} from './types.js';

/** What one source (interface/protocol, or the whole cache) says about an instance. */
export interface ServiceObservation {
  /** SRV target, with or without the trailing dot. */
  hostName?: string;
  port: number;
  txt: readonly Uint8Array[] | readonly string[];
  addresses: readonly DiscoveredAddress[];
}

/** Upper bound on instances we track; more is a broken or hostile network. */
export const MAX_TRACKED_SERVICES = 512;

interface Source {
  observation: ServiceObservation;
  seq: number;
}

interface Instance {
  sources: Map<string, Source>;
  visible: { service: DiscoveredService; signature: string } | undefined;
  lastInvalidReason: string | undefined;
}

const IPV6_LINK_LOCAL = /^fe[89ab][0-9a-f]:/i;

/** True for fe80::/10. */
export function isIpv6LinkLocal(address: string): boolean {
  return IPV6_LINK_LOCAL.test(address);
}

/**
 * Returns the dialable form of an address: IPv6 link-local gets the zone of `interfaceName`
 * (unless it has one); a link-local address without any zone gives undefined.
 */
export function dialableAddress(address: DiscoveredAddress): DiscoveredAddress | undefined {
  if (address.family === 4) return address;
  if (!isIpv6LinkLocal(address.address)) return address;
  if (address.address.includes('%')) return address;
  if (address.interfaceName === undefined || address.interfaceName.length === 0) return undefined;
  return { ...address, address: `${address.address}%${address.interfaceName}` };
}

function addressRank(address: DiscoveredAddress): number {
  if (address.family === 4) return 0;
  return isIpv6LinkLocal(address.address) ? 2 : 1;
}

/** IPv4 first, then global IPv6, then link-local IPv6 with zone; duplicates removed. */
export function orderAddresses(addresses: Iterable<DiscoveredAddress>): DiscoveredAddress[] {
  const byAddress = new Map<string, DiscoveredAddress>();
  for (const candidate of addresses) {
    const usable = dialableAddress(candidate);
    if (usable !== undefined && !byAddress.has(usable.address)) {
      byAddress.set(usable.address, usable);
    }
  }
  return [...byAddress.values()].sort(
    (a, b) =>
      addressRank(a) - addressRank(b) ||
      (a.address < b.address ? -1 : a.address > b.address ? 1 : 0),
  );
}

export interface ServiceTableOptions {
  provider: MdnsProviderName;
  logger?: MdnsLogger;
  ownSki?: Ski;
  maxServices?: number;
}

export class ServiceTable {
  private readonly instances = new Map<string, Instance>();
  private readonly listeners = new Set<ServiceListener>();
  private readonly logger: MdnsLogger;
  private readonly maxServices: number;
  private ownSki: Ski | undefined;
  private seq = 0;
  private warnedFull = false;

  constructor(private readonly options: ServiceTableOptions) {
    this.logger = options.logger ?? silentLogger;
    this.maxServices = options.maxServices ?? MAX_TRACKED_SERVICES;
    this.ownSki = options.ownSki;
  }

  /** Our SKI, so that our own announcement is flagged `own` (and never dialled). */
  setOwnSki(ski: Ski | undefined): void {
    if (ski === this.ownSki) return;
    this.ownSki = ski;
    for (const name of [...this.instances.keys()]) this.refresh(name);
  }

  onService(listener: ServiceListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  services(): DiscoveredService[] {
    const out: DiscoveredService[] = [];
    for (const instance of this.instances.values()) {
      if (instance.visible !== undefined) out.push(instance.visible.service);
    }
    return out.sort((a, b) => (a.instanceName < b.instanceName ? -1 : 1));
  }

  /** Records what `source` currently says about `instanceName`. */
  observe(instanceName: string, source: string, observation: ServiceObservation): void {
    let instance = this.instances.get(instanceName);
    if (instance === undefined) {
      if (this.instances.size >= this.maxServices) {
        if (!this.warnedFull) {
          this.warnedFull = true;
          this.logger.warn(
            { instanceName, limit: this.maxServices },
            'mdns: too many services on the network, ignoring new ones',
          );
        }
        return;
      }
      instance = { sources: new Map(), visible: undefined, lastInvalidReason: undefined };
      this.instances.set(instanceName, instance);
    }
    instance.sources.set(source, { observation, seq: ++this.seq });
    this.refresh(instanceName);
  }

  /** `source` no longer sees `instanceName` (removal, goodbye, resolver failure). */
  forget(instanceName: string, source: string): void {
    const instance = this.instances.get(instanceName);
    if (instance === undefined || !instance.sources.delete(source)) return;
    this.refresh(instanceName);
  }

  /** Forgets everything, emitting `down` for every visible service. */
  clear(): void {
    for (const name of [...this.instances.keys()]) {
      const instance = this.instances.get(name);
      if (instance !== undefined) instance.sources.clear();
      this.refresh(name);
    }
  }

  private refresh(instanceName: string): void {
    const instance = this.instances.get(instanceName);
    if (instance === undefined) return;
    const next = this.merge(instanceName, instance);
    const previous = instance.visible;
    if (instance.sources.size === 0) this.instances.delete(instanceName);

    if (next === undefined) {
      if (previous !== undefined) {
        instance.visible = undefined;
        this.emit('down', previous.service);
      }
      return;
    }
    const signature = JSON.stringify(next);
    if (previous === undefined) {
      instance.visible = { service: next, signature };
      this.emit('up', next);
    } else if (previous.signature !== signature) {
      instance.visible = { service: next, signature };
      this.emit('update', next);
    }
  }

  private merge(instanceName: string, instance: Instance): DiscoveredService | undefined {
    if (instance.sources.size === 0) return undefined;
    const newestFirst = [...instance.sources.values()].sort((a, b) => b.seq - a.seq);
    const newest = newestFirst[0];
    if (newest === undefined) return undefined;

    const parsed = parseShipTxt(newest.observation.txt);
    if (!parsed.ok) {
      if (instance.lastInvalidReason !== parsed.reason) {
        instance.lastInvalidReason = parsed.reason;
        this.logger.debug(
          { instanceName, reason: parsed.reason },
          'mdns: ignoring service with an invalid SHIP TXT record',
        );
      }
      return undefined;
    }
    instance.lastInvalidReason = undefined;

    const addresses = orderAddresses(newestFirst.flatMap((source) => source.observation.addresses));
    if (addresses.length === 0) return undefined;

    const service: DiscoveredService = {
      instanceName,
      port: newest.observation.port,
      addresses,
      record: parsed.record,
      ski: parsed.record.ski,
      provider: this.options.provider,
      own: this.ownSki !== undefined && parsed.record.ski === this.ownSki,
    };
    const host = newest.observation.hostName?.replace(/\.$/, '');
    if (host !== undefined && host.length > 0) service.hostName = host;
    return service;
  }

  private emit(type: 'up' | 'update' | 'down', service: DiscoveredService): void {
    this.logger.debug(
      {
        event: type,
        instanceName: service.instanceName,
        ski: service.ski,
        own: service.own,
        addresses: service.addresses.map((a) => a.address),
        port: service.port,
      },
      `mdns: service ${type}`,
    );
    for (const listener of [...this.listeners]) {
      try {
        listener({ type, service });
      } catch (error: unknown) {
        this.logger.error({ err: error }, 'mdns: service listener threw');
      }
    }
  }
}
