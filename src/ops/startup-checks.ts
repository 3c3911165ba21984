/**
 * The daemon's start-up checks as one function that creates nothing: the interface list, the
 * identity files, the trust and state files, the admin token file and (for `ship-hub config
 * check`) whether the ports can be bound. The daemon runs it before it creates an identity or
 * any file, so a config that cannot start fails with the same message under `config check` and
 * at start, and a failed start leaves nothing behind.
 */
import { createServer } from 'node:net';
import {
  systemInterfaces,
  validateInterfaceNames,
  type InterfaceSource,
} from '../mdns/interfaces.js';
import { ConfigError } from '../ship/errors.js';
import type { Ski } from '../ship/ski.js';
import { checkIdentityFiles, expiryWarning } from '../trust/identity.js';
import { StateStore } from '../trust/state-store.js';
import { TrustStore } from '../trust/trust-store.js';
import { checkAdminTokenFile } from './admin-token.js';
import { configWarnings, environmentWarnings, type HubConfig } from './config.js';
import { dataLockPath, inspectLock } from './data-lock.js';

/** Options of {@link runStartupChecks}. */
export interface StartupCheckOptions {
  /** The interface table (os.networkInterfaces by default; a fixture in tests). */
  readonly interfaceSource?: InterfaceSource;
  /**
   * Also bind `port` and `admin_port` for a moment and release them (`config check`). The daemon
   * binds them for real and reports a taken port then (see {@link listenError}); on a first
   * start it probes them itself before creating the identity.
   */
  readonly probePorts?: boolean;
  /** Environment to report unknown `SHIPHUB_*` variables of; default the process's. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The moment for the certificate expiry warning; default now. */
  readonly now?: Date;
}

/** What start-up would find: warnings to log, and what it would create or skip. */
export interface StartupCheckReport {
  /** What the daemon logs at level warn at start (config, environment). */
  readonly warnings: string[];
  /** Facts for the operator: the identity found or to be created, files to be created, … */
  readonly notes: string[];
  /** The SKI of the identity on disk; undefined when a first start would create one. */
  readonly ski: Ski | undefined;
}

/**
 * Runs every check the daemon's start-up does, in its order, without creating, moving or locking
 * anything.
 *
 * @throws ConfigError (`SHIPHUB_ERR_CONFIG`, `SHIPHUB_ERR_STORE_INVALID`, `SHIPHUB_ERR_STORAGE`)
 *   naming the key or file and the problem, exactly as the start would fail.
 */
export async function runStartupChecks(
  config: HubConfig,
  options: StartupCheckOptions = {},
): Promise<StartupCheckReport> {
  const c = config;
  const warnings = [...configWarnings(c), ...environmentWarnings(options.env)];
  const notes: string[] = [];

  if (c.mdns_enabled && c.network_interfaces.length > 0) {
    checkInterfaces(c.network_interfaces, options.interfaceSource ?? systemInterfaces);
  }

  const identity = await checkIdentityFiles(c.certificate_file, c.private_key_file);
  if (identity === undefined) {
    notes.push(
      `no identity yet: the first start creates ${c.private_key_file} and ${c.certificate_file} ` +
        '(a new SKI)',
    );
  } else {
    notes.push(`identity: SKI ${identity.ski} (${c.certificate_file})`);
    // The daemon logs this itself after loading the identity: a note here, not a second warning.
    const expiry = expiryWarning(identity, options.now ?? new Date());
    if (expiry !== undefined) notes.push(`⚠️  ${expiry}`);
  }

  const trusted = await TrustStore.check(c.trusted_devices_file);
  notes.push(`trusted devices: ${trusted} (${c.trusted_devices_file})`);
  try {
    await StateStore.check(c.state_file);
  } catch (error) {
    // The daemon sets a broken counter file aside and starts anyway: a warning, not a failure.
    if (!(error instanceof ConfigError) || error.code !== 'SHIPHUB_ERR_STORE_INVALID') throw error;
    warnings.push(`${error.message}; the daemon moves it aside at start and counts from zero`);
  }

  if (c.admin_port !== 0) {
    const token = await checkAdminTokenFile(c.admin_token_file);
    if (token === undefined) {
      notes.push(`no admin token yet: the first start creates ${c.admin_token_file}`);
    }
  }

  if (options.probePorts === true) {
    const lockPath = dataLockPath(c);
    const lock = await inspectLock(lockPath);
    if (lock.state === 'held') {
      notes.push(
        `process ${lock.pid} holds ${lockPath} (a running daemon on these files): ports not ` +
          'probed, and a second daemon would stop here',
      );
    } else {
      await probePort(c.port, undefined, 'port');
      if (c.admin_port !== 0) await probePort(c.admin_port, c.admin_host, 'admin_port');
    }
  }
  return { warnings, notes, ski: identity?.ski };
}

/** The configured interfaces exist; else a ConfigError naming the key (before anything starts). */
function checkInterfaces(names: readonly string[], source: InterfaceSource): void {
  try {
    validateInterfaceNames(names, source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `"network_interfaces": ${error.message.replace(/^mdns: /, '')}`,
      {
        cause: error,
        hint:
          'set "network_interfaces" to names from `ip -br link` (without "@ifN"), [] for all ' +
          'interfaces, or "mdns_enabled": false',
      },
    );
  }
}

/** Binds `port` for a moment as the daemon would, and releases it. */
/** Binds `port` for a moment and releases it; a taken port is a ConfigError naming `key`. */
export function probePort(port: number, host: string | undefined, key: 'port' | 'admin_port') {
  return new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => {
      const explained = listenError(error, key, port, host);
      reject(explained instanceof Error ? explained : error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * A port the daemon cannot listen on, said so that an installer can act: which key, which port,
 * what holds it. Other errors pass through unchanged.
 */
export function listenError(
  error: unknown,
  key: 'port' | 'admin_port',
  port: number,
  host?: string,
): unknown {
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const where = host === undefined ? `port ${port}` : `${host}:${port}`;
  if (code === 'EADDRINUSE') {
    return new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `"${key}": ${where} is already in use by another program (or another ship-hub)`,
      {
        cause: error,
        hint: `find it with "ss -ltnp 'sport = :${port}'" and stop it, or set another "${key}" in the config`,
      },
    );
  }
  if (code === 'EACCES') {
    return new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `"${key}": no permission to listen on ${where} (ports below 1024 need privileges)`,
      { cause: error, hint: `use a port of 1024 or above for "${key}"` },
    );
  }
  if (code === 'EADDRNOTAVAIL') {
    return new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `"admin_host": ${host ?? '?'} is not an address of this machine`,
      { cause: error, hint: 'use 127.0.0.1, or an address this machine has (ip -br addr)' },
    );
  }
  return error;
}
