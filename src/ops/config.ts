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
 *
 * The key table and schema are in config-schema.ts (re-exported here); this module loads the
 * sources, applies the precedence, resolves and checks paths, and words the warnings.
 */
import { readFile, realpath } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../ship/errors.js';
import { parseCheckedJson } from '../util/json-check.js';
import { describeValue, isJsonObject } from '../util/json-value.js';
import {
  CONFIG_KEYS,
  DEFAULTS,
  envVarName,
  KEYS,
  NON_KEY_ENV_VARS,
  PATH_KEYS,
  SCHEMA,
  type EnvKind,
  type HubConfig,
  type HubConfigInput,
} from './config-schema.js';

export {
  CONFIG_KEYS,
  DEFAULT_CONFIG_JSON,
  envVarName,
  LOG_FORMATS,
  LOG_LEVELS,
  MAX_AUTO_ACCEPT_WINDOW_SECONDS,
  NON_KEY_ENV_VARS,
  parsePeerEntry,
  PATH_KEYS,
  type HubConfig,
  type HubConfigInput,
  type LogFormat,
  type LogLevel,
} from './config-schema.js';

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
