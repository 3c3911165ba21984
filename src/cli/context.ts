/**
 * What every `ship-hub` command shares: where its config file is found, how it reaches the
 * running daemon (or edits the files when none runs), and how it says where it acted.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, ShipHubError } from '../ship/errors.js';
import { AdminClient } from '../ops/admin-client.js';
import { environmentWarnings, loadConfig, type HubConfig } from '../ops/config.js';
import { acquireDataLock, dataLockPath, inspectLock, LockHeldError } from '../ops/data-lock.js';
import { loadIdentity, type NodeIdentity } from '../trust/identity.js';
import { formatTable } from './output.js';

export const print = (line: string) => {
  process.stdout.write(`${line}\n`);
};

/** The documented default location of the config file (README "Configuration"). */
export const DEFAULT_CONFIG_PATH = '/etc/ship-hub/config.json';

/** The config file a command uses, or the places looked at when there is none. */
type ConfigLookup = { readonly path: string } | { readonly tried: string[] };

/**
 * --config (or the daemon's argument), else $SHIPHUB_CONFIG, else ./config.json in the current
 * directory, else /etc/ship-hub/config.json. Never the built-in defaults by themselves: their
 * relative paths would put a new identity and trust file under whatever directory the operator
 * stands in.
 */
function findConfig(explicit: string | undefined): ConfigLookup {
  if (explicit !== undefined) return { path: explicit };
  const fromEnv = process.env.SHIPHUB_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return { path: fromEnv };
  const local = resolve('config.json');
  if (existsSync(local)) return { path: 'config.json' };
  if (existsSync(DEFAULT_CONFIG_PATH)) return { path: DEFAULT_CONFIG_PATH };
  return {
    tried: [
      '--config (not given)',
      '$SHIPHUB_CONFIG (not set)',
      `${local} (not found)`,
      `${DEFAULT_CONFIG_PATH} (not found)`,
    ],
  };
}

function noConfigError(tried: readonly string[]): ConfigError {
  return new ConfigError('SHIPHUB_ERR_CONFIG', `no config file found; tried ${tried.join(', ')}`, {
    hint:
      `create one with "sudo ship-hub config init ${DEFAULT_CONFIG_PATH}" (found without ` +
      'flags), or "ship-hub config init ./config.json" and run ship-hub in that directory ' +
      '(or pass --config FILE); relative paths in it resolve against its directory',
  });
}

/** The path of the config file a command uses; a ConfigError naming every place tried if none. */
export function configPath(explicit: string | undefined): string {
  const found = findConfig(explicit);
  if ('tried' in found) throw noConfigError(found.tried);
  return found.path;
}

/**
 * The config of a command. Unknown `SHIPHUB_*` variables are reported on stderr (the daemon and
 * `config check` report them with their start-up checks instead).
 */
export async function config(
  explicit: string | undefined,
  warnEnvironment = true,
): Promise<HubConfig> {
  // Before the config is loaded: a mistyped variable (SHIPHUB_PROT) may be why it fails.
  if (warnEnvironment) warnAboutEnvironment();
  return loadConfig(configPath(explicit));
}

/** Unknown SHIPHUB_* variables, each named on stderr with the key it resembles. */
export function warnAboutEnvironment(): void {
  for (const warning of environmentWarnings(process.env)) {
    process.stderr.write(`ship-hub: warning: ${warning}\n`);
  }
}

/** The config if one is found (probe and discover work without one), else undefined. */
export async function optionalConfig(explicit: string | undefined): Promise<HubConfig | undefined> {
  return 'tried' in findConfig(explicit) ? undefined : config(explicit);
}

/** Where a trust/pairing command acted, printed with its result. */
interface Acted<T> {
  readonly result: T;
  /** "through the daemon at <url>" or "on the file <path> …". */
  readonly where: string;
}

/**
 * Runs an admin API call; falls back to `offline` (on trusted_devices.json) when the admin API
 * cannot be reached. An offline edit (`edit`) takes the data directory's lock for its duration,
 * so it is refused while a daemon holds it: the daemon would overwrite the edit with its next
 * write, or never see it. Reading the file is allowed either way (it is written atomically).
 */
export async function throughDaemon<T>(
  cfg: HubConfig,
  online: (client: AdminClient) => Promise<T>,
  offline?: { edit: boolean; run: () => Promise<T> },
): Promise<Acted<T>> {
  // Without an offline path (pairing) a disabled admin API is an error (fromConfig throws).
  let api: string;
  if (offline === undefined || cfg.admin_port !== 0) {
    const client = AdminClient.fromConfig(cfg);
    try {
      return { result: await online(client), where: `through the daemon at ${client.baseUrl}` };
    } catch (err) {
      const unreachable =
        err instanceof ShipHubError && err.code === 'SHIPHUB_ERR_DAEMON_UNREACHABLE';
      if (offline === undefined || !unreachable) throw answeredBy(err, client.baseUrl);
    }
    api = `the admin API at ${client.baseUrl} could not be reached`;
  } else {
    api = 'the admin API is disabled (admin_port 0)';
  }
  const file = cfg.trusted_devices_file;
  const lockPath = dataLockPath(cfg);
  if (!offline.edit) {
    const lock = await inspectLock(lockPath);
    const note =
      lock.state === 'held'
        ? `; process ${lock.pid} holds ${lockPath} but ${api}, so this may lag behind ` +
          'that daemon'
        : ', no daemon running';
    return { result: await offline.run(), where: `read from the file ${file}${note}` };
  }
  let lock;
  try {
    lock = await acquireDataLock(lockPath);
  } catch (err) {
    if (!(err instanceof LockHeldError)) throw err;
    throw new ShipHubError(
      'SHIPHUB_ERR_LOCKED',
      `not changed: ${api}, and process ${err.pid} holds ${lockPath} (a running ship-hub ` +
        `daemon), so ${file} is not edited behind its back (the daemon would overwrite or ` +
        'ignore the edit)',
      {
        cause: err,
        hint:
          'check admin_host/admin_port of the config this command uses (admin_port 0 disables ' +
          `the API), or stop the daemon (process ${err.pid}) and run the command again`,
      },
    );
  }
  try {
    return { result: await offline.run(), where: `on the file ${file} (no daemon running)` };
  } finally {
    await lock.release();
  }
}

/** An error the daemon answered with says which daemon answered (a refusal acted somewhere too). */
function answeredBy(err: unknown, baseUrl: string): unknown {
  if (!(err instanceof ShipHubError) || err.code === 'SHIPHUB_ERR_DAEMON_UNREACHABLE') return err;
  return new ShipHubError(err.code, `${err.message} (the daemon at ${baseUrl})`, {
    cause: err.cause ?? err,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
  });
}

/** Says where a command acted: stdout, or stderr when stdout carries --json. */
export function printWhere(where: string, json = false): void {
  if (json) process.stderr.write(`(${where})\n`);
  else print(`(${where})`);
}

/**
 * A start-up check's error names the key (`"network_interfaces": …`, `"port": …`); the CLI knows
 * which file that key is in, so the message names it too.
 */
export function inConfigFile(error: unknown, file: string): unknown {
  if (!(error instanceof ConfigError) || !/^"[a-z_]+": /.test(error.message)) return error;
  return new ConfigError(error.code, `${file}: ${error.message}`, {
    cause: error.cause ?? error,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
  });
}

export function identityOf(cfg: HubConfig): Promise<NodeIdentity> {
  return loadIdentity(cfg.certificate_file, cfg.private_key_file);
}

/** Whether the config's identity (certificate and key) is on disk, i.e. {@link identityOf} has one. */
export function hasIdentityFiles(cfg: HubConfig): boolean {
  return existsSync(cfg.certificate_file) && existsSync(cfg.private_key_file);
}

export function table(rows: Array<Record<string, unknown>>, columns: string[]): void {
  for (const line of formatTable(rows, columns)) print(line);
}

/** A numeric option in seconds (e.g. --timeout): a positive number, else a usage error (exit 2). */
export function secondsOption(name: string, text: string, max = 86_400): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > max) {
    throw new TypeError(
      `${name}: expected a number of seconds above 0 and up to ${max}, got "${text}"`,
    );
  }
  return seconds;
}
