/**
 * The Avahi backend: announce and browse through the Avahi daemon on the D-Bus system bus, as
 * ship-go does first. Avahi then sends the right per-interface addresses, renames on conflicts,
 * sends goodbyes even if we crash (the D-Bus connection drops), and speaks IPv4 and IPv6.
 *
 * - Announce: one EntryGroup; one AddService per allowed interface index, or AVAHI_IF_UNSPEC
 *   without restriction; TXT as byte arrays, one per pair; UpdateServiceTxt for TXT changes.
 *   A COLLISION takes GetAlternativeServiceName and registers again (SHIP §7.1).
 * - Browse: one ServiceBrowser (per allowed interface, or unrestricted), one ServiceResolver per
 *   (interface, protocol, name) item with the address protocol of the item, so both IPv4 and IPv6
 *   addresses arrive; results are merged per instance by {@link ServiceTable}. A resolver Failure
 *   (peer gone silent) withdraws that address and retries with backoff while the item exists.
 * - Avahi restarts (NameOwnerChanged) and server state changes (REGISTERING/COLLISION → RUNNING)
 *   re-register and re-browse. A lost bus connection is retried with backoff.
 */
import { toSki } from '../ship/ski.js';
import { Backoff, backoffDelayMs, type BackoffPolicy } from '../util/backoff.js';
import { SerialQueue } from '../util/serial-queue.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import {
  AVAHI_ENTRY_GROUP_INTERFACE,
  AVAHI_IF_UNSPEC,
  AVAHI_PROTO_INET6,
  AVAHI_PROTO_UNSPEC,
  AVAHI_SERVICE_BROWSER_INTERFACE,
  AVAHI_SERVICE_RESOLVER_INTERFACE,
  AvahiBus,
  AvahiEntryGroupState,
  AvahiServerState,
  bodyByteArrays,
  bodyNumber,
  bodyString,
  type SignalBody,
} from './avahi-bus.js';
import {
  identitySignature,
  systemInterfaceIndex,
  systemInterfaces,
  usableInterfaces,
  type InterfaceIndexSource,
  type InterfaceSource,
} from './interfaces.js';
import { componentLogger, type MdnsLogger } from './log.js';
import { ServiceTable } from './service-table.js';
import { buildShipTxt, txtToBuffers } from './txt.js';
import {
  SHIP_SERVICE_TYPE,
  type DiscoveredService,
  type MdnsAnnouncement,
  type MdnsProvider,
  type ServiceListener,
} from './types.js';

/** Renames after collisions before we give up (a name war on the link). */
export const MAX_COLLISION_RENAMES = 32;
/** Resolver failure retries: 5 s doubling up to 5 min. */
export const RESOLVE_RETRY_INITIAL_MS = 5_000;
export const RESOLVE_RETRY_MAX_MS = 300_000;
/** Bus reconnection: 1 s doubling up to 60 s. */
export const RECONNECT_INITIAL_MS = 1_000;
export const RECONNECT_MAX_MS = 60_000;
const RESOLVE_RETRY_BACKOFF: BackoffPolicy = {
  kind: 'exponential',
  initialMs: RESOLVE_RETRY_INITIAL_MS,
  maxMs: RESOLVE_RETRY_MAX_MS,
};
const RECONNECT_BACKOFF: BackoffPolicy = {
  kind: 'exponential',
  initialMs: RECONNECT_INITIAL_MS,
  maxMs: RECONNECT_MAX_MS,
};
/** Interface restriction: how often we look for interfaces re-created under their name. */
export const AVAHI_INTERFACE_POLL_MS = 5_000;

/**
 * The part of {@link AvahiBus} the provider uses. A port so that unit tests can drive the
 * provider with a fake bus (no daemon, no D-Bus); AvahiBus satisfies it as it is.
 */
export type AvahiBusPort = Pick<
  AvahiBus,
  | 'version'
  | 'isClosed'
  | 'call'
  | 'server'
  | 'server2'
  | 'subscribe'
  | 'unsubscribe'
  | 'resetSubscriptions'
  | 'onOwnerChanged'
  | 'onDisconnect'
  | 'close'
>;

export interface AvahiProviderOptions {
  /** An already connected client (from provider auto-selection); else connect in start(). */
  bus?: AvahiBusPort;
  /**
   * How to (re)connect when there is no usable bus; default AvahiBus.connect on the system bus.
   * Tests pass a fake so the reconnect path runs without D-Bus.
   */
  connect?: () => Promise<AvahiBusPort>;
  /** Interface names (validated); undefined = every interface Avahi uses. */
  interfaces?: readonly string[];
  logger?: MdnsLogger;
  clock?: Clock;
  ownSki?: string;
  interfacePollMs?: number;
  interfaceSource?: InterfaceSource;
  interfaceIndex?: InterfaceIndexSource;
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

interface Group {
  path: string;
  interfaceIndexes: number[];
  state: number;
  name: string;
  port: number;
  txt: string[];
}

function sourceKey(iface: number, protocol: number): string {
  return `${iface}/${protocol}`;
}

function instanceKey(name: string, domain: string): string {
  return domain === 'local' || domain === '' ? name : `${name}.${domain}`;
}

export class AvahiMdnsProvider implements MdnsProvider {
  readonly name = 'avahi' as const;

  private readonly logger: MdnsLogger;
  private readonly clock: Clock;
  private readonly restriction: readonly string[] | undefined;
  private readonly table: ServiceTable;
  private readonly pollMs: number;
  private readonly interfaceSource: InterfaceSource;
  private readonly interfaceIndex: InterfaceIndexSource;

  private readonly connectBus: () => Promise<AvahiBusPort>;
  private bus: AvahiBusPort | undefined;
  private connecting: Promise<AvahiBusPort> | undefined;
  private readonly reconnect: Backoff;
  private pollTimer: TimerHandle | undefined;
  private interfaceIdentity = '';
  private closed = false;

  private browsing = false;
  private readonly browsers = new Set<string>();
  private readonly items = new Map<string, Item>();
  private readonly interfaceNames = new Map<number, string>();

  private announcement: { instanceName: string; port: number; txt: string[] } | undefined;
  private currentName: string | undefined;
  private renames = 0;
  private group: Group | undefined;
  private readonly queue = new SerialQueue();

  constructor(options: AvahiProviderOptions = {}) {
    this.logger = componentLogger(options.logger, 'mdns-avahi');
    this.clock = options.clock ?? systemClock;
    this.reconnect = new Backoff({
      clock: this.clock,
      name: 'avahi-reconnect',
      policy: RECONNECT_BACKOFF,
    });
    this.restriction =
      options.interfaces !== undefined && options.interfaces.length > 0
        ? options.interfaces
        : undefined;
    this.pollMs = options.interfacePollMs ?? AVAHI_INTERFACE_POLL_MS;
    this.interfaceSource = options.interfaceSource ?? systemInterfaces;
    this.interfaceIndex = options.interfaceIndex ?? systemInterfaceIndex;
    this.connectBus =
      options.connect ?? (() => AvahiBus.connect({ clock: this.clock, logger: this.logger }));
    const tableOptions: ConstructorParameters<typeof ServiceTable>[0] = {
      provider: 'avahi',
      logger: this.logger,
    };
    if (options.ownSki !== undefined) tableOptions.ownSki = toSki(options.ownSki);
    this.table = new ServiceTable(tableOptions);
    if (options.bus !== undefined) this.adoptBus(options.bus);
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('mdns provider is closed');
    if (this.browsing) return;
    this.browsing = true;
    try {
      await this.enqueue(async () => {
        const bus = await this.ensureBus();
        await this.startBrowsers(bus);
      });
    } catch (error: unknown) {
      // Not browsing after all: else a later start() would return at once and never browse.
      this.browsing = false;
      throw error;
    }
    this.schedulePoll();
  }

  announce(announcement: MdnsAnnouncement): Promise<void> {
    const txt = buildShipTxt(announcement.txt);
    if (
      !Number.isInteger(announcement.port) ||
      announcement.port < 1 ||
      announcement.port > 65535
    ) {
      return Promise.reject(new RangeError(`mdns: port ${announcement.port} is not a TCP port`));
    }
    if (this.closed) return Promise.reject(new Error('mdns provider is closed'));
    this.table.setOwnSki(toSki(announcement.txt.ski));
    return this.enqueue(async () => {
      const previous = this.announcement;
      this.announcement = { instanceName: announcement.instanceName, port: announcement.port, txt };
      if (previous?.instanceName !== announcement.instanceName) {
        this.currentName = announcement.instanceName;
        this.renames = 0;
      }
      const bus = await this.ensureBus();
      await this.publish(bus);
    });
    // (schedulePoll runs after the first successful publish)
  }

  unannounce(): Promise<void> {
    return this.enqueue(async () => {
      this.announcement = undefined;
      await this.freeGroup();
    });
  }

  onService(listener: ServiceListener): () => void {
    return this.table.onService(listener);
  }

  services(): DiscoveredService[] {
    return this.table.services();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconnect.cancel();
    this.pollTimer?.cancel();
    await this.enqueue(async () => {
      this.announcement = undefined;
      await this.freeGroup();
      await this.stopBrowsers();
    });
    this.bus?.close();
    this.bus = undefined;
    this.table.clear();
  }

  // ---- connection ----------------------------------------------------------------------------

  private enqueue(task: () => Promise<void>): Promise<void> {
    return this.queue.run(task);
  }

  private async ensureBus(): Promise<AvahiBusPort> {
    if (this.bus !== undefined && !this.bus.isClosed) return this.bus;
    this.connecting ??= this.connectBus().finally(() => {
      this.connecting = undefined;
    });
    const bus = await this.connecting;
    this.adoptBus(bus);
    this.logger.info({ version: bus.version }, 'avahi: connected');
    return bus;
  }

  private adoptBus(bus: AvahiBusPort): void {
    if (this.bus === bus) return;
    this.bus = bus;
    this.reconnect.reset();
    bus.subscribe('/', (member, body) => this.onServerSignal(member, body));
    bus.onOwnerChanged((owner) => this.onAvahiOwner(owner));
    bus.onDisconnect(() => this.onBusLost(bus));
  }

  /** Avahi left or came back on the bus (restart, crash, package upgrade). */
  private onAvahiOwner(owner: string): void {
    const bus = this.bus;
    if (bus === undefined || this.closed) return;
    this.forgetAvahiObjects(bus);
    if (owner === '') {
      this.logger.warn('avahi: daemon left the bus; waiting for it to return');
      return;
    }
    this.logger.info({ owner }, 'avahi: daemon (re)started, registering again');
    void this.enqueue(async () => {
      if (this.browsing) await this.startBrowsers(bus);
      if (this.announcement !== undefined) await this.publish(bus);
    }).catch((error: unknown) => {
      this.logger.error({ err: error }, 'avahi: registering again failed');
    });
  }

  private onBusLost(bus: AvahiBusPort): void {
    if (this.bus !== bus || this.closed) return;
    this.forgetAvahiObjects(bus);
    this.bus = undefined;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect.pending) return;
    const delayMs = this.reconnect.schedule(() => {
      void this.enqueue(async () => {
        if (this.closed) return;
        const bus = await this.ensureBus();
        if (this.browsing) await this.startBrowsers(bus);
        if (this.announcement !== undefined) await this.publish(bus);
      }).catch((error: unknown) => {
        this.logger.warn({ err: error }, 'avahi: reconnect failed');
        this.scheduleReconnect();
      });
    });
    this.logger.warn({ delayMs }, 'avahi: reconnecting to the system bus');
  }

  /** Every Avahi object path we held is void now. */
  private forgetAvahiObjects(bus: AvahiBusPort): void {
    bus.resetSubscriptions(['/']);
    this.group = undefined;
    this.browsers.clear();
    for (const item of this.items.values()) {
      item.alive = false;
      item.retryTimer?.cancel();
    }
    this.items.clear();
    this.interfaceNames.clear();
    this.table.clear();
  }

  private onServerSignal(member: string, body: SignalBody): void {
    if (member !== 'StateChanged') return;
    const state = bodyNumber(body, 0);
    this.logger.debug({ state }, 'avahi: server state changed');
    const bus = this.bus;
    if (bus === undefined) return;
    if (state === AvahiServerState.COLLISION || state === AvahiServerState.REGISTERING) {
      // Avahi's rule: reset entry groups while the host name is (re)registered.
      const group = this.group;
      if (group !== undefined) {
        group.state = AvahiEntryGroupState.UNCOMMITED;
        void bus
          .call(group.path, AVAHI_ENTRY_GROUP_INTERFACE, 'Reset')
          .catch((error: unknown) => this.logger.debug({ err: error }, 'avahi: Reset failed'));
      }
    } else if (state === AvahiServerState.RUNNING) {
      const group = this.group;
      const registered =
        group !== undefined &&
        (group.state === AvahiEntryGroupState.REGISTERING ||
          group.state === AvahiEntryGroupState.ESTABLISHED);
      if (this.announcement !== undefined && !registered) {
        void this.enqueue(() => this.publish(bus)).catch((error: unknown) =>
          this.logger.error({ err: error }, 'avahi: registering again failed'),
        );
      }
    }
  }

  // ---- interfaces ----------------------------------------------------------------------------

  private async interfaceIndexes(bus: AvahiBusPort): Promise<number[]> {
    if (this.restriction === undefined) return [AVAHI_IF_UNSPEC];
    const indexes: number[] = [];
    for (const name of this.restriction) {
      try {
        const reply = await bus.server('GetNetworkInterfaceIndexByName', 's', [name]);
        const index = bodyNumber(reply, 0);
        indexes.push(index);
        this.interfaceNames.set(index, name);
      } catch (error: unknown) {
        this.logger.warn({ err: error, interfaceName: name }, 'avahi: interface not available now');
      }
    }
    return indexes;
  }

  private async interfaceName(bus: AvahiBusPort, index: number): Promise<string | undefined> {
    const known = this.interfaceNames.get(index);
    if (known !== undefined) return known;
    try {
      const reply = await bus.server('GetNetworkInterfaceNameByIndex', 'i', [index]);
      const name = bodyString(reply, 0);
      this.interfaceNames.set(index, name);
      return name;
    } catch {
      return undefined;
    }
  }

  /** With an interface restriction: notice interfaces re-created under their name. */
  private schedulePoll(): void {
    if (this.closed || this.restriction === undefined || this.pollTimer !== undefined) return;
    if (this.interfaceIdentity === '') this.interfaceIdentity = this.currentIdentity();
    this.pollTimer = this.clock.setTimer('avahi-interface-poll', this.pollMs, () => {
      this.pollTimer = undefined;
      const identity = this.currentIdentity();
      if (identity !== this.interfaceIdentity) {
        this.interfaceIdentity = identity;
        this.logger.info({ interfaces: identity }, 'avahi: interfaces changed, registering again');
        const bus = this.bus;
        if (bus !== undefined) {
          void this.enqueue(async () => {
            this.interfaceNames.clear();
            if (this.browsing) {
              await this.stopBrowsers();
              await this.startBrowsers(bus);
            }
            if (this.announcement !== undefined) await this.publish(bus, true);
          }).catch((error: unknown) =>
            this.logger.error({ err: error }, 'avahi: registering again failed'),
          );
        }
      }
      this.schedulePoll();
    });
  }

  private currentIdentity(): string {
    return identitySignature(
      usableInterfaces(this.restriction, this.interfaceSource, this.interfaceIndex),
    );
  }

  // ---- announcing ----------------------------------------------------------------------------

  private async publish(bus: AvahiBusPort, force = false): Promise<void> {
    const announcement = this.announcement;
    if (announcement === undefined || this.closed) return;
    const name = this.currentName ?? announcement.instanceName;
    const indexes = await this.interfaceIndexes(bus);
    if (indexes.length === 0) {
      this.logger.warn(
        { interfaces: this.restriction },
        'avahi: none of the configured interfaces exists; announcing once one appears',
      );
      await this.freeGroup();
      this.schedulePoll();
      return;
    }
    const txt = txtToBuffers(announcement.txt);
    const group = this.group;
    if (
      !force &&
      group !== undefined &&
      group.name === name &&
      group.port === announcement.port &&
      group.interfaceIndexes.join(',') === indexes.join(',') &&
      (group.state === AvahiEntryGroupState.REGISTERING ||
        group.state === AvahiEntryGroupState.ESTABLISHED)
    ) {
      if (group.txt.join('\n') === announcement.txt.join('\n')) return;
      for (const index of indexes) {
        await bus.call(group.path, AVAHI_ENTRY_GROUP_INTERFACE, 'UpdateServiceTxt', 'iiusssaay', [
          index,
          AVAHI_PROTO_UNSPEC,
          0,
          name,
          SHIP_SERVICE_TYPE,
          '',
          txt,
        ]);
      }
      group.txt = announcement.txt;
      this.logger.info({ txt: announcement.txt }, 'avahi: TXT record updated');
      return;
    }

    let path = group?.path;
    if (path === undefined) {
      path = bodyString(await bus.server('EntryGroupNew'), 0);
      const groupPath = path;
      bus.subscribe(groupPath, (member, body) => this.onGroupSignal(groupPath, member, body));
    } else {
      await bus.call(path, AVAHI_ENTRY_GROUP_INTERFACE, 'Reset');
    }
    this.group = {
      path,
      interfaceIndexes: indexes,
      state: AvahiEntryGroupState.UNCOMMITED,
      name,
      port: announcement.port,
      txt: announcement.txt,
    };
    for (const index of indexes) {
      await bus.call(path, AVAHI_ENTRY_GROUP_INTERFACE, 'AddService', 'iiussssqaay', [
        index,
        AVAHI_PROTO_UNSPEC,
        0,
        name,
        SHIP_SERVICE_TYPE,
        '',
        '',
        announcement.port,
        txt,
      ]);
    }
    await bus.call(path, AVAHI_ENTRY_GROUP_INTERFACE, 'Commit');
    if (this.group.state === AvahiEntryGroupState.UNCOMMITED) {
      this.group.state = AvahiEntryGroupState.REGISTERING;
    }
    this.logger.debug({ name, port: announcement.port, indexes }, 'avahi: entry group committed');
    this.schedulePoll();
  }

  private onGroupSignal(path: string, member: string, body: SignalBody): void {
    if (member !== 'StateChanged') return;
    const group = this.group;
    if (group?.path !== path) return;
    const state = bodyNumber(body, 0);
    const error = typeof body[1] === 'string' ? body[1] : '';
    group.state = state;
    const bus = this.bus;
    switch (state) {
      case AvahiEntryGroupState.ESTABLISHED:
        this.logger.info(
          { instanceName: group.name, port: group.port },
          'mdns: announced _ship._tcp (avahi)',
        );
        return;
      case AvahiEntryGroupState.COLLISION: {
        if (bus === undefined) return;
        if (this.renames >= MAX_COLLISION_RENAMES) {
          this.logger.error({ name: group.name }, 'avahi: too many name collisions, giving up');
          return;
        }
        this.renames += 1;
        void this.enqueue(async () => {
          const alternative = bodyString(
            await bus.server('GetAlternativeServiceName', 's', [group.name]),
            0,
          );
          // SHIP §7.1: on a name conflict the node picks a new instance name.
          this.logger.warn(
            { previous: group.name, name: alternative },
            'mdns: instance name conflict, renamed',
          );
          this.currentName = alternative;
          await this.publish(bus, true);
        }).catch((err: unknown) => this.logger.error({ err }, 'avahi: rename failed'));
        return;
      }
      case AvahiEntryGroupState.FAILURE:
        this.logger.error({ error, name: group.name }, 'avahi: announcing failed');
        return;
      default:
        return;
    }
  }

  private async freeGroup(): Promise<void> {
    const group = this.group;
    this.group = undefined;
    const bus = this.bus;
    if (group === undefined || bus === undefined) return;
    bus.unsubscribe(group.path);
    try {
      // Freeing the group makes Avahi send the goodbye packets.
      await bus.call(group.path, AVAHI_ENTRY_GROUP_INTERFACE, 'Free');
      this.logger.info({ instanceName: group.name }, 'mdns: announcement withdrawn');
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'avahi: freeing the entry group failed');
    }
  }

  // ---- browsing ------------------------------------------------------------------------------

  private async startBrowsers(bus: AvahiBusPort): Promise<void> {
    if (!this.browsing || this.browsers.size > 0) return;
    const indexes = await this.interfaceIndexes(bus);
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
      await this.stopBrowsers();
      throw error;
    }
    this.logger.info(
      { interfaces: this.restriction ?? 'all' },
      'mdns: browsing for _ship._tcp (avahi)',
    );
  }

  private async stopBrowsers(): Promise<void> {
    const bus = this.bus;
    const items = [...this.items.values()];
    this.items.clear();
    for (const item of items) {
      item.alive = false;
      item.retryTimer?.cancel();
      if (bus !== undefined && item.resolverPath !== undefined) {
        await this.freeResolver(bus, item.resolverPath);
      }
      this.table.forget(instanceKey(item.name, item.domain), sourceKey(item.iface, item.protocol));
    }
    const browsers = [...this.browsers];
    this.browsers.clear();
    if (bus === undefined) return;
    for (const path of browsers) {
      bus.unsubscribe(path);
      await bus
        .call(path, AVAHI_SERVICE_BROWSER_INTERFACE, 'Free')
        .catch((error: unknown) => this.logger.debug({ err: error }, 'avahi: browser Free failed'));
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
        this.logger.warn({ error: body[0] }, 'avahi: service browser failed');
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
    const bus = this.bus;
    if (bus !== undefined && item.resolverPath !== undefined) {
      void this.freeResolver(bus, item.resolverPath);
    }
    this.table.forget(instanceKey(item.name, item.domain), sourceKey(item.iface, item.protocol));
  }

  private resolve(item: Item): void {
    const bus = this.bus;
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
      this.logger.warn({ err: error, name: item.name }, 'avahi: cannot resolve service');
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
    const bus = this.bus;
    if (bus === undefined) return;
    if (member === 'Found') {
      const host = bodyString(body, 5);
      const aprotocol = bodyNumber(body, 6);
      const address = bodyString(body, 7);
      const port = bodyNumber(body, 8);
      const txt = bodyByteArrays(body, 9);
      item.failures = 0;
      void this.interfaceName(bus, item.iface).then((interfaceName) => {
        if (!item.alive || item.resolverPath !== path) return;
        const family = aprotocol === AVAHI_PROTO_INET6 ? 6 : 4;
        this.table.observe(
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
      this.logger.debug({ name: item.name, error: body[0] }, 'avahi: resolver failure');
      this.table.forget(instanceKey(item.name, item.domain), sourceKey(item.iface, item.protocol));
      item.resolverPath = undefined;
      void this.freeResolver(bus, path);
      this.retryResolve(item);
    }
  }

  private retryResolve(item: Item): void {
    if (!item.alive || this.closed) return;
    item.retryTimer?.cancel();
    item.failures += 1;
    const delay = backoffDelayMs(RESOLVE_RETRY_BACKOFF, item.failures);
    item.retryTimer = this.clock.setTimer('avahi-resolve-retry', delay, () => {
      item.retryTimer = undefined;
      this.resolve(item);
    });
  }

  private async freeResolver(bus: AvahiBusPort, path: string): Promise<void> {
    bus.unsubscribe(path);
    await bus
      .call(path, AVAHI_SERVICE_RESOLVER_INTERFACE, 'Free')
      .catch((error: unknown) => this.logger.debug({ err: error }, 'avahi: resolver Free failed'));
  }
}
