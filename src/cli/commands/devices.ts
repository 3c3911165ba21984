/**
 * `ship-hub devices [SKI]`: every device the hub knows of, joined from all its views.
 */
import type { Command } from 'commander';
import { ShipHubError } from '../../ship/errors.js';
import { parseSki } from '../../ship/ski.js';
import { joinDevices, spineDetailLines, type DeviceViewSources } from '../devices-view.js';
import { TrustStore } from '../../trust/trust-store.js';
import { systemClock } from '../../util/clock.js';
import { safeTerminalText, terminalJson } from '../../util/terminal-text.js';
import { print, config, throughDaemon, printWhere, table } from '../context.js';

export function registerDevicesCommand(program: Command): void {
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
}
