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
 *
 * This file holds the provider: the bus connection, interfaces and the task queue; announcing is
 * in avahi-publish.ts, browsing and resolving in avahi-browse.ts.
 */
import { toSki } from '../ship/ski.js';
import { Backoff, type BackoffPolicy } from '../util/backoff.js';
import { SerialQueue } from '../util/serial-queue.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { AVAHI_IF_UNSPEC, AvahiBus, bodyNumber, bodyString, type SignalBody } from './avahi-bus.js';
import {
  identitySignature,
  systemInterfaceIndex,
  systemInterfaces,
  usableInterfaces,
  type InterfaceIndexSource,
  type InterfaceSource,
} from './interfaces.js';
import { AvahiBrowser } from './avahi-browse.js';
import { AvahiPublisher } from './avahi-publish.js';
import { componentLogger, type MdnsLogger } from './log.js';
import { ServiceTable } from './service-table.js';
import { buildShipTxt } from './txt.js';
import {
  type DiscoveredService,
  type MdnsAnnouncement,
  type MdnsProvider,
  type ServiceListener,
} from './types.js';
export { MAX_COLLISION_RENAMES } from './avahi-publish.js';
export { RESOLVE_RETRY_INITIAL_MS, RESOLVE_RETRY_MAX_MS } from './avahi-browse.js';

/** Bus reconnection: 1 s doubling up to 60 s. */
export const RECONNECT_INITIAL_MS = 1_000;
export const RECONNECT_MAX_MS = 60_000;
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
  private readonly browser: AvahiBrowser;
  private readonly interfaceNames = new Map<number, string>();

  private readonly publisher: AvahiPublisher;
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
    this.browser = new AvahiBrowser({
      bus: () => this.bus,
      interfaceIndexes: (bus) => this.interfaceIndexes(bus),
      interfaceName: (bus, index) => this.interfaceName(bus, index),
      table: this.table,
      logger: this.logger,
      clock: this.clock,
      isClosed: () => this.closed,
      restriction: this.restriction,
    });
    this.publisher = new AvahiPublisher({
      bus: () => this.bus,
      interfaceIndexes: (bus) => this.interfaceIndexes(bus),
      logger: this.logger,
      isClosed: () => this.closed,
      enqueue: (task) => this.enqueue(task),
      schedulePoll: () => this.schedulePoll(),
      restriction: this.restriction,
    });
    if (options.bus !== undefined) this.adoptBus(options.bus);
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('mdns provider is closed');
    if (this.browsing) return;
    this.browsing = true;
    try {
      await this.enqueue(async () => {
        const bus = await this.ensureBus();
        await this.browser.start(bus);
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
      this.publisher.set({
        instanceName: announcement.instanceName,
        port: announcement.port,
        txt,
      });
      const bus = await this.ensureBus();
      await this.publisher.publish(bus);
    });
    // (schedulePoll runs after the first successful publish)
  }

  unannounce(): Promise<void> {
    return this.enqueue(async () => {
      await this.publisher.withdraw();
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
      await this.publisher.withdraw();
      await this.browser.stop();
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
      if (this.browsing) await this.browser.start(bus);
      if (this.publisher.announced) await this.publisher.publish(bus);
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
        if (this.browsing) await this.browser.start(bus);
        if (this.publisher.announced) await this.publisher.publish(bus);
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
    this.publisher.forget();
    this.browser.forget();
    this.interfaceNames.clear();
    this.table.clear();
  }

  private onServerSignal(member: string, body: SignalBody): void {
    if (member !== 'StateChanged') return;
    const state = bodyNumber(body, 0);
    this.logger.debug({ state }, 'avahi: server state changed');
    const bus = this.bus;
    if (bus === undefined) return;
    this.publisher.onServerState(state, bus);
  }

  // ---- interfaces ----------------------------------------------------------------------------

  /** Avahi's indexes of the configured interfaces (AVAHI_IF_UNSPEC without restriction). */
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
              await this.browser.stop();
              await this.browser.start(bus);
            }
            if (this.publisher.announced) await this.publisher.publish(bus, true);
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
}
