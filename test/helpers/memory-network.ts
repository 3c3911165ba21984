/**
 * An in-memory network for deterministic hub simulations: WebSocket pairs and an mDNS registry
 * driven by one FakeClock. Hubs use it through the same HubTransport / MdnsProvider ports as the
 * real TLS and mDNS adapters, so the hub logic under test is the production code.
 */
import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import type { DialTarget, HubTransport, ListenHandlers } from '../../src/hub/transport.js';
import type {
  DiscoveredService,
  MdnsAnnouncement,
  MdnsProvider,
  ServiceListener,
} from '../../src/mdns/types.js';
import { smeConfig } from '../../src/ship/handshake/index.js';
import { toSki, type Ski } from '../../src/ship/ski.js';
import { ShipConnection } from '../../src/transport/ship-connection.js';
import { TransportError } from '../../src/ship/errors.js';
import type { FakeClock } from './fake-clock.js';

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Just enough of ws.WebSocket for ShipConnection, delivering through the fake clock. */
class MemorySocket extends EventEmitter {
  readonly CONNECTING = 0;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;
  readyState = OPEN;
  bufferedAmount = 0;
  readonly protocol = 'ship';
  peer: MemorySocket | undefined;

  constructor(
    private readonly net: MemoryNetwork,
    readonly link: string,
  ) {
    super();
  }

  send(data: Uint8Array): void {
    if (this.readyState !== OPEN) return;
    const copy = Buffer.from(data);
    const peer = this.peer;
    this.net.later(() => {
      if (peer !== undefined && peer.readyState === OPEN) peer.emit('message', copy, true);
    });
  }

  ping(): void {
    const peer = this.peer;
    this.net.later(() => {
      if (peer?.readyState === OPEN) this.net.later(() => this.emit('pong'));
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSING;
    const peer = this.peer;
    this.net.later(() => {
      peer?.finish(code, reason);
      this.net.later(() => this.finish(code, reason));
    });
  }

  terminate(): void {
    if (this.readyState === CLOSED) return;
    this.finish(1006, '');
    const peer = this.peer;
    this.net.later(() => peer?.finish(1006, ''));
  }

  finish(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.net.open.delete(this);
    this.emit('close', code, Buffer.from(reason));
  }
}

interface Listener {
  readonly handlers: ListenHandlers;
  readonly ski: Ski;
  readonly shipId: string;
  readonly host: string;
}

/** One simulated LAN. */
/** Each simulated node holds one key: its "SHA-256" is derived from its SKI (never mismatches). */
export function simulatedKeySha256(ski: string): string {
  return `${ski}${'0'.repeat(24)}`;
}

export class MemoryNetwork {
  readonly listeners = new Map<string, Listener>();
  readonly open = new Set<MemorySocket>();
  readonly downLinks = new Set<string>();
  private readonly mdnsListeners = new Set<ServiceListener>();
  private readonly announced = new Map<string, DiscoveredService>();
  private nextPort = 4000;

  constructor(
    readonly clock: FakeClock,
    /** One-way delivery time. */
    readonly latencyMs = 1,
    /** Extra random delay of a dial (TCP + TLS + upgrade), from a seeded generator. */
    readonly jitter: () => number = () => 0,
  ) {}

  later(fn: () => void, ms = this.latencyMs): void {
    this.clock.setTimer('net', ms, fn);
  }

  private linkKey(a: string, b: string): string {
    return [a, b].sort().join('<->');
  }

  /** Takes the link between two hosts down (dials fail, open connections drop) or up again. */
  setLink(a: string, b: string, up: boolean): void {
    const key = this.linkKey(a, b);
    if (up) {
      this.downLinks.delete(key);
      return;
    }
    this.downLinks.add(key);
    for (const socket of [...this.open]) if (socket.link === key) socket.terminate();
  }

  transport(host: string, ski: string, shipId: string): HubTransport {
    let port: number | undefined;
    return {
      listen: (handlers) => {
        port = this.nextPort++;
        this.listeners.set(`${host}:${port}`, { handlers, ski: toSki(ski), shipId, host });
        return Promise.resolve(port);
      },
      close: () => {
        if (port !== undefined) this.listeners.delete(`${host}:${port}`);
        return Promise.resolve();
      },
      dial: (target, signal) => this.dial(host, toSki(ski), shipId, target, signal),
    };
  }

  private dial(
    fromHost: string,
    fromSki: Ski,
    fromShipId: string,
    target: DialTarget,
    signal: AbortSignal,
  ): Promise<ShipConnection> {
    const handshakeMs = 4 * this.latencyMs + Math.round(this.jitter() * 20);
    return new Promise((resolve, reject) => {
      const fail = (message: string) =>
        reject(new TransportError('SHIPHUB_ERR_TRANSPORT', message));
      const onAbort = () => fail('dial aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      // Halfway through the handshake the server has identified us and decides.
      this.later(() => {
        if (signal.aborted) return;
        const listener = this.listeners.get(`${target.host}:${target.port}`);
        const key = this.linkKey(fromHost, target.host);
        if (listener === undefined || this.downLinks.has(key)) {
          signal.removeEventListener('abort', onAbort);
          fail(`nothing reachable at ${target.host}:${target.port}`);
          return;
        }
        if (listener.ski !== target.expectedSki) {
          signal.removeEventListener('abort', onAbort);
          fail('SKI mismatch');
          return;
        }
        const refusal = listener.handlers.admit(fromHost);
        if (refusal !== undefined) {
          signal.removeEventListener('abort', onAbort);
          fail(refusal);
          return;
        }
        const peer = {
          ski: fromSki,
          remoteAddress: fromHost,
          remotePort: 1,
          legacySki: false,
          keySha256: simulatedKeySha256(fromSki),
        };
        const decision = listener.handlers.decide(peer);
        const serverSocket = new MemorySocket(this, key);
        const clientSocket = new MemorySocket(this, key);
        serverSocket.peer = clientSocket;
        clientSocket.peer = serverSocket;
        this.open.add(serverSocket);
        this.open.add(clientSocket);
        if (decision.accept) {
          const server = new ShipConnection({
            socket: serverSocket as unknown as WebSocket,
            sme: smeConfig({ localShipId: listener.shipId, ...decision.sme, role: 'server' }),
            remoteSki: fromSki,
            remoteAddress: fromHost,
            remoteKeySha256: simulatedKeySha256(fromSki),
            clock: this.clock,
          });
          listener.handlers.onConnection(server, peer);
          server.start();
        }
        this.later(() => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) {
            clientSocket.terminate();
            return;
          }
          if (!decision.accept && decision.closeCode === undefined) {
            clientSocket.terminate();
            fail(decision.reason);
            return;
          }
          const client = new ShipConnection({
            socket: clientSocket as unknown as WebSocket,
            sme: smeConfig({
              initialTrust: 'trusted',
              ...target.sme,
              role: 'client',
              localShipId: fromShipId,
            }),
            remoteSki: target.expectedSki,
            remoteAddress: target.host,
            remoteKeySha256: simulatedKeySha256(target.expectedSki),
            clock: this.clock,
          });
          target.onConnection(client);
          client.start();
          if (!decision.accept) serverSocket.close(decision.closeCode, decision.reason);
          resolve(client);
        }, handshakeMs / 2);
      }, handshakeMs / 2);
    });
  }

  /** An mDNS provider on this network for one host. */
  mdns(host: string): MdnsProvider & { announcement: MdnsAnnouncement | undefined } {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the provider object's methods use both
    const net = this;
    let own: DiscoveredService | undefined;
    const listeners = new Set<ServiceListener>();
    const provider = {
      name: 'builtin' as const,
      announcement: undefined as MdnsAnnouncement | undefined,
      start: () => Promise.resolve(),
      announce(a: MdnsAnnouncement) {
        provider.announcement = a;
        const service: DiscoveredService = {
          instanceName: a.instanceName,
          hostName: `${host}.local`,
          port: a.port,
          addresses: [{ address: host, family: 4 }],
          record: {
            txtvers: 1,
            shipId: a.txt.shipId,
            path: a.txt.path ?? '/ship/',
            ski: toSki(a.txt.ski),
            announcedSki: a.txt.ski,
            register: a.txt.register,
            brand: a.txt.brand,
            model: a.txt.model,
            type: a.txt.type,
            extra: {},
          },
          ski: toSki(a.txt.ski),
          provider: 'builtin',
          own: false,
        };
        const type = own === undefined ? 'up' : 'update';
        own = service;
        net.announced.set(host, service);
        net.later(() => net.broadcast(host, type, service));
        return Promise.resolve();
      },
      unannounce() {
        if (own !== undefined) {
          const gone = own;
          own = undefined;
          net.announced.delete(host);
          net.later(() => net.broadcast(host, 'down', gone));
        }
        return Promise.resolve();
      },
      onService(listener: ServiceListener) {
        const wrapped: ServiceListener = (event) => {
          if (event.service.addresses[0]?.address === host) return;
          listener(event);
        };
        listeners.add(wrapped);
        net.mdnsListeners.add(wrapped);
        return () => {
          listeners.delete(wrapped);
          net.mdnsListeners.delete(wrapped);
        };
      },
      services: () =>
        [...net.announced.entries()].filter(([h]) => h !== host).map(([, service]) => service),
      async close() {
        await provider.unannounce();
        for (const l of listeners) net.mdnsListeners.delete(l);
        listeners.clear();
      },
    };
    return provider;
  }

  /** Withdraws a host's announcement as if its goodbye was seen (device disappears). */
  vanish(host: string): void {
    const service = this.announced.get(host);
    if (service === undefined) return;
    this.announced.delete(host);
    this.broadcast(host, 'down', service);
  }

  /** Re-announces a vanished host. */
  reappear(host: string, service: DiscoveredService): void {
    this.announced.set(host, service);
    this.broadcast(host, 'up', service);
  }

  announcedService(host: string): DiscoveredService | undefined {
    return this.announced.get(host);
  }

  private broadcast(_host: string, type: 'up' | 'update' | 'down', service: DiscoveredService) {
    for (const listener of [...this.mdnsListeners]) listener({ type, service });
  }
}

export { seededRandom } from './random.js';
