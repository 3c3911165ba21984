/**
 * Hub configuration: one schema, validated once at startup, deep-frozen and passed down
 * (house style "config once, frozen"). Sources, lowest precedence first:
 *
 *   built-in defaults  <  config file (JSON)  <  environment `SHIPHUB_<KEY>`  <  overrides (CLI flags)
 *
 * The keys, their spelling and their example values are those of the original production-hub
 * README (the "seed"): a config.json written for it loads unchanged. Unknown keys are refused
 * with a hint of the closest known key, and every error names the source, the key, what was
 * expected and what was found.
 */
import { readFile, realpath } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../ship/errors.js';
import { parseCheckedJson } from '../util/json-check.js';
import { describeValue, isJsonObject } from '../util/json-value.js';

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

type EnvKind = 'string' | 'int' | 'bool' | 'list';

interface KeySpec {
  readonly schema: z.ZodType;
  /** Human description used in "expected …" messages. */
  readonly expected: string;
  /** How an environment variable's text is converted. */
  readonly env: EnvKind;
}

const text = (max = 255) => z.string().min(1).max(max);
const int = (min: number, max: number) => z.int().min(min).max(max);
const oneOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values);
const quoteList = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A Host header value: a host name, an IPv4 address or a bracketed IPv6 one, and maybe a port. */
function isHostHeaderValue(value: string): boolean {
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
const KEYS = {
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
const DEFAULTS = {
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
const SCHEMA = z.strictObject(
  Object.fromEntries(CONFIG_KEYS.map((key) => [key, KEYS[key].schema.optional()])),
);

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Highest-precedence values, e.g. from CLI flags. Relative paths resolve against `cwd`. */
  overrides?: HubConfigInput;
  /** Directory relative paths resolve against when there is no file; default process.cwd(). */
  cwd?: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Where a value came from, for error messages. */
interface Source {
  /** Prefix of a message about `key`, e.g. `config.json: "port"`. */
  describe(key: string): string;
  /** Base directory of relative paths from this source. */
  baseDir: string;
}

function fileSource(label: string, baseDir: string): Source {
  return { describe: (key) => `${label}: "${key}"`, baseDir };
}

/** How much of a received value "got …" shows. */
const GOT_MAX_CHARS = 80;

/** Levenshtein distance, small strings only. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known key closest to an unknown one, if any is plausibly meant. */
export function closestKey(unknown: string): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');
  const target = squash(unknown);
  let best: { key: string; distance: number } | undefined;
  for (const key of CONFIG_KEYS) {
    const distance = squash(key) === target ? 0 : editDistance(unknown.toLowerCase(), key);
    if (best === undefined || distance < best.distance) best = { key, distance };
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.floor(unknown.length / 3));
  return best.distance <= limit ? best.key : undefined;
}

/**
 * JSON.parse with errors that name the file, line and column. The position comes from our own
 * walker (src/util/json-check.ts): Node 20's JSON.parse gives none for some errors (an error on
 * line 2 was reported at the end of the file), and a key written twice, which JSON.parse would
 * silently resolve to the last value, is refused with both lines.
 */
export function parseJsonFile(label: string, source: string): unknown {
  const parsed = parseCheckedJson(source);
  if (parsed.ok) return parsed.value;
  const { problem } = parsed;
  if (problem.kind === 'duplicate-key') {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `${label}: line ${problem.line} repeats the key of line ${problem.firstLine ?? '?'}` +
        `${problem.key !== undefined && /^[a-z_]{1,64}$/.test(problem.key) ? ` ("${problem.key}")` : ''}; ` +
        'JSON would silently keep only the last one: remove one',
    );
  }
  const hint = parsed.hint === '' ? '' : ` (${parsed.hint})`;
  throw new ConfigError(
    'SHIPHUB_ERR_CONFIG',
    `${label}: invalid JSON at line ${problem.line}, column ${problem.column}: ${problem.message}${hint}`,
  );
}

/** Converts one environment variable's text to the key's type; leaves bad text as it is. */
function fromEnv(kind: EnvKind, raw: string): unknown {
  switch (kind) {
    case 'string':
      return raw;
    case 'int':
      return /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : raw;
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      return raw;
    }
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
}

/** True for addresses that only this host can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * Validates merged raw values and builds the frozen config. `sources` names where each key came
 * from; keys absent from it are defaults. `earlier` problems (unknown keys) are reported together
 * with the ones found here.
 */
function build(
  raw: Record<string, unknown>,
  sources: Map<string, Source>,
  defaultSource: Source,
  earlier: readonly string[] = [],
): HubConfig {
  const problems: string[] = [...earlier];
  const sourceOf = (key: string) => sources.get(key) ?? defaultSource;

  const parsed = SCHEMA.safeParse(raw);
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const key = issue.path[0];
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) problems.push(unknownKeyMessage(sourceOf(k), k));
        continue;
      }
      if (typeof key !== 'string' || !(key in KEYS) || seen.has(key)) continue;
      seen.add(key);
      const spec = KEYS[key as keyof typeof KEYS];
      problems.push(
        `${sourceOf(key).describe(key)}: expected ${spec.expected}, got ${describeValue(raw[key], GOT_MAX_CHARS)}`,
      );
    }
    throw configError(problems);
  }
  if (problems.length > 0) throw configError(problems);

  const merged: Mutable<Omit<HubConfig, 'admin_token' | 'ship_id'>> & {
    admin_token?: string;
    ship_id?: string;
  } = {
    ...DEFAULTS,
    network_interfaces: [...DEFAULTS.network_interfaces],
    peers: [...DEFAULTS.peers],
    admin_allowed_hosts: [...DEFAULTS.admin_allowed_hosts],
  };
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }

  if (merged.admin_port !== 0) {
    if (merged.admin_token === undefined && !isLoopbackHost(merged.admin_host)) {
      const source = sources.get('admin_token') ?? sourceOf('admin_host');
      problems.push(
        `${source.describe('admin_token')}: expected a non-empty string because "admin_host" is ` +
          `"${merged.admin_host}" (not a loopback address, so the admin API needs a token), got nothing`,
      );
    }
    if (merged.admin_port === merged.port) {
      problems.push(
        `${sourceOf('admin_port').describe('admin_port')}: expected a port different from ` +
          `"port" (${merged.port}), or 0 to disable the admin API, got ${merged.admin_port}`,
      );
    }
  }
  if (problems.length > 0) throw configError(problems);

  const resolvedPaths = Object.fromEntries(
    PATH_KEYS.map((key) => {
      const value = merged[key];
      return [key, isAbsolute(value) ? value : resolve(sourceOf(key).baseDir, value)];
    }),
  );

  const config = {
    ...merged,
    ...resolvedPaths,
    network_interfaces: [...merged.network_interfaces],
    peers: [...merged.peers],
    admin_allowed_hosts: [...merged.admin_allowed_hosts],
    admin_token: merged.admin_token,
    ship_id:
      merged.ship_id ?? `${merged.device_brand}-${merged.device_model}-${merged.device_serial}`,
  } as HubConfig;
  // Fixed key order (docs order), so that printing the config is stable.
  const ordered = Object.fromEntries(
    CONFIG_KEYS.map((key) => [key, config[key]]),
  ) as unknown as HubConfig;
  return deepFreeze(ordered);
}

function unknownKeyMessage(source: Source, key: string): string {
  const near = closestKey(key);
  const prefix = source.describe(key).replace(/: "([^"]*)"$/, ': unknown key "$1"');
  return near === undefined
    ? `${prefix} (known keys: ${CONFIG_KEYS.join(', ')})`
    : `${prefix} (did you mean "${near}"?)`;
}

function configError(problems: string[]): ConfigError {
  return new ConfigError('SHIPHUB_ERR_CONFIG', problems.join('\n'), {
    hint: 'fix the configuration; docs/config.md lists every key',
  });
}

/**
 * The built-in defaults as a frozen config, relative paths resolved against `cwd`.
 */
export function defaultConfig(cwd: string = process.cwd()): HubConfig {
  const source = fileSource('defaults', cwd);
  return build({}, new Map(), source);
}

/**
 * Loads, validates and freezes the configuration.
 *
 * - `path` omitted: defaults only, no file is needed; relative paths resolve against the cwd.
 * - `path` given: the file must exist and be a JSON object; relative paths in it, and the default
 *   paths, resolve against its directory. The Go README's config.json loads unchanged.
 * - `env`: `SHIPHUB_<KEY>` overrides a key (e.g. `SHIPHUB_PORT=4800`, `SHIPHUB_AUTO_ACCEPT_PAIRING=true`,
 *   `SHIPHUB_NETWORK_INTERFACES=eth0,wlan0`); relative paths from the environment resolve against
 *   the cwd. An empty value of an optional key (admin_token, ship_id) counts as unset.
 * - `options.overrides` (CLI flags) win over everything.
 *
 * @throws ConfigError (`SHIPHUB_ERR_CONFIG`) naming file, key, what was expected and what was got.
 */
export async function loadConfig(
  path?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: LoadConfigOptions = {},
): Promise<HubConfig> {
  const cwd = options.cwd ?? process.cwd();
  // Default paths resolve like the file's own: next to config.json, as in the seed's layout.
  let defaults = fileSource('defaults', cwd);
  const sources = new Map<string, Source>();
  const raw: Record<string, unknown> = {};
  const unknown: string[] = [];

  if (path !== undefined) {
    const absolute = resolve(cwd, path);
    let content: string;
    try {
      content = await readFile(absolute, 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const why =
        code === 'ENOENT'
          ? 'file not found'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'EISDIR'
              ? 'is a directory'
              : error instanceof Error
                ? error.message
                : String(error);
      throw new ConfigError('SHIPHUB_ERR_CONFIG', `${path}: cannot read config file: ${why}`, {
        cause: error,
        hint: 'run "ship-hub config init" to write a default config file',
      });
    }
    const value = parseJsonFile(path, content);
    if (!isJsonObject(value)) {
      throw configError([
        `${path}: expected a JSON object at the top level, got ${Array.isArray(value) ? 'an array' : describeValue(value, GOT_MAX_CHARS)}`,
      ]);
    }
    // Relative paths resolve next to the real file: /etc/ship-hub/config.json may be a symlink
    // to /opt/ship-hub/config.json, whose data/ and certs/ are beside it.
    const baseDir = dirname(await realpath(absolute).catch(() => absolute));
    const source = fileSource(path, baseDir);
    defaults = fileSource('defaults', baseDir);
    for (const [key, v] of Object.entries(value)) {
      sources.set(key, source);
      if (key in KEYS) raw[key] = v;
      else unknown.push(unknownKeyMessage(source, key));
    }
  }

  for (const key of CONFIG_KEYS) {
    const name = envVarName(key);
    const text = env[name];
    if (text === undefined) continue;
    if (text === '' && (key === 'admin_token' || key === 'ship_id')) {
      Reflect.deleteProperty(raw, key);
      sources.delete(key);
      continue;
    }
    raw[key] = fromEnv(KEYS[key].env, text);
    sources.set(key, { describe: () => `environment variable ${name} ("${key}")`, baseDir: cwd });
  }

  if (options.overrides !== undefined) {
    for (const [key, v] of Object.entries(options.overrides)) {
      if (v === undefined) continue;
      const source: Source = { describe: (k) => `command line: "${k}"`, baseDir: cwd };
      sources.set(key, source);
      if (key in KEYS) raw[key] = v;
      else unknown.push(unknownKeyMessage(source, key));
    }
  }

  return build(raw, sources, defaults, unknown);
}

/**
 * `SHIPHUB_*` environment variables that are not configuration keys (likely typos), with the
 * closest key's variable as a hint.
 */
export function unknownEnvVars(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set([...CONFIG_KEYS.map(envVarName), ...NON_KEY_ENV_VARS]);
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('SHIPHUB_') || known.has(name)) continue;
    const near = closestKey(name.slice('SHIPHUB_'.length).toLowerCase());
    out.push(
      near === undefined
        ? `unknown environment variable ${name} is ignored`
        : `unknown environment variable ${name} is ignored (did you mean ${envVarName(near as keyof HubConfig)}?)`,
    );
  }
  return out;
}

/**
 * The start-up warnings about the environment: unknown `SHIPHUB_*` variables (docs/config.md).
 * Reads `process.env` by default, as {@link loadConfig} does.
 */
export function environmentWarnings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  return unknownEnvVars(env);
}

/**
 * Warnings to log at startup (level warn), loud ones first. Pass `env` to also report unknown
 * `SHIPHUB_*` variables.
 */
export function configWarnings(
  config: HubConfig,
  env?: Readonly<Record<string, string | undefined>>,
): string[] {
  const warnings: string[] = [];
  if (config.auto_accept_pairing) {
    warnings.push(
      '⚠️  AUTO-ACCEPT PAIRING IS ENABLED (auto_accept_pairing=true): UNKNOWN DEVICES ARE TRUSTED ' +
        'WITHOUT AN OPERATOR APPROVING THEM. Never enable this in production. It only opens ' +
        `time-boxed auto-accept windows of at most 2 minutes (SHIP 12.3.1.1; this hub: ` +
        `${config.auto_accept_window_seconds}s).`,
    );
  }
  if (config.admin_port !== 0 && !isLoopbackHost(config.admin_host)) {
    warnings.push(
      `⚠️  The admin API listens on ${config.admin_host}:${config.admin_port}, not on loopback: ` +
        'anyone who can reach it and knows the token can approve devices. Restrict it with a firewall.',
    );
  }
  if (config.admin_token !== undefined && config.admin_token.length < 16) {
    warnings.push('⚠️  admin_token is shorter than 16 characters: use a long random token.');
  }
  if (config.double_connection_rule === 'legacy') {
    warnings.push(
      '⚠️  double_connection_rule="legacy" deviates from SHIP 12.2.2; use it only for peers that need it.',
    );
  }
  if (config.accept_legacy_ski) {
    warnings.push('⚠️  accept_legacy_ski=true: SKIs in legacy formats are accepted from peers.');
  }
  if (!config.mdns_enabled) {
    warnings.push('mDNS is disabled (mdns_enabled=false): the hub is not announced or discovered.');
  }
  if (config.log_level === 'silent') {
    warnings.push('log_level="silent": no operator log lines will be written.');
  }
  if (env !== undefined) warnings.push(...unknownEnvVars(env));
  return warnings;
}
