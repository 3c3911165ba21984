/**
 * `ship-hub probe` and `ship-hub discover`: the field diagnostics.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { SpineDeviceSummary } from '../../hub/spine-summary.js';
import { AdminClient } from '../../ops/admin-client.js';
import { defaultConfig, type HubConfig } from '../../ops/config.js';
import { TrustStore } from '../../trust/trust-store.js';
import { createIdentity, type NodeIdentity } from '../../trust/identity.js';
import { systemClock } from '../../util/clock.js';
import { runDiscover } from './discover.js';
import { runProbe } from './probe.js';
import { hasIdentityFiles, identityOf, optionalConfig, print, secondsOption } from '../context.js';

export function registerNetworkTools(program: Command): void {
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
        if (opts.temporaryIdentity !== true && found !== undefined && hasIdentityFiles(cfg)) {
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
          temporaryIdentity: note !== undefined,
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
        const ownSki = cfg === undefined ? undefined : await ownSkiOf(cfg);
        const spine = cfg === undefined ? undefined : await daemonSpineView(cfg);
        process.exitCode = await runDiscover({
          provider: opts.provider ?? cfg?.mdns_provider ?? 'auto',
          timeoutMs,
          json: opts.json === true,
          trustedSkis: new Set(trusted.map((d) => d.ski)),
          write: print,
          writeNote: (line) => {
            if (opts.json === true) process.stderr.write(`${line}\n`);
            else print(line);
          },
          ...(ownSki === undefined ? {} : { ownSki }),
          ...(spine === undefined ? {} : { spine }),
          ...(cfg !== undefined && cfg.network_interfaces.length > 0
            ? { interfaces: cfg.network_interfaces }
            : {}),
        });
      },
    );
}

/** Our SKI from the config's certificate, to mark our own announcement; none without one. */
async function ownSkiOf(cfg: HubConfig): Promise<string | undefined> {
  if (!hasIdentityFiles(cfg)) return undefined;
  try {
    return (await identityOf(cfg)).ski;
  } catch {
    // A broken identity is `config check`'s and the daemon's business, not discover's.
    return undefined;
  }
}

/**
 * What the running daemon's SPINE sessions say of the devices it is in data exchange with; none
 * when no daemon answers (discover works without one).
 */
async function daemonSpineView(
  cfg: HubConfig,
): Promise<Map<string, SpineDeviceSummary> | undefined> {
  if (cfg.admin_port === 0) return undefined;
  try {
    const devices = await AdminClient.fromConfig(cfg).listDevices();
    return new Map(devices.map((d) => [d.ski, d.spine]));
  } catch {
    return undefined;
  }
}
