/**
 * `ship-hub config init|check`: write a config file, run every start-up check on one.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ShipHubError } from '../../ship/errors.js';
import { DEFAULT_CONFIG_JSON } from '../../ops/config.js';
import { runStartupChecks } from '../../ops/startup-checks.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import {
  print,
  DEFAULT_CONFIG_PATH,
  configPath,
  config,
  inConfigFile,
  warnAboutEnvironment,
} from '../context.js';

export function registerConfigCommands(program: Command): void {
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
      // A failing check still names mistyped SHIPHUB_* variables (they may be the cause); a
      // passing one lists them with its other warnings.
      const cfg = await config(path, false).catch((error: unknown) => {
        warnAboutEnvironment();
        throw error;
      });
      const report = await runStartupChecks(cfg, { probePorts: true, env: process.env }).catch(
        (error: unknown) => {
          warnAboutEnvironment();
          throw inConfigFile(error, path);
        },
      );
      for (const warning of report.warnings) print(`warning: ${warning}`);
      for (const note of report.notes) print(note);
      print(`${path}: OK (port ${cfg.port}, SHIP ID ${cfg.ship_id})`);
    });
}
