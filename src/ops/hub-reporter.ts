/**
 * What the daemon says about the hub: the seed's operator log lines, the Prometheus metrics, the
 * counters of hub_state.json, the pairing questions on screen, and the periodic health and
 * metrics lines. It only listens to the hub's events and reads its views; it changes nothing.
 */
import type { DiscoveredService } from '../mdns/types.js';
import { failureInfo } from '../errors.js';
import type { Hub, PendingPairing } from '../hub/hub.js';
import { shortSki, type Ski } from '../ship/ski.js';
import type { StateStore } from '../trust/state-store.js';
import type { TrustStore } from '../trust/trust-store.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { safeTerminalText } from '../util/terminal-text.js';
import type { DeviceLabel } from './admin-backend.js';
import type { PairingQuestions } from './daemon.js';
import type { Logger } from './logger.js';
import type { ConnectionState, HandshakePhase, HubMetrics } from './metrics.js';
import * as oplog from './operator-log.js';
import { RefusalLog } from './refusal-log.js';

/** Connections shorter than this are reported as short-lived (seed log line). */
const SHORT_LIVED_MS = 30_000;
const HEALTH_INTERVAL_MS = 60_000;
const METRICS_INTERVAL_MS = 5 * 60_000;

export interface HubReporterDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics: HubMetrics;
  readonly trust: TrustStore;
  readonly state: StateStore;
  /** Monotonic start time of the daemon (uptime). */
  readonly startedAt: number;
  /** The five-minute metrics line (metrics_enabled). */
  readonly metricsReports: boolean;
  /** `--config FILE` for the CLI hint, when the config is not found without it. */
  readonly configFlag?: string;
  describe(ski: Ski, pending?: PendingPairing): DeviceLabel;
  /** The pairing questions on screen, if a person answers them at a terminal. */
  questions(): PairingQuestions | undefined;
  isStopping(): boolean;
  storeError(err: unknown): void;
}

export class HubReporter {
  private hub: Hub | undefined;
  /** When each device reached data exchange (for durations and the health line). */
  private readonly connectedAt = new Map<Ski, number>();
  private readonly refusals: RefusalLog;
  /** The periodic log timers, one handle per kind (re-armed in place, never accumulated). */
  private readonly timers = new Map<'health' | 'metrics', TimerHandle>();
  private lastDiscoveredKey = '';

  constructor(private readonly deps: HubReporterDeps) {
    this.refusals = new RefusalLog(deps.logger, deps.clock);
  }

  /** Subscribes to the hub's events (once, right after the hub is built). */
  attach(hub: Hub): void {
    this.hub = hub;
    const log = this.deps.logger;
    const { metrics, trust, state } = this.deps;

    metrics.countConnectionsOnScrape(() => this.connectionCounts());
    hub.on('servicesChanged', (services) => this.logDiscovered(services));
    hub.on('pairingRequest', (pending) => {
      const info = this.deps.describe(pending.ski, pending);
      oplog.trustDecisionRequested(log, pending.ski, {
        ...info,
        address: pending.remoteAddress,
      });
      metrics.setPendingPairings(hub.pendingPairings().length);
      const questions = this.deps.questions();
      if (questions !== undefined) {
        questions.ask(pending);
      } else {
        log.info(
          { event: 'pairing_hint', ski: pending.ski },
          `   decide with: ship-hub pairing approve ${safeTerminalText(pending.ski)}` +
            `${this.deps.configFlag === undefined ? '' : ` ${this.deps.configFlag}`} (or deny)`,
        );
      }
    });
    hub.on('trustDecision', (ski, decision) => {
      // Decided through the CLI, the API or by expiry while the question is on screen.
      this.deps
        .questions()
        ?.withdraw(ski, `${shortSki(ski)} was ${decision.replace('_', '-')} meanwhile`);
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
        if (trusted) oplog.trustedDeviceAdded(log, { ski, ...this.deps.describe(ski) });
        else oplog.trustedDeviceRemoved(log, ski);
      }
      metrics.setTrustedDevices(trust.size);
    });
    hub.on('trustStoreError', (err) => {
      this.deps.storeError(err);
      metrics.setTrustedDevices(trust.size);
    });
    hub.on('connected', (device) => {
      this.connectedAt.set(device.ski, this.deps.clock.now());
      oplog.deviceConnected(log, device.ski, {
        direction: device.direction,
        address: device.remoteAddress,
      });
      metrics.connectionOpened(device.direction);
      state.recordConnection();
      state.recordHandshake();
    });
    hub.on('disconnected', (ski, info) => {
      const since = this.connectedAt.get(ski);
      this.connectedAt.delete(ski);
      const duration = since === undefined ? info.durationMs : this.deps.clock.now() - since;
      oplog.deviceDisconnected(log, ski, duration, {
        ...(info.failure ? { reason: info.failure.message } : {}),
      });
      // Only unplanned ends are worth a warning: not our shutdown, un-pairing or duplicate drop.
      if (!this.deps.isStopping() && oplog.isUnplannedShortLived(info, duration, SHORT_LIVED_MS)) {
        oplog.shortLivedConnection(log, ski, duration);
      }
    });
    hub.on('keyPinned', (ski, keySha256) => {
      log.debug(
        { event: 'key_pinned', ski, key_sha256: keySha256 },
        `key of ${shortSki(ski)} pinned`,
      );
    });
    hub.on('pairingWithdrawn', (ski) => {
      this.deps.questions()?.withdraw(ski, `${shortSki(ski)} left or reconnected`);
      metrics.setPendingPairings(hub.pendingPairings().length);
    });
    hub.on('pairingRefusedDenied', (ski, until) => {
      log.debug(
        { event: 'pairing_refused_denied', ski, until: until.toISOString() },
        `denied device ${shortSki(ski)} asked again; refused without a question until ${until.toISOString()}`,
      );
    });
    const refusals = this.refusals;
    hub.on('connectionFailed', ({ ski, reason, error, refusedFrom, endedByDevice }) => {
      // The hub's own admission refusing a connection is not a device error: aggregated per
      // source at warn level (a flood from one host must not flood the log). Nor is a device
      // that ended its handshake on purpose (a probe, giving up waiting for a pairing decision).
      if (refusedFrom !== undefined) refusals.record(refusedFrom, reason);
      else if (endedByDevice) oplog.deviceEndedHandshake(log, ski ?? 'unknown', reason);
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
          this.deps.clock.wallNow(),
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

  /** Connections by state, counted when /metrics is read (not on every connect). */
  private connectionCounts(): Record<ConnectionState, number> {
    const hub = this.hub;
    const counts = { handshake: 0, pending_trust: 0, data: 0, closing: 0 };
    if (hub === undefined) return counts;
    for (const c of hub.connections()) {
      if (c.state === 'SME_STATE_COMPLETE' || c.state === 'SME_ACCESS_METHODS_REQUEST')
        counts.data++;
      else if (c.state === 'SME_HELLO_STATE_PENDING_LISTEN') counts.pending_trust++;
      else if (c.state === 'CLOSING_ANNOUNCED') counts.closing++;
      else counts.handshake++;
    }
    return counts;
  }

  private logDiscovered(services: DiscoveredService[]): void {
    const others = services.filter((s) => !s.own);
    const key = others
      .map((s) => `${s.ski}/${s.addresses[0]?.address ?? ''}`)
      .sort()
      .join(',');
    if (key === this.lastDiscoveredKey) return;
    this.lastDiscoveredKey = key;
    for (const s of others) this.deps.describe(s.ski);
    oplog.discovered(
      this.deps.logger,
      others.map((s) => ({
        ski: s.ski,
        brand: s.record.brand,
        model: s.record.model,
        address: s.addresses[0]?.address,
        trusted: this.deps.trust.has(s.ski),
      })),
    );
  }

  /** Starts the periodic health and metrics lines. */
  startReports(): void {
    // Each run re-arms its own timer; the map keeps only the current handle, so a daemon that
    // runs for months holds two timers, not one more per minute.
    const every = (kind: 'health' | 'metrics', name: string, ms: number, run: () => void) => {
      const tick = () => {
        if (this.deps.isStopping()) return;
        run();
        this.timers.set(kind, this.deps.clock.setTimer(name, ms, tick));
      };
      this.timers.set(kind, this.deps.clock.setTimer(name, ms, tick));
    };
    every('health', 'healthCheck', HEALTH_INTERVAL_MS, () => {
      const snapshot = this.deps.state.snapshot;
      oplog.healthCheck(this.deps.logger, {
        uptimeMs: this.deps.clock.now() - this.deps.startedAt,
        // Devices in data exchange now, each counted in `total` when it got there.
        connections: this.connectedAt.size,
        total: snapshot.total_connections,
        failed: snapshot.failed_connections,
        activeHandles: oplog.activeHandleCount(),
      });
    });
    if (this.deps.metricsReports) {
      every('metrics', 'metricsReport', METRICS_INTERVAL_MS, () => {
        const snapshot = this.deps.state.snapshot;
        oplog.metricsReport(this.deps.logger, {
          uptimeMs: this.deps.clock.now() - this.deps.startedAt,
          active: this.connectedAt.size,
          total: snapshot.total_connections,
          failed: snapshot.failed_connections,
          handshakes: snapshot.handshakes,
          trustedDevices: this.deps.trust.size,
          errorCounts: snapshot.error_counts,
        });
      });
    }
  }

  stopReports(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  close(): void {
    this.stopReports();
    this.refusals.close();
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
