/**
 * Error taxonomy (house style, after matter.js): who is at fault decides the class, every error
 * has a stable `SHIPHUB_ERR_*` code and may carry what goes on the wire. The codes live in
 * failure tables next to the layer that produces them (src/ship/errors.ts for the protocol core,
 * this file for local state shared by every layer, src/ops/errors.ts for the admin API and CLI);
 * src/errors.ts joins them into the one catalogue that docs/errors.md is generated from.
 */

/** Every code has this shape; the closed set is `ShipHubErrorCode` in src/errors.ts. */
export type ErrorCode = `SHIPHUB_ERR_${string}`;

export interface ShipHubErrorOptions {
  cause?: unknown;
  /** WebSocket close code sent (or to send) because of this error. */
  closeCode?: number;
  /** Handshake phase in which it happened. */
  phase?: string;
  /** What the person in front of the device can do about it. */
  hint?: string;
}

/** The base of every error ship-hub raises: a stable code, the cause, and wire details. */
export class ShipHubError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number | undefined;
  readonly phase: string | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ShipHubErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.closeCode = options.closeCode;
    this.phase = options.phase;
    this.hint = options.hint;
  }
}

/** The peer sent something SHIP does not allow. */
export class ProtocolError extends ShipHubError {}
/** The peer's identity is unknown, revoked, denied or does not match. */
export class TrustError extends ShipHubError {}
/** A SHIP or transport timer expired. */
export class TimeoutError extends ShipHubError {}
/** The configuration or a persisted file is invalid. */
export class ConfigError extends ShipHubError {}
/** Sockets, TLS or WebSocket failed. */
export class TransportError extends ShipHubError {}
/** A bug of ours. */
export class InternalError extends ShipHubError {}

/** The classes by name, so a failure table can say which one a code belongs to. */
export const ERROR_CLASSES = {
  ProtocolError,
  TrustError,
  TimeoutError,
  ConfigError,
  TransportError,
  InternalError,
  ShipHubError,
} as const;

export type ErrorClassName = keyof typeof ERROR_CLASSES;

/** What goes on the wire when a failure ends a SHIP connection. */
export interface FailureClose {
  /** WebSocket close code (src/ship/close-codes.ts). */
  readonly code: number;
  /**
   * Close reason text. `undefined` means a text naming the situation: the failure's own message
   * cut to 120 characters (the protocol handshake errors, whose reason tells the peer what went
   * wrong), or the reason the hub gives when it ends a connection with this code.
   */
  readonly reason: string | undefined;
  /** A different reason when the cause was an undecodable message, if there is one. */
  readonly undecodableReason?: string;
}

/** One row of a failure table. */
export interface FailureInfo {
  /** Who is at fault: the class an error with this code is built with. */
  readonly errorClass: ErrorClassName;
  /** Heading of docs/errors.md this code is listed under. */
  readonly section: FailureSection;
  /** What this node sends when this failure ends a SHIP connection (none if it never does). */
  readonly close?: FailureClose;
  /** Value of the `reason` label of `shiphub_connection_failures_total` (short snake_case). */
  readonly metricLabel: string;
  /** HTTP status when the admin API answers with this code (500 if not set). */
  readonly httpStatus?: number;
  /** What happened, in plain words (docs/errors.md). */
  readonly meaning: string;
  /** What the operator can do about it (docs/errors.md, logs). */
  readonly hint: string;
}

export type FailureSection = 'peer' | 'trust' | 'timeout' | 'transport' | 'local' | 'operations';

/**
 * Local state shared by every layer: configuration, persisted files, the data-directory lock and
 * our own bugs. None of these is a protocol fault, so none sends a close code.
 */
export const LOCAL_FAILURES = {
  SHIPHUB_ERR_CONFIG: {
    errorClass: 'ConfigError',
    section: 'local',
    metricLabel: 'config',
    httpStatus: 400,
    meaning:
      'Invalid configuration. The message names the file, key, what was expected and what was got, e.g. `config.json: "port": expected an integer from 1 to 65535, got "abc"`; also an admin API that would listen on a non-loopback address without `admin_token`.',
    hint: 'Fix the named key; see `docs/config.md`.',
  },
  SHIPHUB_ERR_STORAGE: {
    errorClass: 'ConfigError',
    section: 'local',
    metricLabel: 'storage',
    meaning:
      'A file could not be read or written (`trusted_devices.json`, `hub_state.json`, certificates): permissions, full disk, read-only file system. A trust change that cannot be written is not applied (memory keeps what the file holds) and `/healthz` reports `degraded` until a write succeeds; counter changes of `hub_state.json` stay in memory and are written again on the next flush.',
    hint: 'Check free space and that `shipuser` may write `data/` and `certs/` (`ReadWritePaths` in the unit).',
  },
  SHIPHUB_ERR_STORE_INVALID: {
    errorClass: 'ConfigError',
    section: 'local',
    metricLabel: 'store_invalid',
    meaning:
      '`trusted_devices.json` or `hub_state.json` is not valid JSON, is empty, or has an invalid entry (bad SKI, key and `ski` disagree, wrong types, one SKI twice, a JSON key twice: both lines are named). The message names the file, the entry and the problem. For `trusted_devices.json` the hub does not start (or, on SIGHUP, keeps its old state) and **never overwrites the file**; a broken `hub_state.json` (counters only) is moved to `hub_state.json.corrupt-<time>` with a warning and the hub starts with fresh counters.',
    hint: 'Fix or remove the entry (an empty store is `{}`), or restore a backup, then start again.',
  },
  SHIPHUB_ERR_LOCKED: {
    errorClass: 'ConfigError',
    section: 'local',
    metricLabel: 'locked',
    meaning:
      "The data directory is in use: `ship-hub.lock` (next to `trusted_devices.json`) holds the pid of a live process. A second daemon exits with it; the CLI refuses an offline edit of the trust file with it when the daemon's admin API cannot be reached. The message names the lock file and the pid.",
    hint: 'Stop the other daemon, or fix `admin_host`/`admin_port` so the CLI reaches it. If that pid is not ship-hub (reused after a crash), remove the lock file.',
  },
  SHIPHUB_ERR_INTERNAL: {
    errorClass: 'InternalError',
    section: 'local',
    metricLabel: 'internal',
    meaning: 'A bug in ship-hub (the admin API answers 500 "internal error (see the daemon log)").',
    hint: 'Report it with the log lines around it.',
  },
} as const satisfies Record<ErrorCode, FailureInfo>;

export type LocalErrorCode = keyof typeof LOCAL_FAILURES;
