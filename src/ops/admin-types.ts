/**
 * The contract of the admin HTTP API (admin-api.ts): the bodies its routes return, the
 * {@link AdminBackend} port the daemon implements (admin-backend.ts) to answer them, and the
 * options and handle of the server. Types only, so the backend and the CLI side can import them
 * without pulling in fastify.
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { SpineDeviceSummary } from '../hub/spine-summary.js';
import type { Ski } from '../ship/ski.js';
import type { Logger } from './logger.js';

export type MaybePromise<T> = T | Promise<T>;

/** Body of GET /healthz. */
export interface AdminHealth {
  /** "ok" while running normally; "starting"/"stopping" around the lifecycle; "degraded" on trouble. */
  status: 'ok' | 'starting' | 'degraded' | 'stopping';
  uptime_s: number;
  /** Active SHIP connections. */
  connections: number;
  /** Any further numbers the hub wants to expose (total, failed, trusted_devices, version…). */
  [field: string]: unknown;
}

/** A pairing request waiting for an operator (GET /api/pairing). */
export interface PendingPairingInfo {
  ski: string;
  brand?: string;
  model?: string;
  device_type?: string;
  address?: string;
  /** RFC 3339 times. */
  requested_at: string;
  expires_at: string;
  [field: string]: unknown;
}

/** A device an operator denied, in its cool-down (GET /api/pairing, `denied`). */
export interface DeniedPairingInfo {
  ski: string;
  /** RFC 3339 times. */
  denied_at: string;
  until: string;
  /** Requests refused without a question since the denial. */
  refused_since: number;
  [field: string]: unknown;
}

/** A trusted device (GET /api/trust): the trusted_devices.json entry. */
export interface TrustedDeviceInfo {
  ski: string;
  brand: string;
  model: string;
  device_type: string;
  paired_at: string;
  last_connection: string;
  connection_count: number;
  /**
   * Further fields: `address` (dialled there when mDNS does not show it), and through the daemon
   * `connected` (in data exchange now) with `connected_since`.
   */
  [field: string]: unknown;
}

/** What POST /api/trust may say about the device. */
export interface TrustedDeviceDetails {
  brand?: string;
  model?: string;
  device_type?: string;
  /** Where to dial it when mDNS does not show it ("host:port"). */
  address?: string;
}

/** A SHIP connection (GET /api/connections). */
export interface ConnectionInfo {
  ski: string;
  direction: 'inbound' | 'outbound';
  /** Handshake phase or "data". */
  state: string;
  address?: string;
  connected_at?: string;
  [field: string]: unknown;
}

/** A device seen by mDNS (GET /api/discovered). */
export interface DiscoveredDeviceInfo {
  ski: string;
  brand?: string;
  model?: string;
  device_type?: string;
  ship_id?: string;
  address?: string;
  port?: number;
  trusted: boolean;
  [field: string]: unknown;
}

/**
 * What the admin API needs from the hub. SKIs passed in are already normalised. Methods may
 * throw a ShipHubError: its code decides the HTTP status (e.g. SHIPHUB_ERR_NOT_FOUND → 404).
 */
export interface AdminBackend {
  health(): MaybePromise<AdminHealth>;
  /** True when the hub listens, announces and has its stores open. */
  ready(): MaybePromise<boolean>;
  listPending(): MaybePromise<readonly PendingPairingInfo[]>;
  /** Approves a pending request; false if there is none for this SKI (→ 404). */
  approve(ski: Ski): MaybePromise<boolean>;
  /** Denies a pending request; false if there is none for this SKI (→ 404). */
  deny(ski: Ski): MaybePromise<boolean>;
  /** Denied devices in their cool-down. */
  listDenied(): MaybePromise<readonly DeniedPairingInfo[]>;
  /** Ends a denial cool-down; false if the SKI is not denied (→ 404). */
  forgetDenial(ski: Ski): MaybePromise<boolean>;
  /**
   * Opens an auto-accept window of `seconds` (1-120, SHIP §12.3.1.1) on an operator's explicit
   * request, or closes it (`seconds` 0); resolves to when it closes (undefined: closed).
   */
  pairingWindow(seconds: number): MaybePromise<{ until: string | undefined }>;
  listTrusted(): MaybePromise<readonly TrustedDeviceInfo[]>;
  /** Trusts a device (idempotent) and returns its entry. */
  addTrusted(ski: Ski, info?: TrustedDeviceDetails): MaybePromise<TrustedDeviceInfo>;
  /** Removes trust; false if the SKI was not trusted (→ 404). */
  removeTrusted(ski: Ski): MaybePromise<boolean>;
  listConnections(): MaybePromise<readonly ConnectionInfo[]>;
  listDiscovered(): MaybePromise<readonly DiscoveredDeviceInfo[]>;
  /** Devices in data exchange with their SPINE side (empty with `spine_enabled` false). */
  listDevices(): MaybePromise<readonly SpineDeviceInfo[]>;
  /** One device's SPINE side; undefined when it has no SPINE session (→ 404). */
  device(ski: Ski): MaybePromise<SpineDeviceInfo | undefined>;
}

/** A device in data exchange and its SPINE side (GET /api/devices, /api/devices/:ski). */
export interface SpineDeviceInfo {
  ski: string;
  /** What its SPINE session learnt: device type, entities, use cases, manufacturer, heartbeat. */
  spine: SpineDeviceSummary;
  [field: string]: unknown;
}

/** Options of {@link createAdminServer}. */
export interface AdminServerOptions {
  backend: AdminBackend;
  /** Served on /metrics; without it /metrics answers 404 (metrics disabled). */
  registry?: Registry | undefined;
  logger: Logger;
  /**
   * Bearer token(s): at least one is required (the daemon passes the token file's content and,
   * when configured, admin_token; any of them is accepted).
   */
  token: string | readonly string[];
  host: string;
  /** 0 = any free port. */
  port: number;
  /**
   * Further `Host` header values accepted as they are (admin_allowed_hosts), e.g. the name a
   * reverse proxy forwards; compared case-insensitively with the whole header, port included.
   */
  allowedHosts?: readonly string[] | undefined;
  /**
   * A request must arrive in full within this time, and a connection that sends nothing for
   * this long is closed (slow or stalled bodies); default ADMIN_REQUEST_TIMEOUT_MS.
   */
  requestTimeoutMs?: number;
}

/** The created (not yet listening) admin server. */
export interface AdminServer {
  /** The fastify instance; tests use `app.inject()`. */
  readonly app: FastifyInstance;
  /** Starts listening; resolves to the bound address and its URL. */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /** Stops listening and closes connections. Idempotent. */
  close(): Promise<void>;
}
