/**
 * The production daemon `ship-hub [config.json]`: its lifecycle. Takes the data-directory lock,
 * runs the start-up checks (startup-checks.ts), loads or creates the identity, opens the trust
 * and state stores, builds the hub through createHub (the one composition root) with the trust
 * store as the owner of trust, serves the admin API (admin-backend.ts), reports what the hub does
 * (hub-reporter.ts: operator lines, metrics, counters), reloads the trust file on SIGHUP, lets a
 * person answer pairing requests (attachPairingQuestions; the terminal prompt is in src/cli) and
 * shuts down gracefully.
 */
import { createHub } from '../hub/create-hub.js';
import type { Hub, DeviceDataHandler, PendingPairing, RemoteDevice } from '../hub/hub.js';
import type { MdnsProvider } from '../mdns/types.js';
import { toSki, type Ski } from '../ship/ski.js';
import { ShipHubError } from '../util/errors.js';
import { StateStore } from '../trust/state-store.js';
import { TrustStore } from '../trust/trust-store.js';
import { expiryWarning, loadOrCreateIdentity, type NodeIdentity } from '../trust/identity.js';
import { systemClock, type Clock } from '../util/clock.js';
import { loadOrCreateAdminToken } from './admin-token.js';
import { HubReporter } from './hub-reporter.js';
import { AUTO_ACCEPT_MARKER, openFirstStartAutoAccept } from './auto-accept.js';
import { createAdminServer, type AdminHealth, type AdminServer } from './admin-api.js';
import { createAdminBackend } from './admin-backend.js';
import { parsePeerEntry, type HubConfig } from './config.js';
import { SpineReporter } from './spine-reporter.js';
import { listenError, probePort, runStartupChecks } from './startup-checks.js';
import { acquireDataLock, dataLockPath, type DataLock } from './data-lock.js';
import type { Logger } from './logger.js';
import { createHubMetrics, type HubMetrics } from './metrics.js';

export { AUTO_ACCEPT_MARKER };

/** The seed's bound for a graceful shutdown. */
export const SHUTDOWN_BOUND_MS = 30_000;

/**
 * How long a trusted device's `last_connection` and `connection_count` may wait in memory before
 * they are written (as long as the hub-state counters wait); trust decisions never wait.
 */
export const TRUST_STATISTICS_DELAY_MS = 5_000;

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
  /**
   * The file the config was read from, when the CLI commands that decide a pairing need it
   * named (`--config FILE`): the operator runs them from another directory.
   */
  readonly configFlag?: string;
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
  private readonly startedAt: number;
  private readonly deviceInfo = new Map<
    Ski,
    { brand: string; model: string; device_type: string }
  >();
  private prompt: PairingQuestions | undefined;
  private reporter: HubReporter | undefined;
  private ready = false;
  /** Set once the hub listened: a start that failed before it has nothing to report as stopped. */
  private listened = false;
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
    const checked = await runStartupChecks(c);
    for (const warning of checked.warnings) log.warn(warning);
    if (checked.ski === undefined) {
      // A first start creates an identity next: a taken port must stop it before that, or a
      // failed first start leaves a new key behind (the ports are bound for real further on).
      await probePort(c.port, undefined, 'port');
      if (c.admin_port !== 0) await probePort(c.admin_port, c.admin_host, 'admin_port');
    }

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

    this.trustStore = await TrustStore.open(c.trusted_devices_file, {
      clock: this.clock,
      statisticsDelayMs: TRUST_STATISTICS_DELAY_MS,
    });
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
    const metrics = createHubMetrics();
    this.metrics = metrics;
    metrics.setTrustedDevices(this.trustStore.size);
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
      // Validated at load: every entry is SKI@HOST:PORT.
      staticPeers: c.peers.flatMap((entry) => {
        const peer = parsePeerEntry(entry);
        return typeof peer === 'string' ? [] : [peer];
      }),
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
      // An application's own handler replaces our SPINE session (createHub then builds none).
      ...(this.options.setupRemoteDevice !== undefined || !c.spine_enabled
        ? {
            setupRemoteDevice:
              this.options.setupRemoteDevice ??
              ((device) => ({
                onData: (payload) => log.debug({ peerSki: device.ski, payload }, 'SPINE data'),
              })),
          }
        : {}),
      spine: c.spine_enabled
        ? { onMessage: (_ski, direction) => metrics.spineMessage(direction) }
        : false,
    });
    this.hub = hub;
    new SpineReporter(hub, { logger: log.child({ component: 'spine' }), metrics });
    this.reporter = new HubReporter({
      logger: log,
      clock: this.clock,
      metrics: this.metrics,
      trust: this.trustStore,
      state: this.stateStore,
      startedAt: this.startedAt,
      metricsReports: c.metrics_enabled,
      ...(this.options.configFlag === undefined ? {} : { configFlag: this.options.configFlag }),
      describe: (ski, pending) => this.describe(ski, pending),
      questions: () => this.prompt,
      isStopping: () => this.stopping !== undefined,
      storeError: (err) => this.storeError(err),
    });
    this.reporter.attach(hub);
    const port = await hub.start().catch((err: unknown) => {
      throw listenError(err, 'port', c.port);
    });
    const mdnsName = hub.discoveryName;
    this.listened = true;
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

    if (c.auto_accept_pairing) {
      await openFirstStartAutoAccept(hub, identity.ski, {
        config: c,
        logger: log,
        clock: this.clock,
        trustedCount: this.trustStore.size,
      });
    }
    this.reporter.startReports();
    this.ready = true;
  }

  /** Graceful shutdown (SIGINT/SIGTERM): the same promise for every caller. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.ready = false;
    // Refused at the data lock (another daemon runs on these files): nothing was started, so
    // there is nothing to shut down or to report as stopped.
    if (this.lock === undefined) return;
    // A start that failed before the hub listened (its error goes to stderr) is cleaned up
    // without "Shutting down" / "Stopped" lines for a daemon that never ran.
    const report = this.listened;
    if (report) this.logger.info({ event: 'shutdown' }, '🛑 Shutting down');
    this.reporter?.stopReports();
    this.prompt?.close();
    await this.hub?.stop(5_000);
    this.reporter?.close();
    await this.admin?.close();
    // A full disk must not keep the lock from being released: the counters and connection
    // statistics are lost, not more (trust decisions were written when they were made).
    await this.trustStore?.flush().catch((err: unknown) => this.storeError(err));
    await this.stateStore?.close().catch((err: unknown) => this.storeError(err));
    await this.lock.release();
    if (report) this.logger.info({ event: 'stopped' }, '👋 Stopped');
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
    // The daemon keeps running on what it has in memory, and its next change (a pairing, a
    // connection count) rewrites the file from memory: the person's edit is kept aside first.
    const rejected = `${file}.rejected`;
    try {
      result = await trust.reload({ keepRejectedAt: rejected });
    } catch (err) {
      const kept = trust.rejectedCopy === undefined ? '' : `your edit is kept in ${rejected}; `;
      const reason = (err instanceof Error ? err.message : String(err)).replace(
        / \(the file was left untouched[^)]*\)/,
        '',
      );
      log.error(
        { event: 'reload_failed', file, reason, ...(kept === '' ? {} : { kept_at: rejected }) },
        `❌ reload of ${file} failed, keeping the ${trust.size} trusted devices in memory: ` +
          `${reason}. Fix the file and send SIGHUP again (${kept}the next change the hub ` +
          'saves rewrites the file from memory)',
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
    const hub = this.hub;
    if (hub === undefined)
      throw new ShipHubError('SHIPHUB_ERR_NOT_READY', 'the hub is not running');
    await hub.approve(pending.ski, {
      brand: info.brand,
      model: info.model,
      deviceType: info.device_type,
    });
  }

  // ------------------------------------------------------------------------------------------

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

/** Parses a user-typed SKI for the CLI (throws a TypeError naming the input). */
export function cliSki(text: string): Ski {
  return toSki(text);
}
