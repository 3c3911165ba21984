/**
 * The hub's configuration keys in one table (house style "config once, frozen"): each key's
 * zod schema, what its error messages say is expected and how its `SHIPHUB_<KEY>` variable is
 * read, the defaults (docs/config.md), the {@link HubConfig} type they add up to and the strict
 * schema that refuses unknown keys. Loading, precedence and warnings are in config.ts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Log levels pino understands, plus "silent". */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
import { DOUBLE_CONNECTION_RULES, type DoubleConnectionRule } from '../hub/policy.js';
import { MDNS_PROVIDER_CHOICES, type MdnsProviderChoice } from '../mdns/index.js';
import type { StaticPeer } from '../hub/routes.js';
import { parseSki } from '../ship/ski.js';
import { parseStaticAddress } from '../util/host-port.js';

/**
 * SHIP §12.3.1.1 limits the time a node accepts pairing without user interaction: the
 * auto-accept window is at most 2 minutes.
 */
export const MAX_AUTO_ACCEPT_WINDOW_SECONDS = 120;

/** The validated, resolved and deep-frozen configuration of a hub. */
export interface HubConfig {
  /** Brand announced in mDNS and shown to peers (seed key). */
  readonly device_brand: string;
  /** Model announced in mDNS (seed key). */
  readonly device_model: string;
  /** Device type announced in mDNS, e.g. "EnergyManager" (seed key). */
  readonly device_type: string;
  /** Serial number; part of the default SHIP ID (seed key). */
  readonly device_serial: string;
  /** Organisation (O) of the self-signed certificate (seed key). */
  readonly organization: string;
  /** Two-letter country (C) of the self-signed certificate (seed key). */
  readonly country: string;
  /** TCP port of the SHIP WebSocket server (seed key). */
  readonly port: number;
  /** Maximum number of simultaneous SHIP connections (seed key). */
  readonly max_connections: number;
  /** Opens time-boxed auto-accept windows for pairing; MUST be false in production (seed key). */
  readonly auto_accept_pairing: boolean;
  /** Absolute path of trusted_devices.json (seed key; relative paths resolved at load). */
  readonly trusted_devices_file: string;
  /** Absolute path of the PEM certificate (seed key). */
  readonly certificate_file: string;
  /** Absolute path of the PEM private key (seed key). */
  readonly private_key_file: string;
  /** Absolute path of hub_state.json, the counters kept across restarts. */
  readonly state_file: string;
  /** pino log level (seed key). */
  readonly log_level: LogLevel;
  /** Whether the periodic "📊 Metrics Report:" is logged and /metrics is served (seed key). */
  readonly metrics_enabled: boolean;
  /** Interfaces to announce and browse on; empty = all (seed key). */
  readonly network_interfaces: readonly string[];
  /**
   * Devices to dial at a fixed address where mDNS does not reach (VLANs, containers):
   * "SKI@HOST:PORT" each. Dialled only while trusted; mDNS records win while visible.
   */
  readonly peers: readonly string[];
  /** Announce and browse `_ship._tcp` via mDNS. */
  readonly mdns_enabled: boolean;
  /**
   * Speak SPINE with every device in data exchange, as an energy manager (CEM) with the
   * configured brand, model, type and serial; false only logs SPINE payloads at debug level.
   */
  readonly spine_enabled: boolean;
  /** TCP port of the admin HTTP API; 0 disables it. */
  readonly admin_port: number;
  /** Address the admin API binds to. */
  readonly admin_host: string;
  /** Bearer token of the admin API; required when admin_host is not loopback. */
  readonly admin_token: string | undefined;
  /**
   * Without admin_token: the file holding the admin API's token, created with mode 0600 at the
   * first start and read by the CLI (only the service user and root can use the API).
   */
  readonly admin_token_file: string;
  /**
   * Further Host header values the admin API answers to (e.g. a reverse proxy's name), besides
   * its bound address (and localhost on loopback). Anything else is refused (DNS rebinding).
   */
  readonly admin_allowed_hosts: readonly string[];
  /** mDNS backend: Avahi over D-Bus, the built-in responder, or auto (Avahi if present). */
  readonly mdns_provider: MdnsProviderChoice;
  /** Which connection survives when two exist to one peer (SHIP §12.2.2 or legacy ship-go). */
  readonly double_connection_rule: DoubleConnectionRule;
  /** Accept SKIs of peers written in legacy, non-canonical forms. */
  readonly accept_legacy_ski: boolean;
  /** Length of one auto-accept window, 1..120 s (SHIP §12.3.1.1). */
  readonly auto_accept_window_seconds: number;
  /** How long a pairing request waits for an operator decision before it expires. */
  readonly pending_pairing_timeout_seconds: number;
  /**
   * TLS/WebSocket handshakes the server runs at once; when full, the oldest of the least
   * progressed is dropped (protection against idle and slowloris sockets).
   */
  readonly max_handshakes_in_flight: number;
  /**
   * Connections of unknown devices at most (pairing requests and their handshakes), within
   * max_connections; the oldest gives way to a newer one and to any paired device.
   */
  readonly max_pending_pairings: number;
  /** After an operator denies a device, its requests are refused without a question this long. */
  readonly denied_pairing_cooldown_seconds: number;
  /** SHIP ID of this node; defaults to "<brand>-<model>-<serial>". */
  readonly ship_id: string;
  /** Log output: auto (pretty on a TTY, NDJSON otherwise), pretty or json. */
  readonly log_format: LogFormat;
}

/** Keys whose values are file paths, resolved against the config file's directory. */
export const PATH_KEYS = [
  'trusted_devices_file',
  'certificate_file',
  'private_key_file',
  'state_file',
  'admin_token_file',
] as const;

export type EnvKind = 'string' | 'int' | 'bool' | 'list';

export interface KeySpec {
  readonly schema: z.ZodType;
  /** Human description used in "expected …" messages. */
  readonly expected: string;
  /** How an environment variable's text is converted. */
  readonly env: EnvKind;
}

export const text = (max = 255) => z.string().min(1).max(max);
export const int = (min: number, max: number) => z.int().min(min).max(max);
export const oneOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values);
export const quoteList = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

export const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A Host header value: a host name, an IPv4 address or a bracketed IPv6 one, and maybe a port. */
export function isHostHeaderValue(value: string): boolean {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(value);
  if (match === null) return false;
  const [, v6, name, port] = match;
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return false;
  if (v6 !== undefined) return isIP(v6) === 6;
  return name !== undefined && (isIP(name) === 4 || HOSTNAME.test(name));
}

/**
 * One entry of `peers`: "SKI@HOST:PORT" → the hub's static peer, or the reason it is not one.
 */
export function parsePeerEntry(entry: string): StaticPeer | string {
  const at = entry.indexOf('@');
  if (at < 0) return `"${entry}" is not SKI@HOST:PORT`;
  const ski = parseSki(entry.slice(0, at));
  if (ski === undefined) return `"${entry.slice(0, at)}" is not an SKI (40 hexadecimal digits)`;
  const address = entry.slice(at + 1);
  const parsed = parseStaticAddress(address);
  return typeof parsed === 'string' ? parsed : { ski, address };
}

/** Every key: schema, description, environment conversion. The order is that of the docs. */
export const KEYS = {
  device_brand: { schema: text(), expected: 'a non-empty string', env: 'string' },
  device_model: { schema: text(), expected: 'a non-empty string', env: 'string' },
  device_type: { schema: text(), expected: 'a non-empty string', env: 'string' },
  device_serial: { schema: text(), expected: 'a non-empty string', env: 'string' },
  organization: { schema: text(), expected: 'a non-empty string', env: 'string' },
  country: {
    schema: z.string().regex(/^[A-Z]{2}$/),
    expected: 'a two-letter upper-case ISO 3166-1 country code such as "DE"',
    env: 'string',
  },
  port: { schema: int(1, 65535), expected: 'an integer from 1 to 65535', env: 'int' },
  max_connections: {
    schema: int(1, 10000),
    expected: 'an integer from 1 to 10000',
    env: 'int',
  },
  auto_accept_pairing: { schema: z.boolean(), expected: 'true or false', env: 'bool' },
  trusted_devices_file: { schema: text(4096), expected: 'a file path', env: 'string' },
  certificate_file: { schema: text(4096), expected: 'a file path', env: 'string' },
  private_key_file: { schema: text(4096), expected: 'a file path', env: 'string' },
  state_file: { schema: text(4096), expected: 'a file path', env: 'string' },
  log_level: {
    schema: oneOf(LOG_LEVELS),
    expected: `one of ${quoteList(LOG_LEVELS)}`,
    env: 'string',
  },
  metrics_enabled: { schema: z.boolean(), expected: 'true or false', env: 'bool' },
  network_interfaces: {
    schema: z.array(text(64)).refine((list) => new Set(list).size === list.length),
    expected: 'an array of distinct interface names such as ["eth0"] ([] = all interfaces)',
    env: 'list',
  },
  peers: {
    schema: z.array(z.string().refine((entry) => typeof parsePeerEntry(entry) !== 'string')),
    expected:
      'an array of "SKI@HOST:PORT" such as ["a1b2…(40 hex digits)@192.168.20.7:4712"] ([] = none)',
    env: 'list',
  },
  mdns_enabled: { schema: z.boolean(), expected: 'true or false', env: 'bool' },
  spine_enabled: { schema: z.boolean(), expected: 'true or false', env: 'bool' },
  admin_port: {
    schema: int(0, 65535),
    expected: 'an integer from 0 (admin API disabled) to 65535',
    env: 'int',
  },
  admin_host: {
    schema: z.string().refine((h) => isIP(h) !== 0 || HOSTNAME.test(h)),
    expected: 'an IP address or host name such as "127.0.0.1"',
    env: 'string',
  },
  admin_token: { schema: text(1024).optional(), expected: 'a non-empty string', env: 'string' },
  admin_token_file: { schema: text(4096), expected: 'a file path', env: 'string' },
  admin_allowed_hosts: {
    schema: z.array(z.string().refine(isHostHeaderValue)),
    expected:
      'an array of Host header values such as ["hub.example.com", "192.168.1.5:4713"] ([] = only the bound address)',
    env: 'list',
  },
  mdns_provider: {
    schema: oneOf(MDNS_PROVIDER_CHOICES),
    expected: `one of ${quoteList(MDNS_PROVIDER_CHOICES)}`,
    env: 'string',
  },
  double_connection_rule: {
    schema: oneOf(DOUBLE_CONNECTION_RULES),
    expected: `one of ${quoteList(DOUBLE_CONNECTION_RULES)}`,
    env: 'string',
  },
  accept_legacy_ski: { schema: z.boolean(), expected: 'true or false', env: 'bool' },
  auto_accept_window_seconds: {
    schema: int(1, MAX_AUTO_ACCEPT_WINDOW_SECONDS),
    expected: `an integer from 1 to ${MAX_AUTO_ACCEPT_WINDOW_SECONDS} (SHIP 12.3.1.1 caps the window at 2 minutes)`,
    env: 'int',
  },
  pending_pairing_timeout_seconds: {
    schema: int(1, 86400),
    expected: 'an integer from 1 to 86400',
    env: 'int',
  },
  max_handshakes_in_flight: {
    schema: int(1, 10000),
    expected: 'an integer from 1 to 10000',
    env: 'int',
  },
  max_pending_pairings: {
    schema: int(1, 10000),
    expected: 'an integer from 1 to 10000 (at most max_connections is used)',
    env: 'int',
  },
  denied_pairing_cooldown_seconds: {
    schema: int(0, 604800),
    expected: 'an integer from 0 (no cool-down) to 604800 (a week)',
    env: 'int',
  },
  ship_id: { schema: text().optional(), expected: 'a non-empty string', env: 'string' },
  log_format: {
    schema: oneOf(LOG_FORMATS),
    expected: `one of ${quoteList(LOG_FORMATS)}`,
    env: 'string',
  },
} as const satisfies Record<keyof HubConfig, KeySpec>;

/** Every configuration key, in documentation order. */
export const CONFIG_KEYS = Object.keys(KEYS) as (keyof HubConfig)[];

/** The input shape of a config file: every key optional, paths unresolved. */
export type HubConfigInput = {
  -readonly [K in keyof HubConfig]?: HubConfig[K] extends readonly string[]
    ? string[]
    : HubConfig[K];
};

/**
 * The defaults, exactly the seed README's example values for its keys. Keys without a default
 * (admin_token, ship_id) are absent; ship_id is derived from brand, model and serial.
 */
export const DEFAULTS = {
  device_brand: 'YourCompany',
  device_model: 'SmartEnergyGateway',
  device_type: 'EnergyManager',
  device_serial: 'SEG-2024-001',
  organization: 'Your Company Ltd',
  country: 'DE',
  port: 4712,
  max_connections: 20,
  auto_accept_pairing: false,
  trusted_devices_file: 'data/trusted_devices.json',
  certificate_file: 'certs/ship.crt',
  private_key_file: 'certs/ship.key',
  state_file: 'data/hub_state.json',
  admin_token_file: 'data/admin.token',
  log_level: 'info',
  metrics_enabled: true,
  network_interfaces: [],
  peers: [],
  mdns_enabled: true,
  spine_enabled: true,
  admin_port: 4713,
  admin_host: '127.0.0.1',
  admin_allowed_hosts: [],
  mdns_provider: 'auto',
  double_connection_rule: 'spec',
  accept_legacy_ski: false,
  auto_accept_window_seconds: MAX_AUTO_ACCEPT_WINDOW_SECONDS,
  pending_pairing_timeout_seconds: 600,
  max_handshakes_in_flight: 64,
  max_pending_pairings: 5,
  denied_pairing_cooldown_seconds: 600,
  log_format: 'auto',
} as const satisfies HubConfigInput;

/**
 * The text `ship-hub config init` writes: every key that has a default, with its default,
 * 2-space JSON and a trailing newline. It loads back to {@link defaultConfig}.
 */
export const DEFAULT_CONFIG_JSON = `${JSON.stringify(DEFAULTS, null, 2)}\n`;

/** Environment variables read besides `SHIPHUB_<KEY>`; they are not configuration keys. */
export const NON_KEY_ENV_VARS: readonly string[] = ['SHIPHUB_CONFIG'];

/** Name of the environment variable that overrides `key`. */
export function envVarName(key: keyof HubConfig): string {
  return `SHIPHUB_${key.toUpperCase()}`;
}

/** Every key optional here: defaults are merged after validation, so errors name only real input. */
export const SCHEMA = z.strictObject(
  Object.fromEntries(CONFIG_KEYS.map((key) => [key, KEYS[key].schema.optional()])),
);
