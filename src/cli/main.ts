#!/usr/bin/env node
/**
 * The `ship-hub` command. `ship-hub [config.json]` runs the daemon (the seed's contract); the
 * subcommands are the installer's and operator's tools. Commands only parse arguments and call
 * the hub/ops APIs.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, ShipHubError } from '../ship/errors.js';
import { parseSki, toSki } from '../ship/ski.js';
import { parseStaticAddress } from '../util/host-port.js';
import { shipQrText } from '../mdns/txt.js';
import { AdminClient } from '../ops/admin-client.js';
import {
  DEFAULT_CONFIG_JSON,
  defaultConfig,
  environmentWarnings,
  loadConfig,
  type HubConfig,
} from '../ops/config.js';
import { Daemon, SHUTDOWN_BOUND_MS } from '../ops/daemon.js';
import { joinDevices, spineDetailLines, type DeviceViewSources } from './devices-view.js';
import { terminalPairingPrompt } from './pairing-prompt.js';
import { runStartupChecks } from '../ops/startup-checks.js';
import { acquireDataLock, dataLockPath, inspectLock, LockHeldError } from '../ops/data-lock.js';
import { createLogger } from '../ops/logger.js';
import { TrustStore } from '../trust/trust-store.js';
import {
  createIdentity,
  loadIdentity,
  reissueCertificate,
  type NodeIdentity,
} from '../trust/identity.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { systemClock } from '../util/clock.js';
import { safeTerminalText, terminalJson } from '../util/terminal-text.js';
import { runDiscover } from './commands/discover.js';
import { runProbe } from './commands/probe.js';
import { formatCliError, formatTable } from './output.js';

const print = (line: string) => {
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
function configPath(explicit: string | undefined): string {
  const found = findConfig(explicit);
  if ('tried' in found) throw noConfigError(found.tried);
  return found.path;
}

/**
 * The config of a command. Unknown `SHIPHUB_*` variables are reported on stderr (the daemon and
 * `config check` report them with their start-up checks instead).
 */
async function config(explicit: string | undefined, warnEnvironment = true): Promise<HubConfig> {
  const cfg = await loadConfig(configPath(explicit));
  if (warnEnvironment) {
    for (const warning of environmentWarnings(process.env)) {
      process.stderr.write(`ship-hub: warning: ${warning}\n`);
    }
  }
  return cfg;
}

/** The config if one is found (probe and discover work without one), else undefined. */
async function optionalConfig(explicit: string | undefined): Promise<HubConfig | undefined> {
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
async function throughDaemon<T>(
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
      if (
        offline === undefined ||
        !(err instanceof ShipHubError) ||
        err.code !== 'SHIPHUB_ERR_DAEMON_UNREACHABLE'
      ) {
        throw err;
      }
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

/** Says where a command acted: stdout, or stderr when stdout carries --json. */
function printWhere(where: string, json = false): void {
  if (json) process.stderr.write(`(${where})\n`);
  else print(`(${where})`);
}

/**
 * A start-up check's error names the key (`"network_interfaces": …`, `"port": …`); the CLI knows
 * which file that key is in, so the message names it too.
 */
function inConfigFile(error: unknown, file: string): unknown {
  if (!(error instanceof ConfigError) || !/^"[a-z_]+": /.test(error.message)) return error;
  return new ConfigError(error.code, `${file}: ${error.message}`, {
    cause: error.cause ?? error,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
  });
}

async function runDaemon(path: string | undefined): Promise<void> {
  const file = configPath(path);
  const cfg = await config(file, false);
  const logger = createLogger({ level: cfg.log_level, format: cfg.log_format });
  const interactive = process.stdin.isTTY && process.stdout.isTTY && !process.env.INVOCATION_ID;
  const daemon = new Daemon({ config: cfg, logger });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ event: 'forced_exit', signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    logger.info({ event: 'signal', signal }, `received ${signal}`);
    // The seed's bound: the process is gone within 30 s whatever happens.
    // Unref'd: a shutdown that finishes in time exits without waiting for it.
    systemClock.setTimer('shutdownBound', SHUTDOWN_BOUND_MS, () => {
      logger.error({ event: 'shutdown_timeout' }, 'shutdown took too long: exiting');
      process.exit(1);
    });
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // SIGHUP (the usual "reload" of daemons) no longer ends the process without a SHIP close: it
  // re-reads trusted_devices.json; a bad file is logged and the old state kept.
  process.on('SIGHUP', () => {
    logger.info({ event: 'reload_requested', signal: 'SIGHUP' }, 'received SIGHUP: reloading');
    void daemon.reload().catch((err: unknown) => logger.error({ err }, 'reload failed'));
  });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop().catch(() => undefined);
    throw inConfigFile(err, file);
  }
  // The seed's question at the terminal; not under systemd or without a terminal.
  if (interactive) daemon.attachPairingQuestions((target) => terminalPairingPrompt(target));
}

function identityOf(cfg: HubConfig): Promise<NodeIdentity> {
  return loadIdentity(cfg.certificate_file, cfg.private_key_file);
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): void {
  for (const line of formatTable(rows, columns)) print(line);
}

/** The package's version (build/src/cli/main.js → package.json three levels up). */
export function packageVersion(): string {
  const pkg = createRequire(import.meta.url)('../../../package.json') as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** A numeric option in seconds (e.g. --timeout): a positive number, else a usage error (exit 2). */
function secondsOption(name: string, text: string, max = 86_400): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > max) {
    throw new TypeError(
      `${name}: expected a number of seconds above 0 and up to ${max}, got "${text}"`,
    );
  }
  return seconds;
}

/** Edit distance, for "did you mean" (commands are short: the quadratic table is fine). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * `ship-hub WORD` runs the daemon with the config file WORD (the seed's contract). A word that is
 * no file and does not look like a path is far more likely a mistyped command ("stauts"): say so
 * instead of "cannot read config file".
 */
function refuseUnknownCommand(program: Command, word: string): void {
  if (existsSync(word) || word.includes('/') || word.includes('.')) return;
  const names = program.commands.map((c) => c.name());
  const closest = names
    .map((name) => ({ name, distance: editDistance(word, name) }))
    .sort((x, y) => x.distance - y.distance)[0];
  const suggestion =
    closest !== undefined && closest.distance <= 2 ? ` (did you mean "${closest.name}"?)` : '';
  throw new TypeError(
    `unknown command "${word}"${suggestion}; commands: ${names.join(', ')}; ` +
      'a config file is given by its path (e.g. ./config.json); see ship-hub --help',
  );
}

export function buildProgram(): Command {
  const program = new Command();
  // Usage errors end as a CommanderError (exit code 2 in main), not with commander's exit 1;
  // subcommands created below inherit this.
  program.exitOverride();
  program
    .name('ship-hub')
    .description('EEBUS SHIP hub: run the daemon, or use the tools below')
    .version(packageVersion(), '-v, --version', 'print the version')
    .argument(
      '[config]',
      `config.json of the daemon (default: $SHIPHUB_CONFIG, ./config.json, ${DEFAULT_CONFIG_PATH})`,
    )
    .action(async (path: string | undefined) => {
      if (path === 'help') program.help();
      if (path !== undefined) refuseUnknownCommand(program, path);
      await runDaemon(path);
    });

  program
    .command('run')
    .description('run the daemon (same as ship-hub [config])')
    .argument('[config]')
    .action(async (path: string | undefined) => runDaemon(path));

  program
    .command('probe')
    .description('dial a SHIP device, walk the handshake and explain each phase')
    .argument('<target>', 'HOST:PORT (IPv6 as [addr]:port)')
    .option('--ski <ski>', 'the SKI the device must present')
    .option('--json', 'one JSON object per line')
    .option('--timeout <seconds>', 'give up after this many seconds', '30')
    .option('--config <file>', 'config.json (for our identity)')
    .option(
      '--temporary-identity',
      "probe with a fresh throwaway identity instead of the hub's (it cannot be pre-approved)",
    )
    .action(
      async (
        target: string,
        opts: {
          ski?: string;
          json?: boolean;
          timeout: string;
          config?: string;
          temporaryIdentity?: boolean;
        },
      ) => {
        const timeoutMs = secondsOption('--timeout', opts.timeout) * 1000;
        const found = await optionalConfig(opts.config);
        // Without a config file only the defaults' SHIP ID and organisation are used: no file
        // under the current directory is read or created.
        const cfg = found ?? defaultConfig();
        let identity: NodeIdentity;
        let note: string | undefined;
        if (
          opts.temporaryIdentity !== true &&
          found !== undefined &&
          existsSync(cfg.certificate_file) &&
          existsSync(cfg.private_key_file)
        ) {
          identity = await identityOf(cfg);
        } else {
          identity = await createIdentity({
            commonName: 'ship-hub-probe',
            organization: cfg.organization,
          });
          note =
            opts.temporaryIdentity === true
              ? `--temporary-identity: probing with a throwaway identity (SKI ${identity.ski})`
              : found === undefined
                ? `no config file: probing with a temporary identity (SKI ${identity.ski})`
                : `no identity at ${cfg.certificate_file}: probing with a temporary one (SKI ${identity.ski})`;
        }
        if (note !== undefined && opts.json !== true) print(note);
        process.exitCode = await runProbe({
          target,
          json: opts.json === true,
          timeoutMs,
          identity,
          localShipId: cfg.ship_id,
          write: print,
          ...(opts.ski !== undefined ? { ski: opts.ski } : {}),
        });
      },
    );

  program
    .command('discover')
    .description('list the SHIP services visible now (mDNS _ship._tcp)')
    .option('--json', 'one JSON object per line')
    .option('--timeout <seconds>', 'how long to browse', '3')
    .addOption(
      new Option('--provider <provider>', 'mDNS provider').choices(['auto', 'avahi', 'builtin']),
    )
    .option('--config <file>', 'config.json (interfaces, trusted devices)')
    .action(
      async (opts: {
        json?: boolean;
        timeout: string;
        provider?: 'auto' | 'avahi' | 'builtin';
        config?: string;
      }) => {
        // Checked before anything is opened (an mDNS socket included).
        const timeoutMs = secondsOption('--timeout', opts.timeout) * 1000;
        // Without a config file: every interface, no device marked as trusted.
        const cfg = await optionalConfig(opts.config);
        const trusted =
          cfg === undefined
            ? []
            : (await TrustStore.open(cfg.trusted_devices_file, { clock: systemClock })).list();
        process.exitCode = await runDiscover({
          provider: opts.provider ?? cfg?.mdns_provider ?? 'auto',
          timeoutMs,
          json: opts.json === true,
          trustedSkis: new Set(trusted.map((d) => d.ski)),
          write: print,
          ...(cfg !== undefined && cfg.network_interfaces.length > 0
            ? { interfaces: cfg.network_interfaces }
            : {}),
        });
      },
    );

  const cert = program.command('cert').description('our certificate (the SKI is our identity)');
  cert
    .command('show')
    .description('SKI, SHIP ID, expiry and the SHIP installation QR text')
    .option('--json', 'JSON output')
    .option('--config <file>', 'config.json')
    .action(async (opts: { json?: boolean; config?: string }) => {
      const cfg = await config(opts.config);
      const id = await identityOf(cfg);
      const qr = shipQrText({
        ski: id.ski,
        shipId: cfg.ship_id,
        brand: cfg.device_brand,
        type: cfg.device_type,
        model: cfg.device_model,
        serial: cfg.device_serial,
      });
      const info = {
        ski: id.ski,
        ship_id: cfg.ship_id,
        subject: id.subject,
        not_before: id.notBefore.toISOString(),
        not_after: id.notAfter.toISOString(),
        fingerprint_sha256: id.fingerprintSha256,
        certificate_file: cfg.certificate_file,
        qr_text: qr,
      };
      if (opts.json === true) {
        print(JSON.stringify(info));
        return;
      }
      print(`SKI:          ${id.ski}`);
      print(`SHIP ID:      ${cfg.ship_id}`);
      print(`Subject:      ${id.subject}`);
      print(`Valid until:  ${info.not_after}`);
      print(`SHA-256:      ${id.fingerprintSha256}`);
      print(`QR text:      ${qr}`);
    });
  cert
    .command('renew')
    .description(
      're-issue the certificate from the existing key (also when it is missing or does not ' +
        'match the key): the SKI and every pairing survive',
    )
    .option('--days <days>', 'validity in days', '3650')
    .option('--config <file>', 'config.json')
    .action(async (opts: { days: string; config?: string }) => {
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 36_500) {
        throw new TypeError(
          `--days: expected a whole number of days from 1 to 36500, got "${opts.days}"`,
        );
      }
      const cfg = await config(opts.config);
      const { identity, previous, keptAt } = await reissueCertificate({
        certPath: cfg.certificate_file,
        keyPath: cfg.private_key_file,
        validityDays: days,
        // The subject the daemon gives a new identity; a valid certificate keeps its own.
        subject: {
          commonName: `${cfg.device_model}-${cfg.device_serial}`.slice(0, 64),
          organization: cfg.organization,
          organizationalUnit: cfg.device_brand,
          country: cfg.country,
        },
      });
      const what =
        previous === 'valid'
          ? 'renewed'
          : previous === 'missing'
            ? 're-issued the missing certificate'
            : `replaced the certificate that did not match the key (kept at ${keptAt ?? '?'})`;
      print(`${what}: ${cfg.certificate_file}, valid until ${identity.notAfter.toISOString()}`);
      print(`SKI (from the key ${cfg.private_key_file}, unchanged): ${identity.ski}`);
      print('restart the daemon to present the new certificate');
    });

  const pairing = program
    .command('pairing')
    .description('pending pairing requests of the running daemon');
  pairing
    .command('list')
    .option('--json', 'JSON output')
    .option('--config <file>', 'config.json')
    .action(async (opts: { json?: boolean; config?: string }) => {
      const cfg = await config(opts.config);
      const {
        result: { pending, denied },
        where,
      } = await throughDaemon(cfg, (c) => c.pairingOverview());
      if (opts.json === true) {
        print(terminalJson(pending));
      } else {
        table(pending, ['ski', 'brand', 'model', 'device_type', 'address', 'expires_at']);
        if (denied.length > 0) {
          print('');
          print(
            'denied (refused without a question until the time shown; `pairing forget SKI` ends it):',
          );
          table(denied, ['ski', 'denied_at', 'until', 'refused_since']);
        }
      }
      printWhere(where, opts.json === true);
    });
  pairing
    .command('forget')
    .argument('<ski>', 'SKI of a denied device: it may ask again at once')
    .option('--config <file>', 'config.json')
    .action(async (skiText: string, opts: { config?: string }) => {
      const cfg = await config(opts.config);
      const ski = toSki(skiText);
      const { where } = await throughDaemon(cfg, (c) => c.forgetDenial(ski));
      print(`↩️  forgot the denial of ${ski}: it may ask again`);
      printWhere(where, false);
    });
  pairing
    .command('window')
    .description(
      'open an auto-accept window: any device that asks is paired, for at most 2 minutes',
    )
    .option('--seconds <seconds>', 'how long, 1-120 (SHIP 12.3.1.1)', '120')
    .option('--close', 'close an open window now')
    .option('--config <file>', 'config.json')
    .action(async (opts: { seconds: string; close?: boolean; config?: string }) => {
      const seconds = opts.close === true ? 0 : Number(opts.seconds);
      if (opts.close !== true && (!Number.isInteger(seconds) || seconds < 1 || seconds > 120)) {
        throw new TypeError(`--seconds: expected an integer from 1 to 120, got "${opts.seconds}"`);
      }
      const cfg = await config(opts.config);
      const { result, where } = await throughDaemon(cfg, (c) => c.pairingWindow(seconds));
      print(
        result.open
          ? `⚠️  auto-accept open until ${result.until ?? '?'}: any device that asks is paired`
          : '🔒 auto-accept closed',
      );
      printWhere(where, false);
    });
  for (const verb of ['approve', 'deny'] as const) {
    pairing
      .command(verb)
      .argument('<ski>', 'SKI of the pending device (spaces, dashes and colons are fine)')
      .option('--config <file>', 'config.json')
      .action(async (skiText: string, opts: { config?: string }) => {
        const cfg = await config(opts.config);
        const ski = toSki(skiText);
        const { where } = await throughDaemon(cfg, (c) =>
          verb === 'approve' ? c.approve(ski) : c.deny(ski),
        );
        print(`${verb === 'approve' ? '✅ approved' : '❌ denied'} ${ski}`);
        printWhere(where);
      });
  }

  program
    .command('devices')
    .description(
      'every device the hub knows of: seen on mDNS, asking to pair, trusted, connected, and ' +
        'what SPINE says of it (one row each); with SKI: that device in detail',
    )
    .argument('[ski]', 'one device: its row and its SPINE description')
    .option('--json', 'JSON output')
    .option('--config <file>', 'config.json')
    .action(async (skiText: string | undefined, opts: { json?: boolean; config?: string }) => {
      const ski = skiText === undefined ? undefined : parseSki(skiText);
      if (skiText !== undefined && ski === undefined) {
        throw new TypeError(
          `not an SKI: "${safeTerminalText(skiText)}" (40 hexadecimal digits expected)`,
        );
      }
      const cfg = await config(opts.config);
      const { result: sources, where } = await throughDaemon<DeviceViewSources>(
        cfg,
        async (c) => ({
          discovered: await c.listDiscovered(),
          pending: await c.listPending(),
          trusted: await c.listTrusted(),
          connections: await c.listConnections(),
          spine: await c.listDevices(),
        }),
        {
          edit: false,
          // Without the daemon only the trust file is known.
          run: async () => ({
            discovered: [],
            pending: [],
            trusted: (
              await TrustStore.open(cfg.trusted_devices_file, { clock: systemClock })
            ).list(),
            connections: [],
          }),
        },
      );
      const rows = joinDevices(sources);
      if (ski !== undefined) {
        const row = rows.find((r) => r.ski === ski);
        if (row === undefined) {
          throw new ShipHubError(
            'SHIPHUB_ERR_NOT_FOUND',
            `${ski} is not known: not seen on mDNS, not asking to pair, not trusted, not connected`,
          );
        }
        if (opts.json === true) print(terminalJson(row));
        else {
          const { spine_details: details, ...fields } = row;
          for (const [name, value] of Object.entries(fields)) {
            print(`${name.padEnd(15)} ${safeTerminalText(String(value))}`);
          }
          for (const line of details === undefined
            ? ['SPINE:          - (not in data exchange, or the daemon is not running)']
            : spineDetailLines(details)) {
            print(line);
          }
        }
      } else if (opts.json === true) print(terminalJson(rows));
      else {
        table(rows, [
          'ski',
          'brand',
          'model',
          'device_type',
          'trusted',
          'mdns',
          'pairing',
          'connection',
          'spine',
        ]);
      }
      printWhere(where, opts.json === true);
    });

  const trust = program
    .command('trust')
    .description('trusted devices (through the daemon if it runs, else on the file)');
  trust
    .command('list')
    .option('--json', 'JSON output')
    .option('--config <file>', 'config.json')
    .action(async (opts: { json?: boolean; config?: string }) => {
      const cfg = await config(opts.config);
      const { result: devices, where } = await throughDaemon(cfg, (c) => c.listTrusted(), {
        edit: false,
        run: async () =>
          (await TrustStore.open(cfg.trusted_devices_file, { clock: systemClock })).list(),
      });
      if (opts.json === true) print(terminalJson(devices));
      else {
        // On the file (no daemon running) nothing is connected.
        const rows = devices.map((d) => ({
          ...d,
          connected:
            d.connected === true && typeof d.connected_since === 'string'
              ? `since ${d.connected_since}`
              : 'no',
        }));
        const columns = ['ski', 'brand', 'model', 'device_type', 'connected', 'last_connection'];
        if (devices.some((d) => typeof d.address === 'string')) columns.push('address');
        table(rows, [...columns, 'connection_count']);
      }
      printWhere(where, opts.json === true);
    });
  trust
    .command('add')
    .argument('<ski>', 'SKI to trust')
    .option('--brand <brand>')
    .option('--model <model>')
    .option('--type <type>', 'device type')
    .option(
      '--address <host:port>',
      'dial the device here when mDNS does not show it (VLANs, containers)',
    )
    .option('--config <file>', 'config.json')
    .action(
      async (
        skiText: string,
        opts: { brand?: string; model?: string; type?: string; address?: string; config?: string },
      ) => {
        if (opts.address !== undefined) {
          const parsed = parseStaticAddress(opts.address);
          if (typeof parsed === 'string') throw new TypeError(`--address: ${parsed}`);
        }
        const cfg = await config(opts.config);
        const ski = toSki(skiText);
        const info = {
          ...(opts.brand !== undefined ? { brand: opts.brand } : {}),
          ...(opts.model !== undefined ? { model: opts.model } : {}),
          ...(opts.type !== undefined ? { device_type: opts.type } : {}),
          ...(opts.address !== undefined ? { address: opts.address } : {}),
        };
        const { where } = await throughDaemon(cfg, (c) => c.addTrusted(ski, info), {
          edit: true,
          run: async () => {
            const store = await TrustStore.open(cfg.trusted_devices_file, { clock: systemClock });
            return store.add({ ski, ...info });
          },
        });
        print(`✅ trusted ${ski}`);
        printWhere(where);
      },
    );
  trust
    .command('remove')
    .argument('<ski>', 'SKI to remove')
    .option('--config <file>', 'config.json')
    .action(async (skiText: string, opts: { config?: string }) => {
      const cfg = await config(opts.config);
      const ski = toSki(skiText);
      const { where } = await throughDaemon(cfg, (c) => c.removeTrusted(ski), {
        edit: true,
        run: async () => {
          const store = await TrustStore.open(cfg.trusted_devices_file, { clock: systemClock });
          if (!(await store.remove(ski))) {
            throw new ShipHubError(
              'SHIPHUB_ERR_NOT_FOUND',
              `${ski} is not a trusted device (in ${cfg.trusted_devices_file})`,
            );
          }
        },
      });
      print(`🗑️  removed ${ski}`);
      printWhere(where);
    });

  const cfgCmd = program.command('config').description('configuration file');
  cfgCmd
    .command('init')
    .argument('[file]', 'where to write it', 'config.json')
    .option('--if-missing', 'do nothing (exit 0) when the file exists')
    .description('write a config.json with every key at its default')
    .action(async (file: string, opts: { ifMissing?: boolean }) => {
      const absolute = resolve(file);
      if (existsSync(absolute)) {
        if (opts.ifMissing === true) return;
        throw new ShipHubError('SHIPHUB_ERR_CONFIG', `${absolute} exists; not overwritten`);
      }
      try {
        await mkdir(dirname(absolute), { recursive: true });
        await writeFileAtomic(absolute, DEFAULT_CONFIG_JSON);
      } catch (error) {
        throw new ShipHubError(
          'SHIPHUB_ERR_STORAGE',
          `cannot write ${absolute}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, hint: `run it as a user who may write to ${dirname(absolute)}` },
        );
      }
      const dir = dirname(absolute);
      print(`wrote ${absolute} (every key at its default)`);
      print(
        `its files go next to it: ${resolve(dir, 'certs')} (identity) and ${resolve(dir, 'data')} ` +
          '(trusted devices, counters, admin token)',
      );
      print(
        absolute === DEFAULT_CONFIG_PATH
          ? 'start the daemon with: ship-hub (found without flags)'
          : `start the daemon with: ship-hub ${absolute}`,
      );
    });
  cfgCmd
    .command('check')
    .argument('[file]', 'config.json')
    .description(
      'run every start-up check (interfaces, identity, trust, state and token files, ports) ' +
        'without creating anything',
    )
    .action(async (file: string | undefined) => {
      const path = configPath(file);
      const cfg = await config(path, false);
      const report = await runStartupChecks(cfg, { probePorts: true, env: process.env }).catch(
        (error: unknown) => {
          throw inConfigFile(error, path);
        },
      );
      for (const warning of report.warnings) print(`warning: ${warning}`);
      for (const note of report.notes) print(note);
      print(`${path}: OK (port ${cfg.port}, SHIP ID ${cfg.ship_id})`);
    });

  return program;
}

/**
 * The exit codes of `ship-hub`, one table for every command (README "Exit codes"): 2 means "what
 * you gave is wrong" (the command line or the configuration; fix it, retrying will not help), 1
 * that something failed while doing it.
 */
export const EXIT_CODES = {
  /** Done; for `probe`: data exchange was reached. */
  ok: 0,
  /** A runtime failure: the daemon or a command failed (daemon unreachable, storage, lock). */
  failure: 1,
  /** Bad usage: unknown command or option, an invalid argument or option value. */
  usage: 2,
  /** A configuration error: config file, environment, or a start-up check (files, ports). */
  config: 2,
} as const;

/** The exit code of an error a command ended with. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    return err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (err instanceof ShipHubError) {
    return err.code === 'SHIPHUB_ERR_CONFIG' || err.code === 'SHIPHUB_ERR_STORE_INVALID'
      ? EXIT_CODES.config
      : EXIT_CODES.failure;
  }
  if (err instanceof TypeError) return EXIT_CODES.usage;
  return EXIT_CODES.failure;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    // Commander has written its own message (usage error) or the help/version text.
    if (err instanceof CommanderError) {
      process.exitCode = exitCodeOf(err);
      return;
    }
    if (err instanceof ShipHubError || err instanceof TypeError) {
      process.stderr.write(`${formatCliError(err).join('\n')}\n`);
      process.exitCode = exitCodeOf(err);
      return;
    }
    throw err;
  }
}

await main();
