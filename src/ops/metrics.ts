/**
 * Prometheus metrics of the hub on a custom prom-client Registry (never the global one, so two
 * hubs in one process or in tests do not collide). Names follow the house style: `shiphub_*`,
 * snake_case, unit suffixes. docs/metrics.md describes each series.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prefix of every metric, including the default process metrics. */
export const METRIC_PREFIX = 'shiphub_';

/** Connection states of the `shiphub_connections` gauge. */
export const CONNECTION_STATES = ['handshake', 'pending_trust', 'data', 'closing'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** Handshake phases timed by `shiphub_handshake_phase_duration_seconds` (SHIP §13.4). */
export const HANDSHAKE_PHASES = [
  'cmi',
  'hello',
  'protocol',
  'pin',
  'access_methods',
  'total',
] as const;
export type HandshakePhase = (typeof HANDSHAKE_PHASES)[number];

/** Outcomes of `shiphub_trust_decisions_total`. */
export const TRUST_DECISIONS = ['approved', 'denied', 'expired', 'auto_accepted'] as const;
export type TrustDecision = (typeof TRUST_DECISIONS)[number];

import { DIRECTIONS, type Direction } from '../hub/policy.js';

/** Directions of `shiphub_spine_messages_total`. */
export const SPINE_MESSAGE_DIRECTIONS = ['received', 'sent'] as const;
export type SpineMessageDirection = (typeof SPINE_MESSAGE_DIRECTIONS)[number];

/**
 * Kinds of `shiphub_spine_errors_total`: a payload that is no SPINE datagram, an error result we
 * answered (spine-protocol.md §6.3), a request of ours answered with an error or timed out.
 */
export const SPINE_ERROR_KINDS = ['undecodable', 'error_answered', 'request_failed'] as const;
export type SpineErrorKind = (typeof SPINE_ERROR_KINDS)[number];

/**
 * Histogram buckets in seconds, 1 ms to 120 s: CMI and protocol exchanges take milliseconds,
 * hello may wait for a person, with prolongations (SHIP §13.4.4.1).
 */
export const HANDSHAKE_BUCKETS_SECONDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

/**
 * How often the event-loop lag of the default metrics is sampled. prom-client's 10 ms wakes an
 * idle daemon 100 times a second: 0.9 % of a core on the reference machine with nothing
 * connected, against 0.4 % at 100 ms (docs/performance.md). Stalls of 100 ms and more, the
 * ones that delay SHIP timers, are still seen.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** Failure reasons are label values: anything that is not a short snake_case word is "other". */
const REASON = /^[a-z][a-z0-9_]{0,63}$/;

/** The hub's metrics with typed update methods. */
export interface HubMetrics {
  /** The registry to serve on /metrics. */
  readonly registry: Registry;
  /**
   * Counts the connections by state when the registry is read (/metrics), instead of the caller
   * setting them on every connect and disconnect: one pass over the connections per scrape, not
   * one per event (which is quadratic in a storm of 10,000 devices). States left out are 0.
   */
  countConnectionsOnScrape(count: () => Partial<Record<ConnectionState, number>>): void;
  /** A connection was opened (before the handshake). */
  connectionOpened(direction: Direction): void;
  /** Records how long a handshake phase took. */
  observeHandshakePhase(phase: HandshakePhase, seconds: number): void;
  /** A connection failed; `reason` like "timeout", "tls", "trust_rejected", "protocol". */
  connectionFailed(reason: string): void;
  /** A pairing request was decided. */
  trustDecision(decision: TrustDecision): void;
  /** An outbound reconnect attempt after a lost connection. */
  reconnect(): void;
  setTrustedDevices(count: number): void;
  setPendingPairings(count: number): void;
  /** A SPINE payload received from or sent to a device. */
  spineMessage(direction: SpineMessageDirection): void;
  spineError(kind: SpineErrorKind): void;
  /** A device's SPINE heartbeat stopped (spine-protocol.md §8.3). */
  spineHeartbeatLost(): void;
  /** Prometheus text exposition of the registry. */
  text(): Promise<string>;
}

/** Options of {@link createHubMetrics}. */
export interface CreateHubMetricsOptions {
  /** Registry to register on; default a new one. */
  registry?: Registry;
  /** Also collect prom-client's default process metrics (prefixed `shiphub_`); default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series, e.g. `{ ship_id }`. */
  defaultLabels?: Record<string, string>;
}

/** Creates the metrics on a custom registry. */
export function createHubMetrics(options: CreateHubMetricsOptions = {}): HubMetrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels(options.defaultLabels);
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({
      register: registry,
      prefix: METRIC_PREFIX,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
  }

  let countConnections: (() => Partial<Record<ConnectionState, number>>) | undefined;
  const connections = new Gauge({
    name: `${METRIC_PREFIX}connections`,
    help: 'SHIP connections by state (handshake, pending_trust, data, closing).',
    labelNames: ['state'] as const,
    registers: [registry],
    // prom-client calls collect() on every read of the registry.
    collect: () => {
      if (countConnections !== undefined) setConnectionCounts(countConnections());
    },
  });
  const phaseDuration = new Histogram({
    name: `${METRIC_PREFIX}handshake_phase_duration_seconds`,
    help: 'Duration of SHIP handshake phases (cmi, hello, protocol, pin, access_methods, total).',
    labelNames: ['phase'] as const,
    buckets: [...HANDSHAKE_BUCKETS_SECONDS],
    registers: [registry],
  });
  const failures = new Counter({
    name: `${METRIC_PREFIX}connection_failures_total`,
    help: 'SHIP connections that failed, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const decisions = new Counter({
    name: `${METRIC_PREFIX}trust_decisions_total`,
    help: 'Pairing decisions (approved, denied, expired, auto_accepted).',
    labelNames: ['decision'] as const,
    registers: [registry],
  });
  const reconnects = new Counter({
    name: `${METRIC_PREFIX}reconnects_total`,
    help: 'Outbound reconnect attempts after a lost connection.',
    registers: [registry],
  });
  const opened = new Counter({
    name: `${METRIC_PREFIX}connections_total`,
    help: 'SHIP connections that reached data exchange, by direction (inbound, outbound).',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  const trusted = new Gauge({
    name: `${METRIC_PREFIX}trusted_devices`,
    help: 'Devices in trusted_devices.json.',
    registers: [registry],
  });
  const pending = new Gauge({
    name: `${METRIC_PREFIX}pending_pairings`,
    help: 'Pairing requests waiting for an operator decision.',
    registers: [registry],
  });

  const spineMessages = new Counter({
    name: `${METRIC_PREFIX}spine_messages_total`,
    help: 'SPINE payloads received from and sent to devices.',
    labelNames: ['direction'],
    registers: [registry],
  });
  const spineErrors = new Counter({
    name: `${METRIC_PREFIX}spine_errors_total`,
    help: 'SPINE errors: undecodable payloads, error results answered, requests failed.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const heartbeatLosses = new Counter({
    name: `${METRIC_PREFIX}spine_heartbeat_losses_total`,
    help: "Times a device's SPINE heartbeat stopped.",
    registers: [registry],
  });

  // Known label values start at 0 so dashboards and rate() see them before the first event.
  for (const state of CONNECTION_STATES) connections.set({ state }, 0);
  for (const phase of HANDSHAKE_PHASES) phaseDuration.zero({ phase });
  for (const decision of TRUST_DECISIONS) decisions.inc({ decision }, 0);
  for (const direction of DIRECTIONS) opened.inc({ direction }, 0);
  trusted.set(0);
  pending.set(0);
  for (const direction of SPINE_MESSAGE_DIRECTIONS) spineMessages.inc({ direction }, 0);
  for (const kind of SPINE_ERROR_KINDS) spineErrors.inc({ kind }, 0);
  heartbeatLosses.inc(0);

  const count = (n: number) => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
  const setConnectionCounts = (counts: Partial<Record<ConnectionState, number>>) => {
    for (const state of CONNECTION_STATES) connections.set({ state }, count(counts[state] ?? 0));
  };

  return {
    registry,
    countConnectionsOnScrape(counter) {
      countConnections = counter;
    },
    connectionOpened: (direction) => opened.inc({ direction }),
    observeHandshakePhase(phase, seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) phaseDuration.observe({ phase }, seconds);
    },
    connectionFailed: (reason) => failures.inc({ reason: REASON.test(reason) ? reason : 'other' }),
    trustDecision: (decision) => decisions.inc({ decision }),
    reconnect: () => reconnects.inc(),
    setTrustedDevices: (n) => trusted.set(count(n)),
    setPendingPairings: (n) => pending.set(count(n)),
    spineMessage: (direction) => spineMessages.inc({ direction }),
    spineError: (kind) => spineErrors.inc({ kind }),
    spineHeartbeatLost: () => heartbeatLosses.inc(),
    text: () => registry.metrics(),
  };
}
