/**
 * Browsing through Avahi (see avahi.ts): one ServiceBrowser per allowed interface (or
 * unrestricted), one ServiceResolver per (interface, protocol, name) item with the address
 * protocol of the item, so both IPv4 and IPv6 addresses arrive; results are merged per instance
 * by {@link ServiceTable}. A resolver Failure (peer gone silent) withdraws that address and
 * retries with backoff while the item exists.
 */
import { backoffDelayMs, type BackoffPolicy } from '../util/backoff.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import {
  AVAHI_PROTO_INET6,
  AVAHI_PROTO_UNSPEC,
  AVAHI_SERVICE_BROWSER_INTERFACE,
  AVAHI_SERVICE_RESOLVER_INTERFACE,
  bodyByteArrays,
  bodyNumber,
  bodyString,
  type SignalBody,
} from './avahi-bus.js';
import type { AvahiBusPort } from './avahi.js';
import type { MdnsLogger } from './log.js';
import type { ServiceTable } from './service-table.js';
import { SHIP_SERVICE_TYPE } from './types.js';

/** Resolver failure retries: 5 s doubling up to 5 min. */
export const RESOLVE_RETRY_INITIAL_MS = 5_000;
export const RESOLVE_RETRY_MAX_MS = 300_000;
const RESOLVE_RETRY_BACKOFF: BackoffPolicy = {
  kind: 'exponential',
  initialMs: RESOLVE_RETRY_INITIAL_MS,
  maxMs: RESOLVE_RETRY_MAX_MS,
};

/** What the browser needs of its provider: the bus of the moment, interfaces, the table. */
export interface AvahiBrowserContext {
  bus(): AvahiBusPort | undefined;
  interfaceIndexes(bus: AvahiBusPort): Promise<number[]>;
  interfaceName(bus: AvahiBusPort, index: number): Promise<string | undefined>;
  readonly table: ServiceTable;
  readonly logger: MdnsLogger;
  readonly clock: Clock;
  isClosed(): boolean;
  /** Configured interface names (for the log line); undefined = all. */
  readonly restriction: readonly string[] | undefined;
}

interface Item {
  key: string;
  iface: number;
  protocol: number;
  name: string;
  type: string;
  domain: string;
  resolverPath: string | undefined;
  retryTimer: TimerHandle | undefined;
  failures: number;
  alive: boolean;
}

function sourceKey(iface: number, protocol: number): string {
  return `${iface}/${protocol}`;
}

function instanceKey(name: string, domain: string): string {
  return domain === 'local' || domain === '' ? name : `${name}.${domain}`;
}

export class AvahiBrowser {
  private readonly browsers = new Set<string>();
  private readonly items = new Map<string, Item>();

  constructor(private readonly ctx: AvahiBrowserContext) {}

  /** The bus connection is gone (or Avahi restarted): every object path we held is void. */
  forget(): void {
    this.browsers.clear();
    for (const item of this.items.values()) {
      item.alive = false;
      item.retryTimer?.cancel();
    }
    this.items.clear();
  }

  /** Starts a ServiceBrowser per interface (once; the provider calls it only while browsing). */
  async start(bus: AvahiBusPort): Promise<void> {
    if (this.browsers.size > 0) return;
    const indexes = await this.ctx.interfaceIndexes(bus);
    try {
      for (const index of indexes) {
        const args = [index, AVAHI_PROTO_UNSPEC, SHIP_SERVICE_TYPE, '', 0];
        let path: string;
        let prepared = true;
        try {
          path = bodyString(await bus.server2('ServiceBrowserPrepare', 'iissu', args), 0);
        } catch {
          // avahi < 0.8 has no Prepare; signals that race ahead are buffered per path anyway.
          prepared = false;
          path = bodyString(await bus.server('ServiceBrowserNew', 'iissu', args), 0);
        }
        const browserPath = path;
        bus.subscribe(browserPath, (member, body) => this.onBrowserSignal(member, body));
        this.browsers.add(browserPath);
        if (prepared) await bus.call(browserPath, AVAHI_SERVICE_BROWSER_INTERFACE, 'Start');
      }
    } catch (error: unknown) {
      // All or nothing: a browser left behind (e.g. its Start timed out) would make the next
      // startBrowsers() (reconnect retry, start() again) return early and never browse.
      await this.stop();
      throw error;
    }
    this.ctx.logger.info(
      { interfaces: this.ctx.restriction ?? 'all' },
      'mdns: browsing for _ship._tcp (avahi)',
    );
  }

  /** Frees every browser and resolver and forgets what they found. */
  async stop(): Promise<void> {
    const bus = this.ctx.bus();
    const items = [...this.items.values()];
    this.items.clear();
    for (const item of items) {
      item.alive = false;
      item.retryTimer?.cancel();
      if (bus !== undefined && item.resolverPath !== undefined) {
        await this.freeResolver(bus, item.resolverPath);
      }
      this.ctx.table.forget(
        instanceKey(item.name, item.domain),
        sourceKey(item.iface, item.protocol),
      );
    }
    const browsers = [...this.browsers];
    this.browsers.clear();
    if (bus === undefined) return;
    for (const path of browsers) {
      bus.unsubscribe(path);
      await bus
        .call(path, AVAHI_SERVICE_BROWSER_INTERFACE, 'Free')
        .catch((error: unknown) =>
          this.ctx.logger.debug({ err: error }, 'avahi: browser Free failed'),
        );
    }
  }

  private onBrowserSignal(member: string, body: SignalBody): void {
    switch (member) {
      case 'ItemNew':
      case 'ItemRemove': {
        const iface = bodyNumber(body, 0);
        const protocol = bodyNumber(body, 1);
        const name = bodyString(body, 2);
        const type = bodyString(body, 3);
        const domain = bodyString(body, 4);
        const key = `${iface}/${protocol}/${domain}/${name}`;
        if (member === 'ItemNew') {
          if (this.items.has(key)) return;
          const item: Item = {
            key,
            iface,
            protocol,
            name,
            type,
            domain,
            resolverPath: undefined,
            retryTimer: undefined,
            failures: 0,
            alive: true,
          };
          this.items.set(key, item);
          this.resolve(item);
        } else {
          this.removeItem(key);
        }
        return;
      }
      case 'Failure':
        this.ctx.logger.warn({ error: body[0] }, 'avahi: service browser failed');
        return;
      default:
        return;
    }
  }

  private removeItem(key: string): void {
    const item = this.items.get(key);
    if (item === undefined) return;
    this.items.delete(key);
    item.alive = false;
    item.retryTimer?.cancel();
    const bus = this.ctx.bus();
    if (bus !== undefined && item.resolverPath !== undefined) {
      void this.freeResolver(bus, item.resolverPath);
    }
    this.ctx.table.forget(
      instanceKey(item.name, item.domain),
      sourceKey(item.iface, item.protocol),
    );
  }

  private resolve(item: Item): void {
    const bus = this.ctx.bus();
    if (bus === undefined || !item.alive) return;
    const args = [item.iface, item.protocol, item.name, item.type, item.domain, item.protocol, 0];
    void (async () => {
      let path: string;
      let prepared = true;
      try {
        path = bodyString(await bus.server2('ServiceResolverPrepare', 'iisssiu', args), 0);
      } catch {
        prepared = false;
        path = bodyString(await bus.server('ServiceResolverNew', 'iisssiu', args), 0);
      }
      if (!item.alive) {
        await this.freeResolver(bus, path);
        return;
      }
      item.resolverPath = path;
      bus.subscribe(path, (member, body) => this.onResolverSignal(item, path, member, body));
      if (prepared) await bus.call(path, AVAHI_SERVICE_RESOLVER_INTERFACE, 'Start');
    })().catch((error: unknown) => {
      this.ctx.logger.warn({ err: error, name: item.name }, 'avahi: cannot resolve service');
      // Start failed after Avahi created the resolver: free it, else every retry leaves one more
      // resolver (and subscription) behind until the bus connection ends.
      const path = item.resolverPath;
      if (path !== undefined) {
        item.resolverPath = undefined;
        void this.freeResolver(bus, path);
      }
      this.retryResolve(item);
    });
  }

  private onResolverSignal(item: Item, path: string, member: string, body: SignalBody): void {
    if (!item.alive || item.resolverPath !== path) return;
    const bus = this.ctx.bus();
    if (bus === undefined) return;
    if (member === 'Found') {
      const host = bodyString(body, 5);
      const aprotocol = bodyNumber(body, 6);
      const address = bodyString(body, 7);
      const port = bodyNumber(body, 8);
      const txt = bodyByteArrays(body, 9);
      item.failures = 0;
      void this.ctx.interfaceName(bus, item.iface).then((interfaceName) => {
        if (!item.alive || item.resolverPath !== path) return;
        const family = aprotocol === AVAHI_PROTO_INET6 ? 6 : 4;
        this.ctx.table.observe(
          instanceKey(item.name, item.domain),
          sourceKey(item.iface, item.protocol),
          {
            hostName: host,
            port,
            txt,
            addresses: [
              interfaceName === undefined
                ? { address, family }
                : { address, family, interfaceName },
            ],
          },
        );
      });
    } else if (member === 'Failure') {
      // Typically a timeout: the peer stopped answering; Avahi keeps the PTR for its TTL.
      this.ctx.logger.debug({ name: item.name, error: body[0] }, 'avahi: resolver failure');
      this.ctx.table.forget(
        instanceKey(item.name, item.domain),
        sourceKey(item.iface, item.protocol),
      );
      item.resolverPath = undefined;
      void this.freeResolver(bus, path);
      this.retryResolve(item);
    }
  }

  private retryResolve(item: Item): void {
    if (!item.alive || this.ctx.isClosed()) return;
    item.retryTimer?.cancel();
    item.failures += 1;
    const delay = backoffDelayMs(RESOLVE_RETRY_BACKOFF, item.failures);
    item.retryTimer = this.ctx.clock.setTimer('avahi-resolve-retry', delay, () => {
      item.retryTimer = undefined;
      this.resolve(item);
    });
  }

  private async freeResolver(bus: AvahiBusPort, path: string): Promise<void> {
    bus.unsubscribe(path);
    await bus
      .call(path, AVAHI_SERVICE_RESOLVER_INTERFACE, 'Free')
      .catch((error: unknown) =>
        this.ctx.logger.debug({ err: error }, 'avahi: resolver Free failed'),
      );
  }
}
