/**
 * The builtin mDNS backend, used when there is no Avahi on the system bus:
 * - announce with @homebridge/ciao, always with an explicit interface list (ciao's own interface
 *   detection drops veth/container interfaces such as "eth0@if12") and IPv6 advertising on;
 * - browse with {@link DnsSdBrowser} over multicast-dns sockets, one IPv4 and one IPv6 socket per
 *   interface;
 * - poll the interface table (unref'd clock timer) and recreate sockets and the ciao responder when
 *   an interface comes back: ciao keeps failing with ENODEV on an interface re-created under the
 *   same name (see the mDNS lab report §3.4).
 *
 * ciao is imported only when the first announcement is published: its tslib helpers install
 * ~32 globals (`__awaiter`, `__extends`, ...), and importing this package must have no side
 * effects (issue 11; test/unit/package-import.test.ts checks it).
 */
import type { CiaoService, Responder } from '@homebridge/ciao';
import type { Answer, Question } from 'dns-packet';
import makeMdns from 'multicast-dns';
import type { RemoteInfo } from 'node:dgram';
import type { NetworkInterfaceInfo } from 'node:os';
import { toSki } from '../ship/ski.js';
import { SerialQueue } from '../util/serial-queue.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { DnsSdBrowser } from './dns-sd-browser.js';
import {
  attributeSource,
  fullSignature,
  identitySignature,
  systemInterfaceIndex,
  systemInterfaces,
  usableInterfaces,
  type InterfaceIndexSource,
  type InterfaceSource,
  type UsableInterface,
} from './interfaces.js';
import { componentLogger, type MdnsLogger } from './log.js';
import { ServiceTable } from './service-table.js';
import { buildShipTxt } from './txt.js';
import {
  SHIP_SERVICE_TYPE,
  type DiscoveredService,
  type MdnsAnnouncement,
  type MdnsProvider,
  type ServiceListener,
} from './types.js';

/** How often the interface table is polled (ciao polls every 15 s itself). */
export const INTERFACE_POLL_MS = 5_000;
/** ciao's advertise() never settles on some errors; we stop waiting after this long. */
export const ADVERTISE_TIMEOUT_MS = 15_000;
const MDNS_IPV6_GROUP = 'ff02::fb';

export interface BuiltinProviderOptions {
  /** Interface names (already validated); undefined = every non-internal interface. */
  interfaces?: readonly string[];
  logger?: MdnsLogger;
  clock?: Clock;
  /** Our SKI if known before announce(), so that our own service is flagged. */
  ownSki?: string;
  interfacePollMs?: number;
  /** Injectable for tests. */
  interfaceSource?: InterfaceSource;
  interfaceIndex?: InterfaceIndexSource;
}

interface Transport {
  interfaceName: string;
  family: 4 | 6;
  socket: makeMdns.MulticastDNS;
}

type CiaoTxt = Record<string, string>;

function txtForCiao(entries: readonly string[]): CiaoTxt {
  // ciao writes `key=value` in insertion order, so the wire order stays ship-go's.
  const txt: CiaoTxt = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    txt[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return txt;
}

/** mDNS over ciao (announce) and multicast-dns (browse). */
export class BuiltinMdnsProvider implements MdnsProvider {
  readonly name = 'builtin' as const;

  private readonly logger: MdnsLogger;
  private readonly clock: Clock;
  private readonly restriction: readonly string[] | undefined;
  private readonly pollMs: number;
  private readonly interfaceSource: InterfaceSource;
  private readonly interfaceIndex: InterfaceIndexSource;
  private readonly table: ServiceTable;
  private readonly browser: DnsSdBrowser;

  /** Last polled interface table; packet attribution reads this, not the OS, per packet. */
  private snapshot: NodeJS.Dict<NetworkInterfaceInfo[]> = {};
  private usable: UsableInterface[] = [];
  private transports: Transport[] = [];
  /** interface → signature (index + addresses) its sockets were opened for */
  private socketSignatures = new Map<string, string>();
  private responderSignature = '';
  private pollTimer: TimerHandle | undefined;

  private browsing = false;
  private closed = false;
  private responder: Responder | undefined;
  private service: CiaoService | undefined;
  private announcement: { instanceName: string; port: number; txt: string[] } | undefined;
  /** Serialises announce/unannounce/interface changes. */
  private readonly queue = new SerialQueue();

  constructor(options: BuiltinProviderOptions = {}) {
    this.logger = componentLogger(options.logger, 'mdns-builtin');
    this.clock = options.clock ?? systemClock;
    this.restriction = options.interfaces;
    this.pollMs = options.interfacePollMs ?? INTERFACE_POLL_MS;
    this.interfaceSource = options.interfaceSource ?? systemInterfaces;
    this.interfaceIndex = options.interfaceIndex ?? systemInterfaceIndex;
    const tableOptions: ConstructorParameters<typeof ServiceTable>[0] = {
      provider: 'builtin',
      logger: this.logger,
    };
    if (options.ownSki !== undefined) tableOptions.ownSki = toSki(options.ownSki);
    this.table = new ServiceTable(tableOptions);
    this.browser = new DnsSdBrowser({
      serviceType: `${SHIP_SERVICE_TYPE}.local`,
      clock: this.clock,
      table: this.table,
      logger: this.logger,
      send: (questions, knownAnswers) => this.sendQuery(questions, knownAnswers),
    });
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('mdns provider is closed');
    if (this.browsing) return;
    this.browsing = true;
    this.refreshInterfaces();
    this.syncTransports();
    this.browser.start();
    this.schedulePoll();
    this.logger.info(
      { interfaces: this.usable.map((i) => i.name) },
      'mdns: browsing for _ship._tcp (builtin)',
    );
    await Promise.resolve();
  }

  announce(announcement: MdnsAnnouncement): Promise<void> {
    // Validation (and its ConfigError) happens synchronously, before anything is queued.
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
      const next = { instanceName: announcement.instanceName, port: announcement.port, txt };
      const previous = this.announcement;
      this.announcement = next;
      this.schedulePoll();
      if (
        this.service !== undefined &&
        previous !== undefined &&
        previous.instanceName === next.instanceName &&
        previous.port === next.port
      ) {
        if (previous.txt.join('\n') !== next.txt.join('\n')) {
          this.service.updateTxt(txtForCiao(txt));
          this.logger.info({ txt }, 'mdns: TXT record updated');
        }
        return;
      }
      await this.withdrawService();
      await this.publish();
    });
  }

  unannounce(): Promise<void> {
    return this.enqueue(async () => {
      this.announcement = undefined;
      await this.withdrawService();
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
    this.pollTimer?.cancel();
    this.pollTimer = undefined;
    this.browser.stop();
    await this.enqueue(async () => {
      this.announcement = undefined;
      await this.withdrawService();
      await this.shutdownResponder();
    });
    await this.destroyTransports(this.transports);
    this.transports = [];
    this.table.clear();
  }

  // ---- announcing (ciao) -------------------------------------------------------------------

  private enqueue(task: () => Promise<void>): Promise<void> {
    return this.queue.run(task);
  }

  private async publish(): Promise<void> {
    const announcement = this.announcement;
    if (announcement === undefined || this.closed) return;
    this.refreshInterfaces();
    const names = this.usable.map((i) => i.name);
    if (names.length === 0) {
      // ciao with an empty interface list would pick interfaces on its own: never do that.
      this.logger.warn(
        { restriction: this.restriction },
        'mdns: no usable network interface; announcing once one appears',
      );
      return;
    }
    if (this.responder === undefined) {
      const { getResponder } = await import('@homebridge/ciao');
      this.responder = getResponder({ interface: names, advertiseIpv6: true });
      this.responderSignature = identitySignature(this.usable);
    }
    const service = this.responder.createService({
      name: announcement.instanceName,
      type: 'ship',
      port: announcement.port,
      txt: txtForCiao(announcement.txt),
    });
    service.on('name-change', (name: string) => {
      // SHIP §7.1: on a name conflict the node picks a new instance name; ciao did that.
      this.logger.warn(
        { requested: announcement.instanceName, name },
        'mdns: instance name conflict, renamed',
      );
    });
    this.service = service;
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.clock.setTimer('mdns-advertise-timeout', ADVERTISE_TIMEOUT_MS, () =>
        resolve('timeout'),
      );
    });
    try {
      const result = await Promise.race([service.advertise().then(() => 'ok' as const), timedOut]);
      if (result === 'timeout') {
        this.logger.warn(
          { instanceName: announcement.instanceName, timeoutMs: ADVERTISE_TIMEOUT_MS },
          'mdns: announcement not confirmed yet; ciao keeps trying',
        );
      } else {
        this.logger.info(
          {
            instanceName: announcement.instanceName,
            port: announcement.port,
            interfaces: names,
          },
          'mdns: announced _ship._tcp (builtin)',
        );
      }
    } finally {
      timer?.cancel();
    }
  }

  /** Sends goodbyes for our service (ciao `end`) and forgets it. */
  private async withdrawService(): Promise<void> {
    const service = this.service;
    this.service = undefined;
    if (service === undefined) return;
    try {
      await service.end();
      await service.destroy();
      this.logger.info({ instanceName: service.getFQDN() }, 'mdns: announcement withdrawn');
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'mdns: withdrawing the announcement failed');
    }
  }

  private async shutdownResponder(): Promise<void> {
    const responder = this.responder;
    this.responder = undefined;
    this.responderSignature = '';
    if (responder === undefined) return;
    try {
      await responder.shutdown();
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'mdns: ciao shutdown failed');
    }
  }

  // ---- interfaces ----------------------------------------------------------------------------

  private refreshInterfaces(): void {
    this.snapshot = this.interfaceSource();
    const snapshot = this.snapshot;
    this.usable = usableInterfaces(this.restriction, () => snapshot, this.interfaceIndex);
  }

  private schedulePoll(): void {
    if (this.closed || this.pollTimer !== undefined) return;
    this.pollTimer = this.clock.setTimer('mdns-interface-poll', this.pollMs, () => {
      this.pollTimer = undefined;
      this.poll();
      this.schedulePoll();
    });
  }

  private poll(): void {
    if (this.closed) return;
    this.refreshInterfaces();
    if (this.browsing) this.syncTransports();
    const identity = identitySignature(this.usable);
    const needsResponder = this.announcement !== undefined;
    const responderStale =
      this.responder !== undefined
        ? identity !== this.responderSignature
        : this.service === undefined;
    if (needsResponder && responderStale && this.usable.length > 0) {
      this.logger.info(
        { interfaces: this.usable.map((i) => i.name) },
        'mdns: interfaces changed, announcing again',
      );
      void this.enqueue(async () => {
        await this.withdrawService();
        await this.shutdownResponder();
        await this.publish();
      }).catch((error: unknown) => {
        this.logger.error({ err: error }, 'mdns: announcing again failed');
      });
    }
  }

  // ---- browsing (multicast-dns) -----------------------------------------------------------------

  private syncTransports(): void {
    const wanted = new Map(this.usable.map((i) => [i.name, fullSignature([i])]));
    const keep: Transport[] = [];
    const drop: Transport[] = [];
    for (const transport of this.transports) {
      const now = wanted.get(transport.interfaceName);
      if (now !== undefined && now === this.socketSignatures.get(transport.interfaceName)) {
        keep.push(transport);
      } else {
        drop.push(transport);
      }
    }
    for (const name of this.socketSignatures.keys()) {
      if (!wanted.has(name)) this.browser.forgetInterface(name);
    }
    void this.destroyTransports(drop);

    const created: Transport[] = [];
    for (const iface of this.usable) {
      if (this.socketSignatures.get(iface.name) === wanted.get(iface.name)) continue;
      const ipv4 = iface.ipv4[0];
      if (ipv4 !== undefined) {
        const socket = this.openSocket(iface.name, 4, { interface: ipv4.address, bind: '0.0.0.0' });
        if (socket !== undefined) created.push({ interfaceName: iface.name, family: 4, socket });
      }
      if (iface.ipv6.length > 0) {
        const socket = this.openSocket(iface.name, 6, {
          type: 'udp6',
          ip: MDNS_IPV6_GROUP,
          interface: `::%${iface.name}`,
        });
        if (socket !== undefined) created.push({ interfaceName: iface.name, family: 6, socket });
      }
    }
    this.socketSignatures = wanted;
    this.transports = [...keep, ...created];
    if (created.length > 0) {
      this.logger.debug(
        { sockets: created.map((t) => `${t.interfaceName}/IPv${t.family}`) },
        'mdns: sockets opened',
      );
      this.browser.restartQuerying();
    }
  }

  private openSocket(
    interfaceName: string,
    family: 4 | 6,
    options: makeMdns.Options,
  ): makeMdns.MulticastDNS | undefined {
    let socket: makeMdns.MulticastDNS;
    try {
      socket = makeMdns({ ...options, reuseAddr: true, loopback: true });
    } catch (error: unknown) {
      this.logger.warn({ err: error, interfaceName, family }, 'mdns: cannot open socket');
      return undefined;
    }
    const allowed = () => new Set(this.usable.map((i) => i.name));
    socket.on('response', (packet: makeMdns.ResponsePacket, rinfo: RemoteInfo) => {
      try {
        const snapshot = this.snapshot;
        const origin = attributeSource(rinfo.address, allowed(), interfaceName, () => snapshot);
        if (origin === undefined) return;
        this.browser.handleResponse(packet, { interfaceName: origin });
      } catch (error: unknown) {
        this.logger.warn({ err: error, from: rinfo.address }, 'mdns: bad response ignored');
      }
    });
    socket.on('error', (error: Error) => {
      this.logger.warn({ err: error, interfaceName, family }, 'mdns: socket error');
    });
    socket.on('warning', (error: Error) => {
      this.logger.debug({ err: error, interfaceName, family }, 'mdns: socket warning');
    });
    return socket;
  }

  private async destroyTransports(transports: readonly Transport[]): Promise<void> {
    await Promise.all(
      transports.map(
        (t) =>
          new Promise<void>((resolve) => {
            try {
              t.socket.destroy(() => resolve());
            } catch {
              resolve();
            }
          }),
      ),
    );
  }

  private sendQuery(
    questions: Question[],
    knownAnswers: (interfaceName: string) => Answer[],
  ): void {
    for (const transport of this.transports) {
      const answers = knownAnswers(transport.interfaceName);
      const packet: makeMdns.QueryOutgoingPacket = { questions };
      if (answers.length > 0) packet.answers = answers;
      transport.socket.query(packet, (error) => {
        if (error !== null) {
          this.logger.debug(
            { err: error, interfaceName: transport.interfaceName, family: transport.family },
            'mdns: query not sent',
          );
        }
      });
    }
  }
}
