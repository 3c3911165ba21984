/**
 * The SHIP hub: announces this node, discovers others, keeps exactly one healthy connection to
 * every trusted device, brings new devices through pairing under a person's control, and hands
 * each connected device's data channel to the application (the SPINE layer).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { CloseCode, CloseReasonText } from '../ship/close-codes.js';
import type { CloseReason } from '../ship/messages.js';
import { toSki, type Ski } from '../ship/ski.js';
import type { DiscoveredService } from '../mdns/types.js';
import type { Clock } from '../util/clock.js';
import { AddressRateLimiter, Admission } from './admission.js';
import { Dialer } from './dialer.js';
import { ConnectionTracker } from './connection-tracker.js';
import {
  AutoAcceptWindow,
  DEFAULT_PENDING_TIMEOUT_MS,
  DenialList,
  PairingRequests,
} from './pairing.js';
import { PeerRegistry, type PeerEntry } from './peer-registry.js';
import { PeerLocator } from './locator.js';
import { TrustKeeper } from './trust-keeper.js';
import type { SpineDriver } from './spine-driver.js';
import type { HubDevice, SpineDeviceSummary } from './spine-summary.js';
import type { DoubleConnectionRule } from './policy.js';
import { MemoryTrustStore, type HubTrustStore } from './trust-port.js';
import type {
  ConnectionSummary,
  DeniedPairing,
  DeviceDescription,
  HubEmit,
  HubEvents,
  HubLifecycle,
  HubOptions,
  PairingState,
  PairingStateUpdate,
  PendingPairing,
} from './types.js';

export type * from './types.js';
export { DEFAULT_MAX_RATE_LIMITED_ADDRESSES } from './admission.js';
export { DEFAULT_DENIED_PAIRING_COOLDOWN_MS } from './pairing.js';

const DEFAULT_MAX_CONNECTIONS = 20;
export const DEFAULT_MAX_PENDING_PAIRINGS = 5;
export const DEFAULT_MAX_IDLE_UNKNOWN_PEERS = 1_024;

export class Hub extends EventEmitter<HubEvents> {
  readonly localSki: Ski;
  readonly localShipId: string;
  /** The SPINE driver running a session per device in data exchange, if any. */
  readonly spine: SpineDriver | undefined;
  private readonly options: HubOptions;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly peers: PeerRegistry;
  private readonly locator: PeerLocator;
  private readonly rateLimiter: AddressRateLimiter;
  private readonly denials: DenialList;
  private readonly autoAccept: AutoAcceptWindow;
  private readonly dialer: Dialer;
  private readonly admission: Admission;
  private readonly pairing: PairingRequests;
  private readonly tracker: ConnectionTracker;
  private readonly trustKeeper: TrustKeeper;
  private readonly random: () => number;
  private readonly rule: DoubleConnectionRule;
  private readonly maxConnections: number;
  private readonly maxPendingPairings: number;
  private readonly trust: HubTrustStore;
  private port: number | undefined;
  private lifecycle: HubLifecycle = 'idle';
  private starting: Promise<number> | undefined;
  private stopped: Promise<void> | undefined;
  private unsubscribeDiscovery: (() => void) | undefined;

  constructor(options: HubOptions) {
    super();
    this.options = options;
    this.spine = options.spine;
    this.localSki = options.localSki;
    this.localShipId = options.localShipId;
    this.clock = options.clock;
    this.logger = options.logger?.child({ component: 'hub' });
    this.random = options.random ?? Math.random;
    this.rule = options.doubleConnectionRule ?? 'spec';
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.maxPendingPairings = Math.min(
      options.maxPendingPairings ?? DEFAULT_MAX_PENDING_PAIRINGS,
      this.maxConnections,
    );
    if (options.trustStore !== undefined && options.trusted !== undefined) {
      throw new TypeError('HubOptions: give either trustStore or trusted, not both');
    }
    const seeds = [...(options.trusted ?? [])];
    this.trust = options.trustStore ?? new MemoryTrustStore(seeds);
    this.peers = new PeerRegistry(
      (ski) => this.trust.has(ski),
      options.maxIdleUnknownPeers ?? DEFAULT_MAX_IDLE_UNKNOWN_PEERS,
    );
    this.rateLimiter = new AddressRateLimiter(
      options.connectionsPerAddressPerMinute,
      options.maxRateLimitedAddresses,
    );
    this.denials = new DenialList(this.clock, options.deniedPairingCooldownMs);
    this.autoAccept = new AutoAcceptWindow(this.clock, () => void this.closeAutoAcceptWindow());
    this.admission = new Admission({
      peers: this.peers,
      trust: this.trust,
      rateLimiter: this.rateLimiter,
      clock: this.clock,
      logger: this.logger,
      rule: this.rule,
      localSki: this.localSki,
      maxConnections: this.maxConnections,
      maxPendingPairings: this.maxPendingPairings,
      sme: options.sme,
      isStopping: () => this.stopping,
      autoAcceptOpen: () => this.autoAcceptOpen,
    });
    this.locator = new PeerLocator({
      localSki: this.localSki,
      peers: this.peers,
      trust: this.trust,
      staticPeers: options.staticPeers,
      dialer: () => this.dialer,
      servicesChanged: (services, event) => this.emit('servicesChanged', services, event),
    });
    // EventEmitter's own emit typing does not accept a generic key; the events are HubEvents.
    const emit = this.emit.bind(this) as HubEmit;
    this.pairing = new PairingRequests({
      peers: this.peers,
      clock: this.clock,
      denials: this.denials,
      pendingTimeoutMs: options.pendingPairingTimeoutMs ?? DEFAULT_PENDING_TIMEOUT_MS,
      emit,
      canWaitForTrust: options.canWaitForTrust,
      visible: (ski) => this.locator.service(ski),
      setPairingState: (entry, update) => this.setPairingState(entry, update),
    });
    this.dialer = new Dialer({
      peers: this.peers,
      localSki: this.localSki,
      transport: options.transport,
      clock: this.clock,
      random: this.random,
      rule: this.rule,
      sme: options.sme,
      logger: this.logger,
      isActive: () => this.active,
      isTrusted: (ski) => this.trust.has(ski),
      route: (ski) => this.locator.route(ski),
      reconnectScheduled: (ski, attempt, delayMs) =>
        this.emit('reconnectScheduled', ski, attempt, delayMs),
      dialFailed: (ski, error) =>
        this.emit('connectionFailed', {
          ski,
          reason: error.message,
          error,
          trusted: this.trust.has(ski),
        }),
      setPairingState: (entry, update) => this.setPairingState(entry, update),
      track: (connection, direction) => this.tracker.track(connection, direction),
      dropOthers: (entry, keep) => this.admission.dropOthers(entry, keep),
    });
    this.trustKeeper = new TrustKeeper({
      trust: this.trust,
      peers: this.peers,
      denials: this.denials,
      pairing: this.pairing,
      dialer: this.dialer,
      emit,
      visible: (ski) => this.locator.service(ski),
      setPairingState: (entry, update) => this.setPairingState(entry, update),
    });
    this.tracker = new ConnectionTracker({
      peers: this.peers,
      trust: this.trust,
      clock: this.clock,
      logger: this.logger,
      emit,
      pairing: this.pairing,
      dialer: this.dialer,
      maxConnections: this.maxConnections,
      setupRemoteDevice: options.setupRemoteDevice ?? options.spine?.setupRemoteDevice,
      isStopping: () => this.stopping,
      keyMismatch: (entry, keySha256) => this.admission.keyMismatch(entry, keySha256),
      setPairingState: (entry, update) => this.setPairingState(entry, update),
      autoAccepted: (entry) => this.trustKeeper.autoAccepted(entry),
    });
    for (const t of seeds) {
      if (t.shipId !== undefined) this.peers.entry(toSki(t.ski)).shipId = t.shipId;
    }
  }

  /** Where the hub is in its lifecycle. */
  get state(): HubLifecycle {
    return this.lifecycle;
  }

  /** Accepting and dialling (also while `start()` brings discovery up). */
  private get active(): boolean {
    return this.lifecycle === 'starting' || this.lifecycle === 'running';
  }

  private get stopping(): boolean {
    return this.lifecycle === 'stopping';
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Starts accepting, announcing and browsing. Resolves with the bound port. Idempotent while
   * starting or running; when it fails, what it opened is closed again and the hub is `idle`.
   */
  start(): Promise<number> {
    if (this.lifecycle === 'running') return Promise.resolve(this.port ?? 0);
    if (this.lifecycle === 'starting' && this.starting !== undefined) return this.starting;
    if (this.lifecycle === 'stopping') {
      return Promise.reject(new Error('the hub is stopping; start it again after stop() resolved'));
    }
    this.lifecycle = 'starting';
    this.starting = this.doStart().then(
      (port) => {
        this.lifecycle = 'running';
        return port;
      },
      async (error: unknown) => {
        await this.rollBackStart();
        this.lifecycle = 'idle';
        throw error;
      },
    );
    return this.starting;
  }

  private async doStart(): Promise<number> {
    this.port = await this.options.transport.listen({
      admit: (address) => this.admission.admit(address),
      released: () => undefined,
      decide: (peer) => this.admission.decide(peer),
      onConnection: (connection) => this.tracker.track(connection, 'inbound'),
      onRefused: (info) => {
        this.logger?.debug(info, 'incoming connection refused');
        if (info.ski !== undefined) this.peers.forgetIfIdle(this.peers.get(info.ski));
        this.emit('connectionFailed', {
          ski: info.ski,
          reason: info.reason,
          error: info.error,
          refusedFrom: info.remoteAddress,
          trusted: info.ski !== undefined && this.trust.has(info.ski),
        });
      },
    });
    const discovery = this.options.discovery;
    if (discovery !== undefined) {
      this.unsubscribeDiscovery = discovery.onService((event) => {
        this.locator.onServiceEvent(event);
      });
      await discovery.start();
      await this.announce();
      for (const service of discovery.services()) {
        this.locator.onServiceEvent({ type: 'up', service });
      }
    }
    this.locator.dialStaticPeers();
    return this.port;
  }

  /** Undoes a failed start: nothing stays listening, subscribed or announced. */
  private async rollBackStart(): Promise<void> {
    this.unsubscribeDiscovery?.();
    this.unsubscribeDiscovery = undefined;
    this.dialer.cancelAll();
    await this.options.transport.close().catch(() => undefined);
    await this.options.discovery?.close().catch(() => undefined);
    this.port = undefined;
  }

  /**
   * Graceful stop: stop accepting, mDNS goodbye, SHIP close announce to every peer and wait for
   * the confirms (up to maxTime), then drop what is left.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.lifecycle === 'starting') await this.starting?.catch(() => undefined);
    if (this.lifecycle === 'stopping') return this.stopped;
    if (this.lifecycle !== 'running') return;
    this.lifecycle = 'stopping';
    this.stopped = this.doStop(timeoutMs);
    return this.stopped;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    this.autoAccept.close();
    this.dialer.cancelAll();
    for (const entry of this.peers.values()) entry.pending?.timer.cancel();
    this.unsubscribeDiscovery?.();
    await this.options.transport.close();
    if (this.options.discovery !== undefined) {
      await this.options.discovery.close().catch((err: unknown) => {
        this.logger?.warn({ err }, 'mDNS did not stop cleanly');
      });
    }
    const closing: Array<Promise<unknown>> = [];
    for (const entry of this.peers.values()) {
      for (const t of entry.connections) closing.push(t.connection.close('unspecific', 'shutdown'));
    }
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimer('stopTimeout', timeoutMs, () => {
        for (const entry of this.peers.values()) {
          for (const t of entry.connections) {
            void t.connection.terminate(CloseCode.shipClose, CloseReasonText.shipClose);
          }
        }
        resolve();
      });
      void Promise.all(closing).then(() => {
        timer.cancel();
        resolve();
      });
    });
    this.lifecycle = 'stopped';
  }

  get listeningPort(): number | undefined {
    return this.port;
  }

  /** The mDNS provider's name ('avahi', 'builtin'...), undefined without discovery. */
  get discoveryName(): string | undefined {
    return this.options.discovery?.name;
  }

  // ------------------------------------------------------------------------------------------
  // Trust and pairing

  /**
   * Trusts a SKI (pairing by SKI, approving a request, or approving before the device is seen).
   * The trust store holds it durably before anything else happens: when it cannot be saved this
   * rejects (SHIPHUB_ERR_STORAGE from the file store), a request stays pending and nothing is
   * trusted that a restart would forget.
   */
  registerRemoteSki(skiText: string, info: DeviceDescription = {}): Promise<void> {
    return this.trustKeeper.register(skiText, info);
  }

  /**
   * Removes trust: the trust store first (when that fails this rejects and nothing changed),
   * then the connections are closed (SHIP close) and pending state forgotten. Resolves to false
   * if the SKI was not trusted.
   */
  unregisterRemoteSki(skiText: string): Promise<boolean> {
    return this.trustKeeper.unregister(skiText);
  }

  /**
   * The trust store was re-read (the daemon's SIGHUP after a person edited the file): devices
   * that came in are dialled when visible, those that went are disconnected.
   */
  trustReloaded(changes: {
    readonly added: readonly string[];
    readonly removed: readonly string[];
  }): Promise<void> {
    return this.trustKeeper.reloaded(changes);
  }

  isTrusted(skiText: string): boolean {
    return this.trust.has(skiText);
  }

  trustedSkis(): Ski[] {
    return this.trust.list().map((e) => e.ski);
  }

  /** Approves a pending pairing request (or pre-approves an SKI not seen yet); see registerRemoteSki. */
  approve(skiText: string, info: DeviceDescription = {}): Promise<void> {
    return this.registerRemoteSki(skiText, info);
  }

  /** Denies a pending pairing request; false if nothing was pending for that SKI. */
  deny(skiText: string): boolean {
    const entry = this.peers.get(toSki(skiText));
    if (entry?.pending === undefined) return false;
    this.pairing.resolve(entry, 'denied');
    return true;
  }

  /** Devices denied by a person whose cool-down has not ended (`pairing list`). */
  deniedPairings(): DeniedPairing[] {
    return this.denials.list();
  }

  /** Ends a denial cool-down (`pairing forget SKI`): the device may ask again. */
  forgetDenial(skiText: string): boolean {
    return this.denials.forget(toSki(skiText));
  }

  pendingPairings(): PendingPairing[] {
    return this.pairing.list();
  }

  /**
   * Opens an auto-accept window (SHIP §12.3.1.1): for at most 2 minutes unknown devices are
   * accepted and `register=true` is announced. Never a permanent switch.
   */
  async openAutoAcceptWindow(durationMs: number): Promise<void> {
    const untilMs = this.autoAccept.open(durationMs);
    this.emit('autoAccept', true, untilMs);
    await this.announce();
  }

  async closeAutoAcceptWindow(): Promise<void> {
    if (!this.autoAccept.close()) return;
    this.emit('autoAccept', false, undefined);
    await this.announce();
  }

  get autoAcceptOpen(): boolean {
    return this.autoAccept.isOpen;
  }

  // ------------------------------------------------------------------------------------------
  // Views

  services(): DiscoveredService[] {
    return this.locator.services();
  }

  connections(): ConnectionSummary[] {
    return this.peers.summaries(this.clock.now());
  }

  /**
   * Every device in data exchange with its SPINE description (type, entities, use cases,
   * manufacturer, heartbeat, live values; spine-protocol.md §5–§11); [] without SPINE.
   */
  devices(): HubDevice[] {
    const summaries = this.spine?.summaries() ?? new Map<Ski, SpineDeviceSummary>();
    return [...summaries].map(([ski, summary]) => ({ ski, ...summary }));
  }

  /** Connections that are open (any phase). */
  get openConnectionCount(): number {
    return this.peers.openConnectionCount();
  }

  pairingState(skiText: string): PairingState {
    return this.peers.get(toSki(skiText))?.pairingState ?? 'none';
  }

  /** Closes the connection to a SKI with a SHIP close without un-pairing (it reconnects). */
  async disconnect(skiText: string, reason: CloseReason = 'unspecific'): Promise<void> {
    const entry = this.peers.get(toSki(skiText));
    if (entry === undefined) return;
    await Promise.all([...entry.connections].map((t) => t.connection.close(reason)));
  }

  /** How many SKIs the hub holds state for (bounded; for tests and diagnostics). */
  get peerTableSize(): number {
    return this.peers.size;
  }

  /** How many remote addresses the per-address rate limit remembers (bounded). */
  get rateLimitTableSize(): number {
    return this.rateLimiter.size;
  }

  // ------------------------------------------------------------------------------------------

  private setPairingState(entry: PeerEntry, update: PairingStateUpdate): void {
    if (entry.pairingState === update.state && update.reason === undefined) return;
    entry.pairingState = update.state;
    this.emit('pairingState', entry.ski, update);
  }

  private async announce(): Promise<void> {
    const discovery = this.options.discovery;
    const port = this.port;
    if (discovery === undefined || port === undefined || this.stopping) return;
    const a = this.options.announce;
    await discovery.announce({
      instanceName: a?.instanceName ?? this.localShipId,
      port,
      txt: {
        shipId: this.localShipId,
        ski: this.localSki,
        path: a?.path ?? '/ship/',
        brand: a?.brand ?? '',
        model: a?.model ?? '',
        type: a?.type ?? '',
        register: this.autoAcceptOpen,
        ...(a?.serial !== undefined ? { serial: a.serial } : {}),
        ...(a?.categories !== undefined ? { categories: a.categories } : {}),
      },
    });
  }
}
