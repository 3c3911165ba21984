/**
 * `ship-hub trust list|add|remove`: the trusted devices, through the daemon or on the file.
 */
import type { Command } from 'commander';
import { ShipHubError } from '../../ship/errors.js';
import { toSki } from '../../ship/ski.js';
import { parseStaticAddress } from '../../util/host-port.js';
import { TrustStore } from '../../trust/trust-store.js';
import { systemClock } from '../../util/clock.js';
import { terminalJson } from '../../util/terminal-text.js';
import { print, config, throughDaemon, printWhere, table } from '../context.js';

export function registerTrustCommands(program: Command): void {
  const trust = program
    .command('trust')
    .description('trusted devices (through the daemon if it runs, else on the file)');
  trust
    .command('list')
    .description('trusted devices: connected since when, last connection, count, address')
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
          // The seed's file keeps the pairing time there until the first connection.
          last_connection: d.connection_count === 0 ? 'never' : d.last_connection,
        }));
        const columns = ['ski', 'brand', 'model', 'device_type', 'connected', 'last_connection'];
        if (devices.some((d) => typeof d.address === 'string')) columns.push('address');
        table(rows, [...columns, 'connection_count']);
      }
      printWhere(where, opts.json === true);
    });
  trust
    .command('add')
    .description('trust a device by its SKI before it asks (optionally where to dial it)')
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
        // Whether it was trusted before: adding it again updates what was given, nothing else.
        const { result: wasTrusted, where } = await throughDaemon(
          cfg,
          async (c) => {
            const known = (await c.listTrusted()).some((d) => d.ski === ski);
            await c.addTrusted(ski, info);
            return known;
          },
          {
            edit: true,
            run: async () => {
              const store = await TrustStore.open(cfg.trusted_devices_file, {
                clock: systemClock,
              });
              const known = store.has(ski);
              await store.add({ ski, ...info });
              return known;
            },
          },
        );
        const given = Object.keys(info).join(', ');
        print(
          wasTrusted
            ? `✅ ${ski} was trusted already${given === '' ? '' : `; updated ${given}`}`
            : `✅ trusted ${ski}`,
        );
        printWhere(where);
      },
    );
  trust
    .command('remove')
    .description('un-pair a device (its connection is closed with a SHIP close)')
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
}
