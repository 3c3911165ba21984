/**
 * The production daemon `ship-hub [config.json]`: the composition root. Loads the config, keeps
 * the identity and the trusted devices on disk, runs the hub with mDNS, logs the seed's operator
 * lines, serves the admin API and metrics, asks a person about pairing requests (terminal prompt
 * or CLI through the admin API) and shuts down gracefully.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { failureInfo } from '../errors.js';
import { createHub } from '../hub/create-hub.js';
import type { Hub, DeviceDataHandler, PendingPairing, RemoteDevice } from '../hub/hub.js';
import type { DiscoveredService, MdnsProvider } from '../mdns/types.js';
import { shortSki, toSki, type Ski } from '../ship/ski.js';
import { StateStore } from '../trust/state-store.js';
import { TrustStore, formatTimestamp } from '../trust/trust-store.js';
import { expiryWarning, loadOrCreateIdentity, type NodeIdentity } from '../trust/identity.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { safeTerminalText } from '../util/terminal-text.js';
import { loadOrCreateAdminToken } from './admin-token.js';
import { RefusalLog } from './refusal-log.js';
import { createAdminServer, type AdminHealth, type AdminServer } from './admin-api.js';
import { createAdminBackend } from './admin-backend.js';
import type { HubConfig } from './config.js';
import { listenError, runStartupChecks } from './startup-checks.js';
import { acquireDataLock, dataLockPath, type DataLock } from './data-lock.js';
import type { Logger } from './logger.js';
import { createHubMetrics, type HandshakePhase, type HubMetrics } from './metrics.js';
import * as oplog from './operator-log.js';

/** Connections shorter than this are reported as short-lived (seed log line). */
const SHORT_LIVED_MS = 30_000;
const HEALTH_INTERVAL_MS = 60_000;
const METRICS_INTERVAL_MS = 5 * 60_000;
/** The seed's bound for a graceful shutdown. */
export const SHUTDOWN_BOUND_MS = 30_000;

/** What pairing questions act on (see Daemon.attachPairingQuestions). */
export interface PairingTarget {
  isPending(ski: Ski): boolean;
  /** Approves, trust written first; rejects (the request stays pending) if it cannot be saved. */
  approve(ski: Ski): Promise<void>;
  deny(ski: Ski): boolean;
  /** Brand, model and type of the requesting device, as far as known. */
  label(request: PendingPairing): { brand: string; model: string; device_type: string };
}

/** Something that asks a person about pairing requests, one at a time. */
export interface PairingQuestions {
  ask(request: PendingPairing): void;
  /** The request ended elsewhere (decided through the CLI or API, expired, device gone). */
  withdraw(ski: Ski, why: string): void;
  close(): void;
}

export interface DaemonOptions {
  readonly config: HubConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The application's SPINE layer; by default data is logged at debug level only. */
  readonly setupRemoteDevice?: (device: RemoteDevice) => DeviceDataHandler | undefined;
  /** For tests: replaces the mDNS provider. */
  readonly discovery?: MdnsProvider;
}

export class Daemon {
  readonly config: HubConfig;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private hub: Hub | undefined;
  private trustStore: TrustStore | undefined;
  private stateStore: StateStore | undefined;
  private metrics: HubMetrics | undefined;
  private admin: AdminServer | undefined;
  private identity: NodeIdentity | undefined;
  /** The periodic log timers, one handle per kind (re-armed in place, never accumulated). */
  private readonly timers = new Map<'health' | 'metrics', TimerHandle>();
  private readonly startedAt: number;
  private readonly connectedAt = new Map<Ski, number>();
  private readonly deviceInfo = new Map<
    Ski,
    { brand: string; model: string; device_type: string }
  >();
  private prompt: PairingQuestions | undefined;
  private refusals: RefusalLog | undefined;
  private lastDiscoveredKey = '';
  private ready = false;
  private stopping: Promise<void> | undefined;
  private lock: DataLock | undefined;
  /** Reloads run one after the other (two SIGHUPs in a row). */
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: DaemonOptions) {
    this.config = options.config;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.startedAt = this.clock.now();
  }

  get ski(): Ski | undefined {
    return this.identity?.ski;
  }

  get port(): number | undefined {
    return this.hub?.listeningPort;
  }

  /** The error of the latest failed write of a state file, until a write succeeds again. */
  get lastWriteError(): Error | undefined {
    return this.trustStore?.lastWriteError ?? this.stateStore?.lastWriteError;
  }

  /** False while trusted_devices.json or hub_state.json cannot be written (/healthz: degraded). */
  storageHealthy(): boolean {
    return this.lastWriteError === undefined;
  }

  /** The daemon's state as /healthz reports it. */
  status(): AdminHealth['status'] {
    if (this.stopping !== undefined) return 'stopping';
    if (!this.ready) return 'starting';
    return this.storageHealthy() ? 'ok' : 'degraded';
  }

  /** Starts everything; throws (ConfigError …) with a message naming the file and the problem. */
  async start(): Promise<void> {
    const c = this.config;
    const log = this.logger;

    // Before anything is read or created: a second daemon on the same files must stop here, not
    // create a second identity or overwrite the first one's trust changes.
    this.lock = await acquireDataLock(dataLockPath(c));
    log.debug(
      { event: 'data_lock', file: this.lock.path, pid: process.pid },
      'data directory locked',
    );
    // Every check that needs no creation first (interfaces, identity, trust and token files):
    // a config that cannot start fails here, before an identity or any file is created.
    for (const warning of (await runStartupChecks(c)).warnings) log.warn(warning);

    const { identity, created } = await loadOrCreateIdentity({
      certPath: c.certificate_file,
      keyPath: c.private_key_file,
      commonName: `${c.device_model}-${c.device_serial}`.slice(0, 64),
      organization: c.organization,
      organizationalUnit: c.device_brand,
      country: c.country,
    });
    this.identity = identity;
    log.info(
      { event: 'identity', ski: identity.ski, ship_id: c.ship_id, created },
      created
        ? `🔑 Created a new identity: SKI ${identity.ski} (${c.certificate_file})`
        : `🔑 Loaded identity: SKI ${identity.ski}`,
    );
    const expiry = expiryWarning(identity, this.clock.wallNow());
    if (expiry !== undefined) log.warn({ event: 'certificate_expiry' }, expiry);

    this.trustStore = await TrustStore.open(c.trusted_devices_file, { clock: this.clock });
    this.stateStore = await StateStore.open(c.state_file, {
      clock: this.clock,
      onError: (err) => this.storeError(err),
      // Counters only: a broken file is kept aside for a person and the hub starts anyway.
      onCorrupt: (err, keptAt) =>
        log.warn(
          { event: 'state_file_corrupt', file: c.state_file, kept_at: keptAt, reason: err.message },
          `⚠️  ${c.state_file} was broken and was moved to ${keptAt}; counters start at zero`,
        ),
    });
    await this.stateStore.markStarted();
    this.metrics = createHubMetrics();
    this.metrics.setTrustedDevices(this.trustStore.size);
    for (const d of this.trustStore.list()) {
      this.deviceInfo.set(d.ski, { brand: d.brand, model: d.model, device_type: d.device_type });
    }

    const hub = await createHub({
      identity,
      shipId: c.ship_id,
      port: c.port,
      clock: this.clock,
      logger: log,
      mdns: this.options.discovery ?? (c.mdns_enabled ? c.mdns_provider : false),
      interfaces: c.network_interfaces,
      acceptLegacySki: c.accept_legacy_ski,
      maxHandshakesInFlight: c.max_handshakes_in_flight,
      announce: {
        brand: c.device_brand,
        model: c.device_model,
        type: c.device_type,
        serial: c.device_serial,
      },
      trustStore: this.trustStore,
      doubleConnectionRule: c.double_connection_rule,
      maxConnections: c.max_connections,
      pendingPairingTimeoutMs: c.pending_pairing_timeout_seconds * 1000,
      maxPendingPairings: c.max_pending_pairings,
      deniedPairingCooldownMs: c.denied_pairing_cooldown_seconds * 1000,
      setupRemoteDevice:
        this.options.setupRemoteDevice ??
        ((device) => ({
          onData: (payload) => log.debug({ peerSki: device.ski, payload }, 'SPINE data'),
        })),
    });
    this.hub = hub;
    this.wire(hub);
    const port = await hub.start().catch((err: unknown) => {
      throw listenError(err, 'port', c.port);
    });
    const mdnsName = hub.discoveryName;
    log.info(
      { event: 'listening', port, ski: identity.ski, ship_id: c.ship_id, mdns: mdnsName },
      `🚀 SHIP hub listening on port ${port} (SHIP ID ${c.ship_id}, mDNS ${mdnsName ?? 'off'})`,
    );

    if (c.admin_port !== 0) {
      this.admin = createAdminServer({
        backend: createAdminBackend({
          hub,
          trust: this.trustStore,
          clock: this.clock,
          logger: this.logger,
          shipId: c.ship_id,
          ski: identity.ski,
          startedAt: this.startedAt,
          isReady: () => this.ready,
          status: () => this.status(),
          storageError: () => this.lastWriteError?.message,
          describe: (ski, pending) => this.describe(ski, pending),
          remember: (ski, info) => this.deviceInfo.set(ski, info),
          approvePending: (pending) => this.approvePairing(pending),
        }),
        registry: c.metrics_enabled ? this.metrics.registry : undefined,
        logger: log, // binds component "admin-api" itself
        // The token file always exists (the CLI and scrapers can rely on it); admin_token, when
        // configured, keeps working beside it.
        token: [
          await loadOrCreateAdminToken(c.admin_token_file),
          ...(c.admin_token === undefined ? [] : [c.admin_token]),
        ],
        host: c.admin_host,
        port: c.admin_port,
        allowedHosts: c.admin_allowed_hosts,
      });
      const { url } = await this.admin.listen().catch((err: unknown) => {
        throw listenError(err, 'admin_port', c.admin_port, c.admin_host);
      });
      log.info({ event: 'admin_listening', url }, `🛠️  Admin API on ${url}`);
    }

    if (c.auto_accept_pairing) await this.openFirstStartAutoAccept(hub, identity.ski);
    this.schedule();
    this.ready = true;
  }

  /**
   * auto_accept_pairing opens a window at start at most once per identity, and only while
   * nothing is trusted yet (the first installation). A restart, clean or after a crash, never
   * reopens it by itself: otherwise an attacker who makes the hub crash is auto-accepted on the
   * restart. The use is recorded durably in auto_accept_used.json (next to the trust file)
   * before the window opens; a marker that cannot be read counts as used (fail closed).
   */
  private async openFirstStartAutoAccept(hub: Hub, ski: Ski): Promise<void> {
    const c = this.config;
    const log = this.logger;
    const marker = join(dirname(c.trusted_devices_file), AUTO_ACCEPT_MARKER);
    const notOpened = (why: string): void => {
      log.info(
        { event: 'auto_accept_not_opened', reason: why },
        `🔒 Auto-accept not opened at start: ${why}; pair with the prompt or ` +
          '`ship-hub pairing approve`',
      );
    };
    if ((this.trustStore?.size ?? 0) > 0) {
      notOpened('devices are paired already');
      return;
    }
    const used = await readAutoAcceptMarker(marker);
    if (used === 'unreadable') {
      notOpened(`${marker} cannot be read (counted as used)`);
      return;
    }
    if (used?.ski === ski) {
      notOpened(`the first-start window of this identity was used at ${used.opened_at}`);
      return;
    }
    const openedAt = formatTimestamp(this.clock.wallNow());
    await writeFileAtomic(marker, `${JSON.stringify({ ski, opened_at: openedAt }, null, 2)}\n`, {
      mode: 0o600,
    });
    await hub.openAutoAcceptWindow(c.auto_accept_window_seconds * 1000);
    log.warn(
      { event: 'auto_accept_open', seconds: c.auto_accept_window_seconds },
      `⚠️  AUTO-ACCEPT is open for ${c.auto_accept_window_seconds} s: any device may pair now ` +
        '(first start of this identity only)',
    );
  }

  /** Graceful shutdown (SIGINT/SIGTERM): the same promise for every caller. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.ready = false;
    this.logger.info({ event: 'shutdown' }, '🛑 Shutting down');
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.prompt?.close();
    await this.hub?.stop(5_000);
    this.refusals?.close();
    await this.admin?.close();
    await this.trustStore?.flush();
    // A full disk must not keep the lock from being released: the counters are lost, not more.
    await this.stateStore?.close().catch((err: unknown) => this.storeError(err));
    await this.lock?.release();
    this.logger.info({ event: 'stopped' }, '👋 Stopped');
  }

  /**
   * SIGHUP: reads trusted_devices.json again (after a person edited it) and applies the
   * difference to the hub: new entries are trusted, removed ones are un-paired (SHIP close). An
   * invalid file changes nothing: the error names the file and the old state stays. Logs
   * "reloaded" (event `reloaded`) or "reload_failed".
   */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.doReload());
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    const log = this.logger;
    const trust = this.trustStore;
    const hub = this.hub;
    const file = this.config.trusted_devices_file;
    if (!this.ready || this.stopping !== undefined || trust === undefined || hub === undefined) {
      log.warn({ event: 'reload_skipped', file }, `reload of ${file} skipped: not running`);
      return;
    }
    let result;
    try {
      result = await trust.reload();
    } catch (err) {
      log.error(
        { event: 'reload_failed', file, err },
        `❌ reload of ${file} failed, keeping the ${trust.size} trusted devices in memory: ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
      return;
    }
    for (const ski of result.added) {
      const d = trust.get(ski);
      if (d !== undefined) {
        this.deviceInfo.set(ski, { brand: d.brand, model: d.model, device_type: d.device_type });
      }
    }
    await hub.trustReloaded(result);
    this.metrics?.setTrustedDevices(trust.size);
    log.info(
      {
        event: 'reloaded',
        file,
        trusted_devices: result.size,
        added: result.added,
        removed: result.removed,
      },
      `🔄 reloaded ${file}: ${result.size} trusted devices (+${result.added.length}, -${result.removed.length})`,
    );
  }

  /**
   * Approves a pending pairing. The hub has the trust store write it first: if the file cannot
   * be written the request stays pending and this throws SHIPHUB_ERR_STORAGE, so no device is
   * trusted that a restart would forget.
   */
  private async approvePairing(pending: PendingPairing): Promise<void> {
    const info = this.describe(pending.ski, pending);
    await this.hub!.approve(pending.ski, {
      brand: info.brand,
      model: info.model,
      deviceType: info.device_type,
    });
  }

  // ------------------------------------------------------------------------------------------

  private wire(hub: Hub): void {
    const log = this.logger;
    const metrics = this.metrics!;
    const trust = this.trustStore!;
    const state = this.stateStore!;

    hub.on('servicesChanged', (services) => this.logDiscovered(services));
    hub.on('pairingRequest', (pending) => {
      const info = this.describe(pending.ski, pending);
      oplog.trustDecisionRequested(log, pending.ski, {
        ...info,
        address: pending.remoteAddress,
      });
      metrics.setPendingPairings(hub.pendingPairings().length);
      if (this.prompt !== undefined) {
        this.prompt.ask(pending);
      } else {
        log.info(
          { event: 'pairing_hint', ski: pending.ski },
          `   decide with: ship-hub pairing approve ${safeTerminalText(pending.ski)} (or deny)`,
        );
      }
    });
    hub.on('trustDecision', (ski, decision) => {
      // Decided through the CLI, the API or by expiry while the question is on screen.
      this.prompt?.withdraw(ski, `${shortSki(ski)} was ${decision.replace('_', '-')} meanwhile`);
      metrics.trustDecision(decision);
      metrics.setPendingPairings(hub.pendingPairings().length);
      if (decision === 'approved') oplog.userApproved(log, ski);
      else if (decision === 'denied') oplog.userDenied(log, ski);
      else if (decision === 'expired') oplog.pairingExpired(log, ski);
      else
        log.warn(
          { event: 'auto_accepted', ski },
          `⚠️  Auto-accepted device: ${safeTerminalText(shortSki(ski))}`,
        );
    });
    // The hub keeps trust in the trust store (trusted_devices.json) itself; the daemon only
    // reports what changed. A reload is reported as one "reloaded" line instead.
    hub.on('trustChanged', (ski, trusted, cause) => {
      if (cause === 'rolled_back') {
        log.warn(
          { event: 'trust_rolled_back', ski },
          `⚠️  trust of ${safeTerminalText(shortSki(ski))} undone: it could not be saved`,
        );
      } else if (cause !== 'reloaded') {
        if (trusted) oplog.trustedDeviceAdded(log, { ski, ...this.describe(ski) });
        else oplog.trustedDeviceRemoved(log, ski);
      }
      metrics.setTrustedDevices(trust.size);
    });
    hub.on('trustStoreError', (err) => {
      this.storeError(err);
      metrics.setTrustedDevices(trust.size);
    });
    hub.on('connected', (device) => {
      this.connectedAt.set(device.ski, this.clock.now());
      oplog.deviceConnected(log, device.ski, {
        direction: device.direction,
        address: device.remoteAddress,
      });
      metrics.connectionOpened(device.direction);
      state.recordConnection();
      state.recordHandshake();
      this.updateConnectionGauges();
    });
    hub.on('disconnected', (ski, info) => {
      const since = this.connectedAt.get(ski);
      this.connectedAt.delete(ski);
      const duration = since === undefined ? info.durationMs : this.clock.now() - since;
      oplog.deviceDisconnected(log, ski, duration, {
        ...(info.failure ? { reason: info.failure.message } : {}),
      });
      // Only unplanned ends are worth a warning: not our shutdown, un-pairing or duplicate drop.
      if (
        this.stopping === undefined &&
        oplog.isUnplannedShortLived(info, duration, SHORT_LIVED_MS)
      ) {
        oplog.shortLivedConnection(log, ski, duration);
      }
      this.updateConnectionGauges();
    });
    hub.on('keyPinned', (ski, keySha256) => {
      log.debug(
        { event: 'key_pinned', ski, key_sha256: keySha256 },
        `key of ${shortSki(ski)} pinned`,
      );
    });
    hub.on('pairingWithdrawn', (ski) => {
      this.prompt?.withdraw(ski, `${shortSki(ski)} left or reconnected`);
      metrics.setPendingPairings(hub.pendingPairings().length);
    });
    hub.on('pairingRefusedDenied', (ski, until) => {
      log.debug(
        { event: 'pairing_refused_denied', ski, until: until.toISOString() },
        `denied device ${shortSki(ski)} asked again; refused without a question until ${until.toISOString()}`,
      );
    });
    const refusals = new RefusalLog(log, this.clock);
    this.refusals = refusals;
    hub.on('connectionFailed', ({ ski, reason, error, refusedFrom }) => {
      // The hub's own admission refusing a connection is not a device error: aggregated per
      // source at warn level (a flood from one host must not flood the log).
      if (refusedFrom !== undefined) refusals.record(refusedFrom, reason);
      else oplog.deviceError(log, ski ?? 'unknown', reason);
      // The failure table names the metric label of each code (src/errors.ts).
      const kind = failureInfo(error).metricLabel;
      metrics.connectionFailed(kind);
      // total = every connection with an outcome (data exchange reached, or failed before it),
      // so failed <= total and (total - failed) / total is the success rate (docs/metrics.md).
      state.recordConnection();
      state.recordFailedConnection(
        kind === 'trust_rejected' ? 'trust_rejected' : 'connection_failed',
      );
    });
    hub.on('pairingState', (ski, update) => {
      if (update.state === 'error' || update.state === 'remoteDeniedTrust') {
        oplog.connectionState(
          log,
          ski,
          `ConnectionState${capitalise(update.state)}`,
          this.clock.wallNow(),
        );
      }
    });
    hub.on('connectionLimit', (active, max) => oplog.connectionLimitApproaching(log, active, max));
    hub.on('handshakePhase', (_ski, phase, durationMs) => {
      const mapped = PHASE_METRIC[phase];
      if (mapped !== undefined) metrics.observeHandshakePhase(mapped, durationMs / 1000);
    });
    hub.on('reconnectScheduled', () => metrics.reconnect());
    hub.on('autoAccept', (open) => {
      if (!open) log.info({ event: 'auto_accept_closed' }, '🔒 Auto-accept window closed');
    });
  }

  private updateConnectionGauges(): void {
    const hub = this.hub;
    if (hub === undefined || this.metrics === undefined) return;
    const counts = { handshake: 0, pending_trust: 0, data: 0, closing: 0 };
    for (const c of hub.connections()) {
      if (c.state === 'SME_STATE_COMPLETE' || c.state === 'SME_ACCESS_METHODS_REQUEST')
        counts.data++;
      else if (c.state === 'SME_HELLO_STATE_PENDING_LISTEN') counts.pending_trust++;
      else if (c.state === 'CLOSING_ANNOUNCED') counts.closing++;
      else counts.handshake++;
    }
    this.metrics.setConnectionCounts(counts);
  }

  /** Brand, model and type of a device: from its pending request, mDNS record or trust entry. */
  private describe(
    ski: Ski,
    pending?: PendingPairing,
  ): { brand: string; model: string; device_type: string } {
    const service = this.hub?.services().find((s) => s.ski === ski);
    const known = this.deviceInfo.get(ski);
    const info = {
      brand: pending?.brand ?? service?.record.brand ?? known?.brand ?? '',
      model: pending?.model ?? service?.record.model ?? known?.model ?? '',
      device_type: pending?.deviceType ?? service?.record.type ?? known?.device_type ?? '',
    };
    this.deviceInfo.set(ski, info);
    return info;
  }

  private logDiscovered(services: DiscoveredService[]): void {
    const others = services.filter((s) => !s.own);
    const key = others
      .map((s) => `${s.ski}/${s.addresses[0]?.address ?? ''}`)
      .sort()
      .join(',');
    if (key === this.lastDiscoveredKey) return;
    this.lastDiscoveredKey = key;
    for (const s of others) this.describe(s.ski);
    oplog.discovered(
      this.logger,
      others.map((s) => ({
        ski: s.ski,
        brand: s.record.brand,
        model: s.record.model,
        address: s.addresses[0]?.address,
        trusted: this.trustStore?.has(s.ski) ?? false,
      })),
    );
  }

  private schedule(): void {
    // Each run re-arms its own timer; the map keeps only the current handle, so a daemon that
    // runs for months holds two timers, not one more per minute.
    const every = (kind: 'health' | 'metrics', name: string, ms: number, run: () => void) => {
      const tick = () => {
        if (this.stopping !== undefined) return;
        run();
        this.timers.set(kind, this.clock.setTimer(name, ms, tick));
      };
      this.timers.set(kind, this.clock.setTimer(name, ms, tick));
    };
    every('health', 'healthCheck', HEALTH_INTERVAL_MS, () => {
      const snapshot = this.stateStore!.snapshot;
      oplog.healthCheck(this.logger, {
        uptimeMs: this.clock.now() - this.startedAt,
        // Devices in data exchange now, each counted in `total` when it got there.
        connections: this.connectedAt.size,
        total: snapshot.total_connections,
        failed: snapshot.failed_connections,
        activeHandles: oplog.activeHandleCount(),
      });
    });
    if (this.config.metrics_enabled) {
      every('metrics', 'metricsReport', METRICS_INTERVAL_MS, () => {
        const snapshot = this.stateStore!.snapshot;
        oplog.metricsReport(this.logger, {
          uptimeMs: this.clock.now() - this.startedAt,
          active: this.connectedAt.size,
          total: snapshot.total_connections,
          failed: snapshot.failed_connections,
          handshakes: snapshot.handshakes,
          trustedDevices: this.trustStore?.size ?? 0,
          errorCounts: snapshot.error_counts,
        });
      });
    }
  }

  private storeError(err: unknown): void {
    this.logger.error({ err, event: 'store_error' }, 'writing a state file failed');
  }

  // Pairing questions (the terminal prompt of src/cli/pairing-prompt.ts) -----------------------

  /**
   * Lets a person answer pairing requests as they come (the seed's terminal question): the
   * questions are asked through what `create` returns, starting with the requests open now.
   */
  attachPairingQuestions(create: (target: PairingTarget) => PairingQuestions): void {
    this.prompt?.close();
    const prompt = create({
      isPending: (ski) => this.hub?.pendingPairings().some((p) => p.ski === ski) ?? false,
      approve: async (ski) => {
        const pending = this.hub?.pendingPairings().find((p) => p.ski === ski);
        if (pending === undefined) return;
        await this.approvePairing(pending).catch((err: unknown) => {
          this.storeError(err);
          throw err;
        });
      },
      deny: (ski) => this.hub?.deny(ski) ?? false,
      label: (request) => this.describe(request.ski, request),
    });
    this.prompt = prompt;
    for (const pending of this.hub?.pendingPairings() ?? []) prompt.ask(pending);
  }
}

const PHASE_METRIC: Record<string, HandshakePhase | undefined> = {
  cmi: 'cmi',
  hello: 'hello',
  protocol: 'protocol',
  pin: 'pin',
  access_methods: 'access_methods',
  total: 'total',
};

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Parses a user-typed SKI for the CLI (throws a TypeError naming the input). */
export function cliSki(text: string): Ski {
  return toSki(text);
}

/** Records that the first-start auto-accept window of an identity was used. */
export const AUTO_ACCEPT_MARKER = 'auto_accept_used.json';

async function readAutoAcceptMarker(
  path: string,
): Promise<{ ski: string; opened_at: string } | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unreadable';
  }
  try {
    const data: unknown = JSON.parse(text);
    if (typeof data === 'object' && data !== null && 'ski' in data && 'opened_at' in data) {
      const { ski, opened_at } = data;
      if (typeof ski === 'string' && typeof opened_at === 'string') return { ski, opened_at };
    }
  } catch {
    // Falls through: not ours to repair; counted as used.
  }
  return 'unreadable';
}
