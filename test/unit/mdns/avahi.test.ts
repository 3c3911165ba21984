/**
 * AvahiMdnsProvider against a fake Avahi bus: every D-Bus call the provider makes is recorded with
 * its arguments and answered by the fake (or made to fail), and the fake emits the signals Avahi
 * would (entry group / server state, browser items, resolver results, owner change, disconnect).
 * Time only moves when the test advances the FakeClock; no daemon, no D-Bus, no sockets.
 *
 * The real daemon is exercised by test/integration/mdns-avahi.test.ts (root only).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import {
  AVAHI_ENTRY_GROUP_INTERFACE,
  AVAHI_IF_UNSPEC,
  AVAHI_PROTO_INET,
  AVAHI_PROTO_INET6,
  AVAHI_PROTO_UNSPEC,
  AVAHI_SERVER2_INTERFACE,
  AVAHI_SERVER_INTERFACE,
  AVAHI_SERVICE_BROWSER_INTERFACE,
  AVAHI_SERVICE_RESOLVER_INTERFACE,
  AvahiEntryGroupState,
  AvahiServerState,
  type SignalBody,
  type SignalHandler,
} from '../../../src/mdns/avahi-bus.js';
import {
  AVAHI_INTERFACE_POLL_MS,
  AvahiMdnsProvider,
  MAX_COLLISION_RENAMES,
  RECONNECT_INITIAL_MS,
  RECONNECT_MAX_MS,
  RESOLVE_RETRY_INITIAL_MS,
  RESOLVE_RETRY_MAX_MS,
  type AvahiBusPort,
  type AvahiProviderOptions,
} from '../../../src/mdns/avahi.js';
import type { MdnsLogger } from '../../../src/mdns/log.js';
import { buildShipTxt, type ShipTxtInfo } from '../../../src/mdns/txt.js';
import type { MdnsAnnouncement, ServiceEvent } from '../../../src/mdns/types.js';
import { FakeClock } from './fake-clock.js';

const SHIP = '_ship._tcp';
const PEER_SKI = 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f';
const OWN_SKI = '264165830e89a16e5b7fc5737f550dab8991b785';

const OWN_INFO: ShipTxtInfo = {
  shipId: 'HUB-0001',
  ski: OWN_SKI,
  brand: 'ship-hub',
  model: 'unit',
  type: 'EnergyManagementSystem',
  register: false,
};
const ANNOUNCEMENT: MdnsAnnouncement = { instanceName: 'HUB-0001', port: 4712, txt: OWN_INFO };

/** A peer's TXT record as Avahi delivers it (aay: one byte array per key=value). */
function peerTxt(ski = PEER_SKI): Buffer[] {
  return buildShipTxt({
    shipId: 'peer',
    ski,
    brand: 'peer',
    model: 'peer',
    type: 'HeatPump',
    register: true,
  }).map((entry) => Buffer.from(entry));
}

function bytes(info: ShipTxtInfo): Buffer[] {
  return buildShipTxt(info).map((entry) => Buffer.from(entry));
}

/** ServiceBrowser.ItemNew / ItemRemove body: interface, protocol, name, type, domain, flags. */
function item(iface: number, protocol: number, name = 'peer', domain = 'local'): unknown[] {
  return [iface, protocol, name, SHIP, domain, 0];
}

/** ServiceResolver.Found body (avahi-daemon's signature iissssisqaayu). */
function found(
  iface: number,
  protocol: number,
  address: string,
  options: { name?: string; domain?: string; txt?: Buffer[]; port?: number } = {},
): unknown[] {
  return [
    iface,
    protocol,
    options.name ?? 'peer',
    SHIP,
    options.domain ?? 'local',
    'peer-host.local',
    address.includes(':') ? AVAHI_PROTO_INET6 : AVAHI_PROTO_INET,
    address,
    options.port ?? 4711,
    options.txt ?? peerTxt(),
    0,
  ];
}

interface Call {
  path: string;
  iface: string;
  member: string;
  signature: string;
  body: unknown[];
  reply?: SignalBody;
}

type Responder = (call: Call) => SignalBody | Promise<SignalBody>;

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The slice of AvahiBus the provider uses, answering like avahi-daemon 0.8. */
class FakeAvahiBus implements AvahiBusPort {
  version = '0.8';
  closeCount = 0;
  readonly calls: Call[] = [];
  readonly handlers = new Map<string, SignalHandler>();
  /** Per-member overrides of the default answers (to fail or hold a call). */
  readonly responders = new Map<string, Responder>();
  /** What GetNetworkInterfaceIndexByName knows (names missing here are an error). */
  readonly interfaceIndexes = new Map<string, number>([
    ['eth0', 2],
    ['wlan0', 3],
  ]);
  private readonly ownerListeners = new Set<(owner: string) => void>();
  private readonly disconnectListeners = new Set<(error: unknown) => void>();
  private closed = false;
  private nextObject = 1;

  get isClosed(): boolean {
    return this.closed;
  }

  call(
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
  ): Promise<SignalBody> {
    const call: Call = { path, iface, member, signature, body };
    this.calls.push(call);
    // Always asynchronous, like a D-Bus round trip (a throwing answer is a rejection).
    return Promise.resolve().then(async () => {
      if (this.closed) throw new Error('D-Bus connection is closed');
      const responder = this.responders.get(member);
      const reply = responder !== undefined ? await responder(call) : this.answer(call);
      call.reply = reply;
      return reply;
    });
  }

  server(member: string, signature = '', body: unknown[] = []): Promise<SignalBody> {
    return this.call('/', AVAHI_SERVER_INTERFACE, member, signature, body);
  }

  server2(member: string, signature = '', body: unknown[] = []): Promise<SignalBody> {
    return this.call('/', AVAHI_SERVER2_INTERFACE, member, signature, body);
  }

  subscribe(path: string, handler: SignalHandler): void {
    this.handlers.set(path, handler);
  }

  unsubscribe(path: string): void {
    this.handlers.delete(path);
  }

  resetSubscriptions(keep: readonly string[] = []): void {
    for (const path of [...this.handlers.keys()]) {
      if (!keep.includes(path)) this.handlers.delete(path);
    }
  }

  onOwnerChanged(listener: (owner: string) => void): () => void {
    this.ownerListeners.add(listener);
    return () => this.ownerListeners.delete(listener);
  }

  onDisconnect(listener: (error: unknown) => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  close(): void {
    this.closeCount += 1;
    this.closed = true;
  }

  // ---- test controls ----

  /** Avahi emits `member` on `path`; fails the test when nobody subscribed that path. */
  signal(path: string, member: string, body: unknown[]): void {
    const handler = this.handlers.get(path);
    assert.ok(handler !== undefined, `no subscription for ${path}`);
    handler(member, body);
  }

  ownerChanged(owner: string): void {
    for (const listener of [...this.ownerListeners]) listener(owner);
  }

  dropConnection(): void {
    this.closed = true;
    for (const listener of [...this.disconnectListeners]) listener(new Error('socket closed'));
  }

  members(): string[] {
    return this.calls.map((call) => call.member);
  }

  callsOf(member: string): Call[] {
    return this.calls.filter((call) => call.member === member);
  }

  only(member: string): Call {
    const calls = this.callsOf(member);
    assert.equal(calls.length, 1, `one ${member} call expected, got ${calls.length}`);
    return calls[0]!;
  }

  /** The object path the last `member` call answered with (EntryGroupNew, *Prepare, *New). */
  lastPath(member: string): string {
    const reply = this.callsOf(member).at(-1)?.reply;
    assert.ok(reply !== undefined, `no answered ${member} call`);
    return reply[0] as string;
  }

  forget(): void {
    this.calls.length = 0;
  }

  private answer(call: Call): SignalBody {
    switch (call.member) {
      case 'EntryGroupNew':
        return [`/Client1/EntryGroup${this.nextObject++}`];
      case 'ServiceBrowserPrepare':
      case 'ServiceBrowserNew':
        return [`/Client1/ServiceBrowser${this.nextObject++}`];
      case 'ServiceResolverPrepare':
      case 'ServiceResolverNew':
        return [`/Client1/ServiceResolver${this.nextObject++}`];
      case 'GetAlternativeServiceName': {
        // avahi_alternative_service_name: "x" → "x #2" → "x #3"
        const name = call.body[0] as string;
        const match = / #(\d+)$/.exec(name);
        return match === null
          ? [`${name} #2`]
          : [`${name.slice(0, match.index)} #${Number(match[1]) + 1}`];
      }
      case 'GetNetworkInterfaceIndexByName': {
        const index = this.interfaceIndexes.get(call.body[0] as string);
        if (index === undefined) throw new Error('org.freedesktop.Avahi.OSError');
        return [index];
      }
      case 'GetNetworkInterfaceNameByIndex': {
        for (const [name, index] of this.interfaceIndexes) {
          if (index === call.body[0]) return [name];
        }
        throw new Error('org.freedesktop.Avahi.OSError');
      }
      default:
        return [];
    }
  }
}

interface LogLine {
  level: string;
  msg: string;
}

function recordingLogger(lines: LogLine[]): MdnsLogger {
  const at =
    (level: string) =>
    (first: unknown, second?: unknown): void => {
      lines.push({ level, msg: typeof first === 'string' ? first : String(second) });
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

function v4(address: string): NetworkInterfaceInfo {
  return {
    address,
    netmask: '255.255.255.0',
    family: 'IPv4',
    mac: '02:00:00:00:00:01',
    internal: false,
    cidr: `${address}/24`,
  };
}

/**
 * Every fake promise settles through microtasks only, so one macrotask turn runs every pending
 * continuation of the provider (this waits for work, never for time).
 */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Harness {
  clock: FakeClock;
  bus: FakeAvahiBus;
  provider: AvahiMdnsProvider;
  events: ServiceEvent[];
  logs: LogLine[];
  /** The OS interface table the poll reads, and the kernel indexes. */
  osInterfaces: Record<string, NetworkInterfaceInfo[]>;
  osIndexes: Map<string, number>;
}

/** `withBus` false: no bus handed over, the provider has to connect() itself. */
function harness(options: Partial<AvahiProviderOptions> = {}, withBus = true): Harness {
  const clock = new FakeClock();
  const bus = new FakeAvahiBus();
  const logs: LogLine[] = [];
  const osInterfaces: Record<string, NetworkInterfaceInfo[]> = {
    eth0: [v4('192.168.1.10')],
    wlan0: [v4('10.0.0.10')],
  };
  const osIndexes = new Map<string, number>([
    ['eth0', 2],
    ['wlan0', 3],
  ]);
  const provider = new AvahiMdnsProvider({
    ...(withBus ? { bus } : {}),
    clock,
    logger: recordingLogger(logs),
    interfaceSource: () => osInterfaces,
    interfaceIndex: (name) => osIndexes.get(name),
    ...options,
  });
  const events: ServiceEvent[] = [];
  provider.onService((event) => events.push(event));
  return { clock, bus, provider, events, logs, osInterfaces, osIndexes };
}

function logged(h: Harness, level: string, text: string): boolean {
  return h.logs.some((line) => line.level === level && line.msg.includes(text));
}

/** start() and one peer resolved on interface 2 over IPv4; returns the resolver path. */
async function browseOnePeer(h: Harness): Promise<string> {
  await h.provider.start();
  h.bus.signal(h.bus.lastPath('ServiceBrowserPrepare'), 'ItemNew', item(2, AVAHI_PROTO_INET));
  await settle();
  const resolver = h.bus.lastPath('ServiceResolverPrepare');
  h.bus.signal(resolver, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
  await settle();
  assert.deepEqual(
    h.events.map((event) => event.type),
    ['up'],
  );
  return resolver;
}

describe('AvahiMdnsProvider: announcing', () => {
  it('registers one service on AVAHI_IF_UNSPEC with the TXT pairs as byte arrays', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(h.bus.members(), ['EntryGroupNew', 'AddService', 'Commit']);
    const groupNew = h.bus.only('EntryGroupNew');
    assert.equal(groupNew.iface, AVAHI_SERVER_INTERFACE);
    const group = h.bus.lastPath('EntryGroupNew');
    const add = h.bus.only('AddService');
    assert.equal(add.path, group);
    assert.equal(add.iface, AVAHI_ENTRY_GROUP_INTERFACE);
    assert.equal(add.signature, 'iiussssqaay');
    assert.deepEqual(add.body.slice(0, 8), [
      AVAHI_IF_UNSPEC,
      AVAHI_PROTO_UNSPEC,
      0,
      'HUB-0001',
      SHIP,
      '',
      '',
      4712,
    ]);
    const txt = add.body[8] as unknown[];
    assert.ok(txt.every((entry) => entry instanceof Uint8Array));
    assert.deepEqual(txt, bytes(OWN_INFO));
    assert.equal(h.bus.only('Commit').path, group);
    assert.ok(h.bus.handlers.has(group), 'entry group signals are subscribed');
  });

  it('changes only the TXT record in place (UpdateServiceTxt), and nothing for the same one', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const group = h.bus.lastPath('EntryGroupNew');
    h.bus.signal(group, 'StateChanged', [AvahiEntryGroupState.ESTABLISHED]);
    assert.ok(logged(h, 'info', 'announced _ship._tcp'));
    h.bus.forget();

    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(h.bus.members(), [], 'identical announcement: no D-Bus traffic');

    const registering = { ...OWN_INFO, register: true };
    await h.provider.announce({ ...ANNOUNCEMENT, txt: registering });
    assert.deepEqual(h.bus.members(), ['UpdateServiceTxt']);
    const update = h.bus.only('UpdateServiceTxt');
    assert.equal(update.path, group);
    assert.equal(update.signature, 'iiusssaay');
    assert.deepEqual(update.body, [
      AVAHI_IF_UNSPEC,
      AVAHI_PROTO_UNSPEC,
      0,
      'HUB-0001',
      SHIP,
      '',
      bytes(registering),
    ]);
  });

  it('re-registers the same entry group (Reset, AddService, Commit) when the port changes', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const group = h.bus.lastPath('EntryGroupNew');
    h.bus.forget();
    await h.provider.announce({ ...ANNOUNCEMENT, port: 4800 });
    assert.deepEqual(h.bus.members(), ['Reset', 'AddService', 'Commit']);
    assert.equal(h.bus.only('Reset').path, group);
    assert.equal(h.bus.only('AddService').body[7], 4800);
  });

  it('registers once per allowed interface index with a restriction', async () => {
    const h = harness({ interfaces: ['eth0', 'wlan0'] });
    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(
      h.bus.callsOf('GetNetworkInterfaceIndexByName').map((call) => call.body),
      [['eth0'], ['wlan0']],
    );
    assert.deepEqual(
      h.bus.callsOf('AddService').map((call) => call.body.slice(0, 2)),
      [
        [2, AVAHI_PROTO_UNSPEC],
        [3, AVAHI_PROTO_UNSPEC],
      ],
    );
    h.bus.forget();
    await h.provider.announce({ ...ANNOUNCEMENT, txt: { ...OWN_INFO, register: true } });
    assert.deepEqual(
      h.bus.callsOf('UpdateServiceTxt').map((call) => call.body[0]),
      [2, 3],
    );
  });

  it('treats an empty interface list as no restriction', async () => {
    const h = harness({ interfaces: [] });
    await h.provider.announce(ANNOUNCEMENT);
    assert.equal(h.bus.callsOf('GetNetworkInterfaceIndexByName').length, 0);
    assert.equal(h.bus.only('AddService').body[0], AVAHI_IF_UNSPEC);
    assert.deepEqual(h.clock.pending(), [], 'no interface poll without a restriction');
  });

  it('skips a configured interface Avahi does not know', async () => {
    const h = harness({ interfaces: ['eth0', 'wlan0'] });
    h.bus.interfaceIndexes.delete('wlan0');
    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(
      h.bus.callsOf('AddService').map((call) => call.body[0]),
      [2],
    );
    assert.ok(logged(h, 'warn', 'interface not available now'));
  });

  it('rejects a port that is not a TCP port, and does not touch the bus', async () => {
    const h = harness();
    for (const port of [0, 65536, 1.5]) {
      await assert.rejects(h.provider.announce({ ...ANNOUNCEMENT, port }), RangeError);
    }
    assert.deepEqual(h.bus.members(), []);
  });

  it('rejects when AddService fails, and the next announce re-registers the same group', async () => {
    const h = harness();
    h.bus.responders.set('AddService', () => {
      throw new Error('org.freedesktop.Avahi.InvalidServiceTypeError');
    });
    await assert.rejects(h.provider.announce(ANNOUNCEMENT), /InvalidServiceTypeError/);
    const group = h.bus.lastPath('EntryGroupNew');
    assert.equal(h.bus.callsOf('Commit').length, 0);
    h.bus.responders.delete('AddService');
    h.bus.forget();
    // The failed task must not wedge the provider's queue.
    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(h.bus.members(), ['Reset', 'AddService', 'Commit']);
    assert.equal(h.bus.only('Reset').path, group);
  });

  it('withdraws with Free on the entry group and unsubscribes it', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const group = h.bus.lastPath('EntryGroupNew');
    h.bus.forget();
    await h.provider.unannounce();
    assert.deepEqual(h.bus.members(), ['Free']);
    assert.equal(h.bus.only('Free').path, group);
    assert.equal(h.bus.handlers.has(group), false);
    h.bus.forget();
    await h.provider.unannounce();
    assert.deepEqual(h.bus.members(), [], 'nothing to withdraw twice');
  });

  it('unannounce still resolves when Free fails', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    h.bus.responders.set('Free', () => {
      throw new Error('org.freedesktop.Avahi.BadStateError');
    });
    await h.provider.unannounce();
    assert.ok(logged(h, 'warn', 'freeing the entry group failed'));
  });

  it('logs an entry group FAILURE and ignores other signals and stale groups', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const first = h.bus.lastPath('EntryGroupNew');
    const staleHandler = h.bus.handlers.get(first)!;
    h.bus.signal(first, 'StateChanged', [AvahiEntryGroupState.FAILURE, 'Local name collision']);
    assert.ok(logged(h, 'error', 'announcing failed'));
    h.bus.signal(first, 'SomethingElse', [AvahiEntryGroupState.COLLISION]);
    h.bus.signal(first, 'StateChanged', [AvahiEntryGroupState.UNCOMMITED]);

    await h.provider.unannounce();
    await h.provider.announce(ANNOUNCEMENT);
    h.bus.forget();
    // A late signal of the freed group must not rename the new one.
    staleHandler('StateChanged', [AvahiEntryGroupState.COLLISION]);
    await settle();
    assert.deepEqual(h.bus.members(), []);
  });
});

describe('AvahiMdnsProvider: name collisions (SHIP §7.1)', () => {
  it('takes GetAlternativeServiceName and registers again under the new name', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const group = h.bus.lastPath('EntryGroupNew');
    h.bus.forget();
    h.bus.signal(group, 'StateChanged', [AvahiEntryGroupState.COLLISION]);
    await settle();
    assert.deepEqual(h.bus.members(), [
      'GetAlternativeServiceName',
      'Reset',
      'AddService',
      'Commit',
    ]);
    assert.deepEqual(h.bus.only('GetAlternativeServiceName').body, ['HUB-0001']);
    assert.equal(h.bus.only('Reset').path, group);
    assert.equal(h.bus.only('AddService').body[3], 'HUB-0001 #2');

    // A TXT change keeps the alternative name.
    h.bus.forget();
    await h.provider.announce({ ...ANNOUNCEMENT, txt: { ...OWN_INFO, register: true } });
    assert.equal(h.bus.only('UpdateServiceTxt').body[3], 'HUB-0001 #2');

    // A new instance name starts over from that name.
    h.bus.forget();
    await h.provider.announce({ ...ANNOUNCEMENT, instanceName: 'HUB-0002' });
    assert.equal(h.bus.only('AddService').body[3], 'HUB-0002');
  });

  it(`gives up after ${MAX_COLLISION_RENAMES} renames, and a new name gets a fresh budget`, async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const group = h.bus.lastPath('EntryGroupNew');
    for (let i = 0; i < MAX_COLLISION_RENAMES + 3; i++) {
      h.bus.signal(group, 'StateChanged', [AvahiEntryGroupState.COLLISION]);
      await settle();
    }
    assert.equal(h.bus.callsOf('GetAlternativeServiceName').length, MAX_COLLISION_RENAMES);
    assert.equal(
      h.bus.callsOf('AddService').at(-1)!.body[3],
      `HUB-0001 #${MAX_COLLISION_RENAMES + 1}`,
    );
    assert.ok(logged(h, 'error', 'too many name collisions'));

    await h.provider.announce({ ...ANNOUNCEMENT, instanceName: 'HUB-0002' });
    h.bus.forget();
    h.bus.signal(group, 'StateChanged', [AvahiEntryGroupState.COLLISION]);
    await settle();
    assert.deepEqual(h.bus.only('GetAlternativeServiceName').body, ['HUB-0002']);
  });

  it('logs a failed rename', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    h.bus.responders.set('GetAlternativeServiceName', () => {
      throw new Error('org.freedesktop.Avahi.InvalidServiceNameError');
    });
    const group = h.bus.lastPath('EntryGroupNew');
    h.bus.forget();
    h.bus.signal(group, 'StateChanged', [AvahiEntryGroupState.COLLISION]);
    await settle();
    assert.deepEqual(h.bus.members(), ['GetAlternativeServiceName']);
    assert.ok(logged(h, 'error', 'rename failed'));
  });
});

describe('AvahiMdnsProvider: browsing', () => {
  it('prepares and starts one browser on AVAHI_IF_UNSPEC, once', async () => {
    const h = harness();
    await h.provider.start();
    await h.provider.start();
    assert.deepEqual(h.bus.members(), ['ServiceBrowserPrepare', 'Start']);
    const prepare = h.bus.only('ServiceBrowserPrepare');
    assert.equal(prepare.iface, AVAHI_SERVER2_INTERFACE);
    assert.equal(prepare.signature, 'iissu');
    assert.deepEqual(prepare.body, [AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, SHIP, '', 0]);
    const start = h.bus.only('Start');
    assert.equal(start.path, h.bus.lastPath('ServiceBrowserPrepare'));
    assert.equal(start.iface, AVAHI_SERVICE_BROWSER_INTERFACE);
  });

  it('resolves each item with its own protocol and merges IPv4 and IPv6 into one service', async () => {
    const h = harness();
    await h.provider.start();
    const browser = h.bus.lastPath('ServiceBrowserPrepare');
    h.bus.forget();

    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    const prepare4 = h.bus.only('ServiceResolverPrepare');
    assert.equal(prepare4.iface, AVAHI_SERVER2_INTERFACE);
    assert.equal(prepare4.signature, 'iisssiu');
    // The address protocol is the item's protocol, so IPv6 items yield IPv6 addresses.
    assert.deepEqual(prepare4.body, [
      2,
      AVAHI_PROTO_INET,
      'peer',
      SHIP,
      'local',
      AVAHI_PROTO_INET,
      0,
    ]);
    const resolver4 = h.bus.lastPath('ServiceResolverPrepare');
    const start = h.bus.only('Start');
    assert.equal(start.path, resolver4);
    assert.equal(start.iface, AVAHI_SERVICE_RESOLVER_INTERFACE);

    h.bus.signal(resolver4, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    await settle();
    assert.deepEqual(h.bus.only('GetNetworkInterfaceNameByIndex').body, [2]);
    assert.equal(h.events.length, 1);
    const up = h.events[0]!;
    assert.equal(up.type, 'up');
    assert.equal(up.service.instanceName, 'peer');
    assert.equal(up.service.hostName, 'peer-host.local');
    assert.equal(up.service.port, 4711);
    assert.equal(up.service.ski, PEER_SKI);
    assert.equal(up.service.provider, 'avahi');
    assert.equal(up.service.own, false);
    assert.deepEqual(up.service.addresses, [
      { address: '192.168.1.20', family: 4, interfaceName: 'eth0' },
    ]);

    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET6));
    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET6)); // duplicate: one resolver
    await settle();
    const prepares = h.bus.callsOf('ServiceResolverPrepare');
    assert.equal(prepares.length, 2);
    assert.deepEqual(prepares[1]!.body.slice(0, 2), [2, AVAHI_PROTO_INET6]);
    assert.equal(prepares[1]!.body[5], AVAHI_PROTO_INET6);
    const resolver6 = h.bus.lastPath('ServiceResolverPrepare');
    h.bus.signal(resolver6, 'Found', found(2, AVAHI_PROTO_INET6, 'fe80::20'));
    await settle();
    assert.equal(h.bus.callsOf('GetNetworkInterfaceNameByIndex').length, 1, 'name is cached');
    assert.deepEqual(
      h.events.map((event) => event.type),
      ['up', 'update'],
    );
    assert.deepEqual(h.events[1]!.service.addresses, [
      { address: '192.168.1.20', family: 4, interfaceName: 'eth0' },
      { address: 'fe80::20%eth0', family: 6, interfaceName: 'eth0' },
    ]);
    assert.deepEqual(h.provider.services(), [h.events[1]!.service]);

    h.bus.forget();
    h.bus.signal(browser, 'ItemRemove', item(2, AVAHI_PROTO_INET));
    await settle();
    assert.deepEqual(h.bus.only('Free').path, resolver4);
    assert.equal(h.bus.handlers.has(resolver4), false);
    assert.equal(h.events.at(-1)!.type, 'update');
    assert.deepEqual(
      h.events.at(-1)!.service.addresses.map((address) => address.address),
      ['fe80::20%eth0'],
    );

    h.bus.signal(browser, 'ItemRemove', item(2, AVAHI_PROTO_INET6));
    h.bus.signal(browser, 'ItemRemove', item(7, AVAHI_PROTO_INET6)); // unknown: ignored
    await settle();
    assert.equal(h.events.at(-1)!.type, 'down');
    assert.equal(h.events.length, 4);
    assert.deepEqual(h.provider.services(), []);
  });

  it('falls back to ServiceBrowserNew / ServiceResolverNew on avahi < 0.8 (no Start)', async () => {
    const h = harness();
    const noServer2: Responder = () => {
      throw new Error('org.freedesktop.DBus.Error.UnknownMethod');
    };
    h.bus.responders.set('ServiceBrowserPrepare', noServer2);
    h.bus.responders.set('ServiceResolverPrepare', noServer2);
    await h.provider.start();
    assert.deepEqual(h.bus.members(), ['ServiceBrowserPrepare', 'ServiceBrowserNew']);
    const browserNew = h.bus.only('ServiceBrowserNew');
    assert.equal(browserNew.iface, AVAHI_SERVER_INTERFACE);
    assert.deepEqual(browserNew.body, [AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, SHIP, '', 0]);
    const browser = h.bus.lastPath('ServiceBrowserNew');
    h.bus.forget();

    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    assert.deepEqual(h.bus.members(), ['ServiceResolverPrepare', 'ServiceResolverNew']);
    h.bus.signal(
      h.bus.lastPath('ServiceResolverNew'),
      'Found',
      found(2, AVAHI_PROTO_INET, '192.168.1.20'),
    );
    await settle();
    assert.equal(h.events[0]?.type, 'up');
  });

  it('names services of other domains with the domain, and keeps addresses without a known interface', async () => {
    const h = harness();
    h.bus.interfaceIndexes.clear(); // GetNetworkInterfaceNameByIndex fails
    await h.provider.start();
    h.bus.signal(
      h.bus.lastPath('ServiceBrowserPrepare'),
      'ItemNew',
      item(5, AVAHI_PROTO_INET, 'peer', 'example.org'),
    );
    await settle();
    h.bus.signal(
      h.bus.lastPath('ServiceResolverPrepare'),
      'Found',
      found(5, AVAHI_PROTO_INET, '192.0.2.7', { domain: 'example.org' }),
    );
    await settle();
    assert.equal(h.events[0]?.service.instanceName, 'peer.example.org');
    assert.deepEqual(h.events[0]?.service.addresses, [{ address: '192.0.2.7', family: 4 }]);
  });

  it('logs a browser Failure and ignores unknown browser signals', async () => {
    const h = harness();
    await h.provider.start();
    const browser = h.bus.lastPath('ServiceBrowserPrepare');
    h.bus.forget();
    h.bus.signal(browser, 'Failure', ['org.freedesktop.Avahi.TimeoutError']);
    h.bus.signal(browser, 'AllForNow', []);
    h.bus.signal(browser, 'CacheExhausted', []);
    await settle();
    assert.ok(logged(h, 'warn', 'service browser failed'));
    assert.deepEqual(h.bus.members(), []);
  });

  it('flags our own announcement (own SKI) so the hub never dials it', async () => {
    const h = harness({ ownSki: OWN_SKI });
    await h.provider.start();
    const browser = h.bus.lastPath('ServiceBrowserPrepare');
    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET, 'HUB-0001'));
    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET, 'peer'));
    await settle();
    const [ownResolver, peerResolver] = h.bus
      .callsOf('ServiceResolverPrepare')
      .map((call) => call.reply![0] as string);
    h.bus.signal(
      ownResolver!,
      'Found',
      found(2, AVAHI_PROTO_INET, '192.168.1.10', { name: 'HUB-0001', txt: bytes(OWN_INFO) }),
    );
    h.bus.signal(peerResolver!, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    await settle();
    const byName = new Map(h.events.map((event) => [event.service.instanceName, event.service]));
    assert.equal(byName.get('HUB-0001')?.own, true);
    assert.equal(byName.get('peer')?.own, false);
  });

  it('learns the own SKI from announce()', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    await h.provider.start();
    h.bus.signal(h.bus.lastPath('ServiceBrowserPrepare'), 'ItemNew', item(2, 0, 'HUB-0001'));
    await settle();
    h.bus.signal(
      h.bus.lastPath('ServiceResolverPrepare'),
      'Found',
      found(2, AVAHI_PROTO_INET, '192.168.1.10', { name: 'HUB-0001', txt: bytes(OWN_INFO) }),
    );
    await settle();
    assert.equal(h.events[0]?.service.own, true);
  });

  it('frees a resolver that arrives after its item was removed, without starting it', async () => {
    const h = harness();
    await h.provider.start();
    const browser = h.bus.lastPath('ServiceBrowserPrepare');
    const pending = deferred<SignalBody>();
    h.bus.responders.set('ServiceResolverPrepare', () => pending.promise);
    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    h.bus.signal(browser, 'ItemRemove', item(2, AVAHI_PROTO_INET));
    await settle();
    h.bus.forget();
    pending.resolve(['/Client1/ServiceResolver99']);
    await settle();
    assert.deepEqual(h.bus.members(), ['Free']);
    assert.equal(h.bus.only('Free').path, '/Client1/ServiceResolver99');
    assert.equal(h.bus.handlers.has('/Client1/ServiceResolver99'), false);
  });

  it('drops a Found whose item went away while the interface name was looked up', async () => {
    const h = harness();
    await h.provider.start();
    const browser = h.bus.lastPath('ServiceBrowserPrepare');
    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    const lookup = deferred<SignalBody>();
    h.bus.responders.set('GetNetworkInterfaceNameByIndex', () => lookup.promise);
    h.bus.signal(
      h.bus.lastPath('ServiceResolverPrepare'),
      'Found',
      found(2, AVAHI_PROTO_INET, '192.168.1.20'),
    );
    await settle();
    h.bus.signal(browser, 'ItemRemove', item(2, AVAHI_PROTO_INET));
    lookup.resolve(['eth0']);
    await settle();
    assert.deepEqual(h.events, []);
  });
});

describe('AvahiMdnsProvider: resolver failures', () => {
  it('withdraws the address and retries with a doubling backoff capped at the maximum', async () => {
    const h = harness();
    const first = await browseOnePeer(h);
    h.bus.forget();
    h.bus.signal(first, 'Failure', ['org.freedesktop.Avahi.TimeoutError']);
    await settle();
    assert.equal(h.events.at(-1)?.type, 'down');
    assert.deepEqual(h.bus.members(), ['Free']);
    assert.equal(h.bus.only('Free').path, first);
    assert.deepEqual(h.clock.pending(), ['avahi-resolve-retry']);

    const delays: number[] = [];
    for (
      let d = RESOLVE_RETRY_INITIAL_MS;
      delays.length < 9;
      d = Math.min(d * 2, RESOLVE_RETRY_MAX_MS)
    ) {
      delays.push(d);
    }
    assert.equal(delays.at(-1), RESOLVE_RETRY_MAX_MS);
    for (const delay of delays) {
      const before = h.bus.callsOf('ServiceResolverPrepare').length;
      h.clock.advance(delay - 1);
      await settle();
      assert.equal(h.bus.callsOf('ServiceResolverPrepare').length, before, `not before ${delay}`);
      h.clock.advance(1);
      await settle();
      const retries = h.bus.callsOf('ServiceResolverPrepare');
      assert.equal(retries.length, before + 1, `retry after ${delay} ms`);
      assert.deepEqual(retries.at(-1)!.body.slice(0, 3), [2, AVAHI_PROTO_INET, 'peer']);
      h.bus.signal(h.bus.lastPath('ServiceResolverPrepare'), 'Failure', ['Timeout']);
      await settle();
    }

    // A success resets the backoff: the next failure retries after the initial delay again.
    h.clock.advance(RESOLVE_RETRY_MAX_MS);
    await settle();
    const resolver = h.bus.lastPath('ServiceResolverPrepare');
    h.bus.signal(resolver, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    await settle();
    assert.equal(h.events.at(-1)?.type, 'up');
    h.bus.signal(resolver, 'Failure', ['Timeout']);
    await settle();
    const before = h.bus.callsOf('ServiceResolverPrepare').length;
    h.clock.advance(RESOLVE_RETRY_INITIAL_MS);
    await settle();
    assert.equal(h.bus.callsOf('ServiceResolverPrepare').length, before + 1);
  });

  it('ignores signals of a resolver it already gave up', async () => {
    const h = harness();
    const first = await browseOnePeer(h);
    const handler = h.bus.handlers.get(first)!;
    h.bus.signal(first, 'Failure', ['Timeout']);
    await settle();
    const events = h.events.length;
    handler('Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    await settle();
    assert.equal(h.events.length, events);
  });

  it('retries when the resolver cannot be created at all', async () => {
    const h = harness();
    await h.provider.start();
    const refuse: Responder = () => {
      throw new Error('org.freedesktop.Avahi.TooManyObjectsError');
    };
    h.bus.responders.set('ServiceResolverPrepare', refuse);
    h.bus.responders.set('ServiceResolverNew', refuse);
    h.bus.signal(h.bus.lastPath('ServiceBrowserPrepare'), 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    assert.ok(logged(h, 'warn', 'cannot resolve service'));
    assert.deepEqual(h.clock.pending(), ['avahi-resolve-retry']);
    h.bus.responders.clear();
    h.clock.advance(RESOLVE_RETRY_INITIAL_MS);
    await settle();
    h.bus.signal(
      h.bus.lastPath('ServiceResolverPrepare'),
      'Found',
      found(2, AVAHI_PROTO_INET, '192.168.1.20'),
    );
    await settle();
    assert.equal(h.events[0]?.type, 'up');
  });

  it('frees a resolver whose Start failed before creating the next one', async () => {
    const h = harness();
    await h.provider.start();
    h.bus.responders.set('Start', () => {
      throw new Error('D-Bus call Start got no answer within 5000 ms');
    });
    h.bus.signal(h.bus.lastPath('ServiceBrowserPrepare'), 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    const failed = h.bus.lastPath('ServiceResolverPrepare');
    assert.ok(logged(h, 'warn', 'cannot resolve service'));
    // Avahi created the resolver; without Free it would live until we disconnect.
    assert.deepEqual(
      h.bus.callsOf('Free').map((call) => call.path),
      [failed],
    );
    assert.equal(h.bus.handlers.has(failed), false);
    h.bus.responders.clear();
    h.clock.advance(RESOLVE_RETRY_INITIAL_MS);
    await settle();
    const next = h.bus.lastPath('ServiceResolverPrepare');
    assert.notEqual(next, failed);
    h.bus.signal(next, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    await settle();
    assert.equal(h.events[0]?.type, 'up');
  });

  it('logs a resolver Free that fails', async () => {
    const h = harness();
    const resolver = await browseOnePeer(h);
    h.bus.responders.set('Free', () => {
      throw new Error('org.freedesktop.Avahi.AccessDeniedError');
    });
    h.bus.signal(resolver, 'Failure', ['Timeout']);
    await settle();
    assert.ok(logged(h, 'debug', 'resolver Free failed'));
  });
});

describe('AvahiMdnsProvider: Avahi restarts and server state', () => {
  it('forgets everything when Avahi leaves the bus and registers again when it returns', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const oldGroup = h.bus.lastPath('EntryGroupNew');
    const oldResolver = await browseOnePeer(h);
    h.bus.forget();

    h.bus.ownerChanged('');
    await settle();
    assert.equal(h.events.at(-1)?.type, 'down');
    assert.deepEqual(h.provider.services(), []);
    assert.deepEqual(h.bus.members(), [], 'the old objects died with the daemon: no Free');
    assert.deepEqual([...h.bus.handlers.keys()], ['/']);
    assert.ok(logged(h, 'warn', 'daemon left the bus'));

    h.bus.ownerChanged(':1.42');
    await settle();
    assert.deepEqual(h.bus.members(), [
      'ServiceBrowserPrepare',
      'Start',
      'EntryGroupNew',
      'AddService',
      'Commit',
    ]);
    assert.notEqual(h.bus.lastPath('EntryGroupNew'), oldGroup);
    assert.equal(h.bus.handlers.has(oldResolver), false);
    assert.ok(h.bus.handlers.has(h.bus.lastPath('EntryGroupNew')));
  });

  it('logs when registering again after a restart fails', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    h.bus.responders.set('EntryGroupNew', () => {
      throw new Error('org.freedesktop.Avahi.NotPermittedError');
    });
    h.bus.ownerChanged(':1.43');
    await settle();
    assert.ok(logged(h, 'error', 'registering again failed'));
  });

  it('resets the group while the host name registers and commits it again on RUNNING', async () => {
    const h = harness();
    await h.provider.announce(ANNOUNCEMENT);
    const group = h.bus.lastPath('EntryGroupNew');
    h.bus.forget();

    h.bus.signal('/', 'StateChanged', [AvahiServerState.REGISTERING]);
    await settle();
    assert.deepEqual(h.bus.members(), ['Reset']);
    assert.equal(h.bus.only('Reset').path, group);
    h.bus.forget();

    h.bus.signal('/', 'StateChanged', [AvahiServerState.RUNNING]);
    await settle();
    assert.deepEqual(h.bus.members(), ['Reset', 'AddService', 'Commit']);
    assert.equal(h.bus.only('AddService').path, group);
    h.bus.forget();

    // Already registered (or established): RUNNING changes nothing.
    h.bus.signal('/', 'StateChanged', [AvahiServerState.RUNNING]);
    h.bus.signal(group, 'StateChanged', [AvahiEntryGroupState.ESTABLISHED]);
    h.bus.signal('/', 'StateChanged', [AvahiServerState.RUNNING]);
    h.bus.signal('/', 'NameAcquired', []);
    await settle();
    assert.deepEqual(h.bus.members(), []);

    h.bus.responders.set('Reset', () => {
      throw new Error('org.freedesktop.Avahi.BadStateError');
    });
    h.bus.signal('/', 'StateChanged', [AvahiServerState.COLLISION]);
    await settle();
    assert.ok(logged(h, 'debug', 'Reset failed'));
    h.bus.responders.delete('Reset');
    h.bus.responders.set('AddService', () => {
      throw new Error('org.freedesktop.Avahi.InvalidArgumentError');
    });
    h.bus.signal('/', 'StateChanged', [AvahiServerState.RUNNING]);
    await settle();
    assert.ok(logged(h, 'error', 'registering again failed'));
  });

  it('does nothing on server state changes without an announcement', async () => {
    const h = harness();
    await h.provider.start();
    h.bus.forget();
    h.bus.signal('/', 'StateChanged', [AvahiServerState.COLLISION]);
    h.bus.signal('/', 'StateChanged', [AvahiServerState.RUNNING]);
    await settle();
    assert.deepEqual(h.bus.members(), []);
  });
});

describe('AvahiMdnsProvider: losing the bus', () => {
  it('reconnects with a doubling backoff capped at the maximum, then registers and browses again', async () => {
    const buses: FakeAvahiBus[] = [];
    let attempts = 0;
    let available = false;
    const h = harness({
      connect: () => {
        attempts += 1;
        if (!available) return Promise.reject(new Error('no D-Bus'));
        const bus = new FakeAvahiBus();
        buses.push(bus);
        return Promise.resolve(bus);
      },
    });
    await h.provider.announce(ANNOUNCEMENT);
    await browseOnePeer(h);
    const first = h.bus;

    first.dropConnection();
    assert.equal(h.events.at(-1)?.type, 'down');
    assert.deepEqual(h.clock.pending(), ['avahi-reconnect']);

    const delays: number[] = [];
    for (let d = RECONNECT_INITIAL_MS; delays.length < 9; d = Math.min(d * 2, RECONNECT_MAX_MS)) {
      delays.push(d);
    }
    assert.equal(delays.at(-1), RECONNECT_MAX_MS);
    for (const delay of delays) {
      const before = attempts;
      h.clock.advance(delay - 1);
      await settle();
      assert.equal(attempts, before, `no attempt before ${delay} ms`);
      h.clock.advance(1);
      await settle();
      assert.equal(attempts, before + 1, `attempt after ${delay} ms`);
    }
    assert.ok(logged(h, 'warn', 'reconnect failed'));

    available = true;
    h.clock.advance(RECONNECT_MAX_MS);
    await settle();
    assert.equal(buses.length, 1);
    const second = buses[0]!;
    assert.deepEqual(second.members(), [
      'ServiceBrowserPrepare',
      'Start',
      'EntryGroupNew',
      'AddService',
      'Commit',
    ]);
    assert.equal(second.only('AddService').body[3], 'HUB-0001');
    assert.ok(logged(h, 'info', 'avahi: connected'));
    assert.deepEqual(h.clock.pending(), []);

    second.signal(second.lastPath('ServiceBrowserPrepare'), 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    second.signal(
      second.lastPath('ServiceResolverPrepare'),
      'Found',
      found(2, AVAHI_PROTO_INET, '192.168.1.20'),
    );
    await settle();
    assert.equal(h.events.at(-1)?.type, 'up');

    // A successful connection resets the backoff.
    const before = attempts;
    second.dropConnection();
    h.clock.advance(RECONNECT_INITIAL_MS);
    await settle();
    assert.equal(attempts, before + 1);
  });

  it('retries when the new connection cannot register', async () => {
    const next = new FakeAvahiBus();
    const refuse: Responder = () => {
      throw new Error('org.freedesktop.Avahi.NoDaemonError');
    };
    next.responders.set('ServiceBrowserPrepare', refuse);
    next.responders.set('ServiceBrowserNew', refuse);
    let attempts = 0;
    const h = harness({
      connect: () => {
        attempts += 1;
        return Promise.resolve(next);
      },
    });
    await h.provider.start();
    h.bus.dropConnection();
    h.clock.advance(RECONNECT_INITIAL_MS);
    await settle();
    assert.equal(attempts, 1);
    assert.ok(logged(h, 'warn', 'reconnect failed'));
    assert.deepEqual(h.clock.pending(), ['avahi-reconnect']);

    next.responders.clear();
    next.forget();
    h.clock.advance(RECONNECT_INITIAL_MS);
    await settle();
    assert.equal(attempts, 1, 'the connected bus is kept, only registering is retried');
    assert.deepEqual(next.members(), ['ServiceBrowserPrepare', 'Start']);
  });

  it('retries a browser whose Start failed after reconnecting', async () => {
    const next = new FakeAvahiBus();
    next.responders.set('Start', () => {
      throw new Error('D-Bus call Start got no answer within 5000 ms');
    });
    const h = harness({ connect: () => Promise.resolve(next) });
    await h.provider.start();
    h.bus.dropConnection();
    h.clock.advance(RECONNECT_INITIAL_MS);
    await settle();
    const failed = next.lastPath('ServiceBrowserPrepare');
    assert.ok(logged(h, 'warn', 'reconnect failed'));
    assert.deepEqual(
      next.callsOf('Free').map((call) => call.path),
      [failed],
    );

    next.responders.clear();
    next.forget();
    h.clock.advance(RECONNECT_INITIAL_MS);
    await settle();
    assert.deepEqual(next.members(), ['ServiceBrowserPrepare', 'Start']);
    assert.equal(next.only('Start').path, next.lastPath('ServiceBrowserPrepare'));
  });

  it('start() can be retried after it failed to connect', async () => {
    let available = false;
    const next = new FakeAvahiBus();
    const h = harness(
      {
        connect: () => (available ? Promise.resolve(next) : Promise.reject(new Error('no D-Bus'))),
      },
      false,
    );
    await assert.rejects(h.provider.start(), /no D-Bus/);
    available = true;
    await h.provider.start();
    assert.deepEqual(next.members(), ['ServiceBrowserPrepare', 'Start']);
  });

  it('start() that fails half-way frees the browsers it made, and can be retried', async () => {
    const h = harness({ interfaces: ['eth0', 'wlan0'] });
    const refuse: Responder = (call) => {
      if (call.body[0] === 3) throw new Error('org.freedesktop.Avahi.TooManyObjectsError');
      return [`/Client1/ServiceBrowser${String(call.body[0])}`];
    };
    h.bus.responders.set('ServiceBrowserPrepare', refuse);
    h.bus.responders.set('ServiceBrowserNew', refuse);
    await assert.rejects(h.provider.start(), /TooManyObjectsError/);
    assert.deepEqual(
      h.bus.callsOf('Free').map((call) => call.path),
      ['/Client1/ServiceBrowser2'],
    );
    h.bus.responders.clear();
    h.bus.forget();
    await h.provider.start();
    assert.deepEqual(
      h.bus.callsOf('ServiceBrowserPrepare').map((call) => call.body[0]),
      [2, 3],
    );
  });

  it('connects itself when no bus was given, and rejects while that fails', async () => {
    let available = false;
    const next = new FakeAvahiBus();
    const h = harness(
      {
        connect: () => (available ? Promise.resolve(next) : Promise.reject(new Error('no D-Bus'))),
      },
      false,
    );
    await assert.rejects(h.provider.announce(ANNOUNCEMENT), /no D-Bus/);
    available = true;
    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(next.members(), ['EntryGroupNew', 'AddService', 'Commit']);
  });
});

describe('AvahiMdnsProvider: interface restriction', () => {
  it('browses and announces per interface and follows an interface re-created under its name', async () => {
    const h = harness({ interfaces: ['eth0'], interfacePollMs: 1_000 });
    await h.provider.announce(ANNOUNCEMENT);
    await h.provider.start();
    assert.deepEqual(h.bus.only('ServiceBrowserPrepare').body, [
      2,
      AVAHI_PROTO_UNSPEC,
      SHIP,
      '',
      0,
    ]);
    assert.equal(h.bus.only('AddService').body[0], 2);
    const group = h.bus.lastPath('EntryGroupNew');
    const browser = h.bus.lastPath('ServiceBrowserPrepare');
    h.bus.signal(browser, 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    const resolver = h.bus.lastPath('ServiceResolverPrepare');
    h.bus.signal(resolver, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    await settle();
    assert.equal(
      h.bus.callsOf('GetNetworkInterfaceNameByIndex').length,
      0,
      'the name is known from the restriction',
    );
    assert.equal(h.events[0]?.service.addresses[0]?.interfaceName, 'eth0');
    assert.deepEqual(h.clock.pending(), ['avahi-interface-poll']);

    h.bus.forget();
    h.clock.advance(1_000);
    await settle();
    assert.deepEqual(h.bus.members(), [], 'unchanged interfaces: nothing to do');

    // eth0 deleted and created again: a new kernel index.
    h.osIndexes.set('eth0', 9);
    h.bus.interfaceIndexes.set('eth0', 9);
    h.clock.advance(999);
    await settle();
    assert.deepEqual(h.bus.members(), [], 'polled every interfacePollMs, not before');
    h.clock.advance(1);
    await settle();
    assert.deepEqual(h.bus.members(), [
      'Free',
      'Free',
      'GetNetworkInterfaceIndexByName',
      'ServiceBrowserPrepare',
      'Start',
      'GetNetworkInterfaceIndexByName',
      'Reset',
      'AddService',
      'Commit',
    ]);
    assert.deepEqual(
      h.bus.callsOf('Free').map((call) => call.path),
      [resolver, browser],
    );
    assert.equal(h.bus.only('ServiceBrowserPrepare').body[0], 9);
    assert.equal(h.bus.only('Reset').path, group);
    assert.equal(h.bus.only('AddService').body[0], 9);
    assert.equal(h.events.at(-1)?.type, 'down');
    assert.deepEqual(h.clock.pending(), ['avahi-interface-poll']);
  });

  it('announces once a missing interface appears and withdraws when it goes', async () => {
    const h = harness({ interfaces: ['eth1'] });
    await h.provider.announce(ANNOUNCEMENT);
    assert.deepEqual(h.bus.members(), ['GetNetworkInterfaceIndexByName']);
    assert.ok(logged(h, 'warn', 'none of the configured interfaces exists'));
    assert.deepEqual(h.clock.pending(), ['avahi-interface-poll']);

    h.osInterfaces.eth1 = [v4('172.16.0.10')];
    h.osIndexes.set('eth1', 4);
    h.bus.interfaceIndexes.set('eth1', 4);
    h.bus.forget();
    h.clock.advance(AVAHI_INTERFACE_POLL_MS);
    await settle();
    assert.deepEqual(h.bus.members(), [
      'GetNetworkInterfaceIndexByName',
      'EntryGroupNew',
      'AddService',
      'Commit',
    ]);
    assert.equal(h.bus.only('AddService').body[0], 4);
    const group = h.bus.lastPath('EntryGroupNew');

    delete h.osInterfaces.eth1;
    h.osIndexes.delete('eth1');
    h.bus.interfaceIndexes.delete('eth1');
    h.bus.forget();
    h.clock.advance(AVAHI_INTERFACE_POLL_MS);
    await settle();
    assert.deepEqual(h.bus.members(), ['GetNetworkInterfaceIndexByName', 'Free']);
    assert.equal(h.bus.only('Free').path, group);
    assert.deepEqual(h.clock.pending(), ['avahi-interface-poll']);
  });

  it('does not re-register while the bus is gone, and logs a failed re-registration', async () => {
    const connected: FakeAvahiBus[] = [];
    const h = harness({
      interfaces: ['eth0'],
      interfacePollMs: RECONNECT_INITIAL_MS / 2,
      connect: () => {
        const bus = new FakeAvahiBus();
        connected.push(bus);
        return Promise.resolve(bus);
      },
    });
    await h.provider.announce(ANNOUNCEMENT);
    h.bus.dropConnection();
    h.bus.forget();
    h.osIndexes.set('eth0', 9);
    // The poll sees the change while there is no bus: nothing to call.
    h.clock.advance(RECONNECT_INITIAL_MS / 2);
    await settle();
    assert.deepEqual(h.bus.members(), []);
    assert.equal(connected.length, 0);
    assert.ok(logged(h, 'info', 'interfaces changed'));

    h.clock.advance(RECONNECT_INITIAL_MS / 2);
    await settle();
    assert.equal(connected.length, 1);
    const bus = connected[0]!;
    assert.equal(bus.only('AddService').body[0], 2);

    bus.responders.set('Reset', () => {
      throw new Error('org.freedesktop.Avahi.BadStateError');
    });
    h.osIndexes.set('eth0', 10);
    h.clock.advance(RECONNECT_INITIAL_MS / 2);
    await settle();
    assert.equal(bus.callsOf('Reset').length, 1);
    assert.ok(logged(h, 'error', 'registering again failed'));
  });
});

describe('AvahiMdnsProvider: close', () => {
  it('frees group, browsers and resolvers, closes the bus and leaves no timer', async () => {
    const h = harness({ interfaces: ['eth0', 'wlan0'] });
    await h.provider.announce(ANNOUNCEMENT);
    await h.provider.start();
    const group = h.bus.lastPath('EntryGroupNew');
    const browsers = h.bus.callsOf('ServiceBrowserPrepare').map((call) => call.reply![0]);
    assert.equal(browsers.length, 2);
    // One item resolved, one waiting for its retry timer.
    h.bus.signal(browsers[0] as string, 'ItemNew', item(2, AVAHI_PROTO_INET));
    await settle();
    const resolved = h.bus.lastPath('ServiceResolverPrepare');
    h.bus.signal(resolved, 'Found', found(2, AVAHI_PROTO_INET, '192.168.1.20'));
    h.bus.signal(browsers[1] as string, 'ItemNew', item(3, AVAHI_PROTO_INET, 'other'));
    await settle();
    h.bus.signal(h.bus.lastPath('ServiceResolverPrepare'), 'Failure', ['Timeout']);
    await settle();
    assert.deepEqual(h.clock.pending().sort(), ['avahi-interface-poll', 'avahi-resolve-retry']);
    h.bus.forget();

    await h.provider.close();
    assert.deepEqual(
      h.bus.callsOf('Free').map((call) => call.path),
      [group, resolved, ...browsers],
    );
    assert.equal(h.bus.closeCount, 1);
    assert.equal(h.events.at(-1)?.type, 'down');
    assert.deepEqual(h.provider.services(), []);
    assert.deepEqual(h.clock.pending(), []);

    await h.provider.close();
    assert.equal(h.bus.closeCount, 1, 'close is idempotent');
    await assert.rejects(h.provider.start(), /closed/);
    await assert.rejects(h.provider.announce(ANNOUNCEMENT), /closed/);
  });

  it('cancels a pending reconnect', async () => {
    let attempts = 0;
    const h = harness({
      connect: () => {
        attempts += 1;
        return Promise.reject(new Error('no D-Bus'));
      },
    });
    await h.provider.start();
    h.bus.dropConnection();
    assert.deepEqual(h.clock.pending(), ['avahi-reconnect']);
    await h.provider.close();
    assert.deepEqual(h.clock.pending(), []);
    h.clock.advance(RECONNECT_MAX_MS);
    await settle();
    assert.equal(attempts, 0);
    // Avahi coming back on a bus we no longer hold changes nothing either.
    h.bus.forget();
    h.bus.ownerChanged(':1.50');
    await settle();
    assert.deepEqual(h.bus.members(), []);
  });

  it('still closes when freeing a browser fails', async () => {
    const h = harness();
    await h.provider.start();
    h.bus.responders.set('Free', () => {
      throw new Error('org.freedesktop.Avahi.AccessDeniedError');
    });
    await h.provider.close();
    assert.equal(h.bus.callsOf('Free').length, 1);
    assert.ok(logged(h, 'debug', 'browser Free failed'));
    assert.equal(h.bus.closeCount, 1);
  });
});
