#!/usr/bin/env node
/**
 * The `ship-hub` command. `ship-hub [config.json]` runs the daemon (the seed's contract); the
 * subcommands are the installer's and operator's tools. Commands only parse arguments and call
 * the hub/ops APIs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ShipHubError } from '../ship/errors.js';
import { Daemon, SHUTDOWN_BOUND_MS } from '../ops/daemon.js';
import { terminalPairingPrompt } from './pairing-prompt.js';
import { createLogger } from '../ops/logger.js';
import { systemClock } from '../util/clock.js';
import { formatCliError } from './output.js';
import { DEFAULT_CONFIG_PATH, configPath, config, inConfigFile } from './context.js';
import { registerNetworkTools } from './commands/network-tools.js';
import { registerCertCommands } from './commands/cert.js';
import { registerPairingCommands } from './commands/pairing.js';
import { registerDevicesCommand } from './commands/devices.js';
import { registerTrustCommands } from './commands/trust.js';
import { registerConfigCommands } from './commands/config.js';

/**
 * `--config FILE` for the hints the daemon logs (`ship-hub pairing approve …`), unless the CLI
 * finds that file without it (the default location).
 */
function configFlagOf(file: string): { configFlag?: string } {
  const absolute = resolve(file);
  if (absolute === DEFAULT_CONFIG_PATH) return {};
  const quoted = /^[\w./@:+-]+$/.test(absolute)
    ? absolute
    : `'${absolute.replaceAll("'", "'\\''")}'`;
  return { configFlag: `--config ${quoted}` };
}

async function runDaemon(path: string | undefined): Promise<void> {
  const file = configPath(path);
  const cfg = await config(file, false);
  const logger = createLogger({ level: cfg.log_level, format: cfg.log_format });
  const interactive = process.stdin.isTTY && process.stdout.isTTY && !process.env.INVOCATION_ID;
  const daemon = new Daemon({ config: cfg, logger, ...configFlagOf(file) });
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

/** The package's version (build/src/cli/main.js → package.json three levels up). */
export function packageVersion(): string {
  const pkg = createRequire(import.meta.url)('../../../package.json') as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
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
function refuseUnknownCommand(program: Command, word: string, more: readonly string[]): void {
  if (existsSync(word) || word.includes('/') || word.includes('.')) {
    if (more.length === 0) return;
    throw new TypeError(
      `the daemon takes one config file; unexpected: ${more.join(' ')} (see ship-hub --help)`,
    );
  }
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
    // More words are refused here, not by commander ("too many arguments"): `ship-hub pairng
    // list` is a mistyped command, and says so.
    .allowExcessArguments(true)
    .action(async (path: string | undefined, _options: unknown, command: Command) => {
      if (path === 'help') program.help();
      if (path !== undefined) refuseUnknownCommand(program, path, command.args.slice(1));
      await runDaemon(path);
    });

  program
    .command('run')
    .description('run the daemon (same as ship-hub [config])')
    .argument('[config]')
    .action(async (path: string | undefined) => runDaemon(path));

  registerNetworkTools(program);
  registerCertCommands(program);
  registerPairingCommands(program);
  registerDevicesCommand(program);
  registerTrustCommands(program);
  registerConfigCommands(program);

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

/**
 * `ship-hub cert show | head -1`: the reader has gone, so the rest of the output has nowhere to
 * go. The command ends quietly with the exit code it has so far instead of crashing on EPIPE.
 */
function quietWhenTheReaderLeaves(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

async function main(): Promise<void> {
  quietWhenTheReaderLeaves();
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
