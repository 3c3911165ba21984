/**
 * `ship-hub pairing list|forget|window|approve|deny`: pairing requests of the running daemon.
 */
import type { Command } from 'commander';
import { toSki } from '../../ship/ski.js';
import { terminalJson } from '../../util/terminal-text.js';
import { print, config, throughDaemon, printWhere, table } from '../context.js';

export function registerPairingCommands(program: Command): void {
  const pairing = program
    .command('pairing')
    .description('pending pairing requests of the running daemon');
  pairing
    .command('list')
    .description('pending requests (with their SKI, brand, model, address) and denied devices')
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
    .description("end a denied device's cool-down: it may ask again at once")
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
      .description(
        verb === 'approve'
          ? 'trust the pending device (written to the trust file first)'
          : 'refuse the pending device (it is not asked about again for a while)',
      )
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
}
