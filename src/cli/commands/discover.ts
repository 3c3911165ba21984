/**
 * `ship-hub discover`: browse for SHIP services for a while, then print what is visible now.
 * The CLI wiring (flags, trust store lookup) lives in the command definitions; this is the body.
 */
import { createMdnsProvider, type MdnsProviderChoice } from '../../mdns/index.js';
import type { MdnsLogger } from '../../mdns/log.js';
import type { DiscoveredService, MdnsProvider } from '../../mdns/types.js';
import { parseSki, shortSki } from '../../ship/ski.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { safeTerminalText, terminalJson } from '../../util/terminal-text.js';
import type { SpineDeviceSummary } from '../../hub/spine-summary.js';
import { spineCell } from '../devices-view.js';

export interface DiscoverOptions {
  provider: MdnsProviderChoice;
  /** Interface names to browse on; empty/undefined = all. */
  interfaces?: readonly string[];
  /** How long to browse before printing, in milliseconds. */
  timeoutMs: number;
  /** One JSON object per line instead of the human listing. */
  json: boolean;
  /** SKIs in the trust store (any notation). */
  trustedSkis: ReadonlySet<string>;
  /** Our own SKI: our own announcement is marked as such. */
  ownSki?: string;
  /**
   * What the running daemon's SPINE sessions say of devices in data exchange, by SKI: shown
   * next to the mDNS record (device type and use cases are only known after pairing).
   */
  spine?: ReadonlyMap<string, SpineDeviceSummary>;
  write: (line: string) => void;
  /**
   * Where the note on how we browsed goes (provider, interfaces, duration): with --json stderr,
   * so that stdout stays one JSON object per line. Default: `write`, none with `json`.
   */
  writeNote?: (line: string) => void;
  logger?: MdnsLogger;
  clock?: Clock;
  /** Injectable provider factory (tests). */
  createProvider?: () => Promise<MdnsProvider>;
}

/** One discovered service as printed with --json. */
export interface DiscoverJsonLine {
  instanceName: string;
  ski: string;
  shipId: string;
  brand: string | null;
  model: string | null;
  type: string | null;
  serial: string | null;
  categories: number[];
  register: boolean;
  path: string;
  hostName: string | null;
  port: number;
  addresses: string[];
  trusted: boolean;
  own: boolean;
  provider: string;
  /** The daemon's SPINE view of the device, when it is in data exchange with it. */
  spine: { deviceType: string | null; useCases: string[] } | null;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function toJsonLine(
  service: DiscoveredService,
  trusted: boolean,
  spine?: SpineDeviceSummary,
): DiscoverJsonLine {
  const r = service.record;
  return {
    instanceName: service.instanceName,
    ski: service.ski,
    shipId: r.shipId,
    brand: r.brand ?? null,
    model: r.model ?? null,
    type: r.type ?? null,
    serial: r.serial ?? null,
    categories: r.categories ?? [],
    register: r.register,
    path: r.path,
    hostName: service.hostName ?? null,
    port: service.port,
    addresses: service.addresses.map((a) => a.address),
    trusted,
    own: service.own,
    provider: service.provider,
    spine:
      spine === undefined
        ? null
        : {
            deviceType: spine.deviceType ?? null,
            useCases: useCaseNames(spine),
          },
  };
}

/** Longest TXT value or host name shown; a TXT value can be 255 bytes. */
const FIELD_MAX = 128;

/** Everything in a TXT record or an mDNS name is the announcer's text: escaped for the terminal. */
function field(value: string): string {
  return safeTerminalText(value, FIELD_MAX);
}

/** The human listing (seed format plus type, SHIP ID, addresses, register flag). */
export function formatHuman(
  services: readonly DiscoveredService[],
  isTrusted: (service: DiscoveredService) => boolean,
  spineOf: (service: DiscoveredService) => SpineDeviceSummary | undefined = () => undefined,
): string[] {
  // The seed's count is of devices: our own announcement is listed but not counted.
  const devices = services.filter((service) => !service.own).length;
  const lines = [`📡 Discovered ${devices} devices`];
  for (const service of services) {
    const r = service.record;
    const name =
      [r.brand, r.model]
        .filter((part): part is string => part !== undefined)
        .map((part) => field(part))
        .join(' ') || '(no brand)';
    const first = field(service.addresses[0]?.address ?? service.hostName ?? '?');
    const ski = field(service.ski);
    lines.push(`  📱 ${field(shortSki(service.ski))}: ${name} (${first})`);
    lines.push(
      `    type ${field(r.type ?? '-')} · SHIP ID ${field(r.shipId)} · SKI ${ski} · register=${String(r.register)}`,
    );
    lines.push(
      `    ${service.addresses.map((a) => field(hostPort(a.address, service.port))).join(', ')}${
        service.hostName === undefined ? '' : ` (${field(service.hostName)})`
      }`,
    );
    if (service.own) lines.push('    🏠 This hub');
    else lines.push(isTrusted(service) ? '    ✅ Trusted' : '    🔒 Unknown device');
    const spine = spineOf(service);
    if (spine !== undefined) lines.push(`    🔌 SPINE: ${spineSummaryText(spine)}`);
  }
  return lines;
}

/** "actor/use case" of each use case the device announced (its own text: escape before printing). */
function useCaseNames(summary: SpineDeviceSummary): string[] {
  return (summary.useCases ?? []).map((u) => `${u.actor}/${u.name}`);
}

/** Device type and use cases from the daemon's SPINE session, escaped (they come from the device). */
function spineSummaryText(summary: SpineDeviceSummary): string {
  const useCases = useCaseNames(summary);
  return field(`${spineCell(summary)}${useCases.length === 0 ? '' : ` (${useCases.join(', ')})`}`);
}

/** How the services were looked for: provider, interfaces, duration. */
export function browseNote(
  provider: string,
  interfaces: readonly string[] | undefined,
  timeoutMs: number,
): string {
  const where =
    interfaces === undefined || interfaces.length === 0
      ? 'every interface'
      : `interface${interfaces.length === 1 ? '' : 's'} ${interfaces.map((i) => field(i)).join(', ')}`;
  return `(browsed _ship._tcp for ${timeoutMs / 1000} s with the ${provider} mDNS provider on ${where})`;
}

/**
 * Browses for `timeoutMs`, then writes the SHIP services visible at that moment. Returns the exit
 * code (0). Provider errors (unknown interface: ConfigError; `--provider avahi` without Avahi:
 * TransportError) are thrown for the CLI's error handler.
 */
export async function runDiscover(options: DiscoverOptions): Promise<number> {
  const clock = options.clock ?? systemClock;
  const provider =
    options.createProvider !== undefined
      ? await options.createProvider()
      : await createMdnsProvider({
          provider: options.provider,
          clock,
          ...(options.interfaces === undefined ? {} : { interfaces: options.interfaces }),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
          ...(options.ownSki === undefined ? {} : { ownSki: options.ownSki }),
        });
  let services: DiscoveredService[];
  try {
    await provider.start();
    await new Promise<void>((resolve) => {
      const delayMs = Math.max(0, options.timeoutMs);
      // The browse window is all the process waits for: this timer must hold it open.
      clock.setTimer('discover-timeout', delayMs, resolve, { unref: false });
    });
    services = provider.services();
  } finally {
    await provider.close();
  }

  const trusted = new Set<string>();
  for (const ski of options.trustedSkis) trusted.add(parseSki(ski) ?? ski);
  const own = options.ownSki === undefined ? undefined : parseSki(options.ownSki);
  const marked = services.map((s) =>
    own !== undefined && s.ski === own ? { ...s, own: true } : s,
  );
  const isTrusted = (s: DiscoveredService) => trusted.has(s.ski);
  const spineOf = (s: DiscoveredService) => options.spine?.get(s.ski);

  if (options.json) {
    for (const service of marked) {
      // JSON escapes C0; terminalJson also C1 and bidi characters, for a terminal reading along.
      options.write(terminalJson(toJsonLine(service, isTrusted(service), spineOf(service))));
    }
  } else {
    for (const line of formatHuman(marked, isTrusted, spineOf)) options.write(line);
  }
  const writeNote = options.writeNote ?? (options.json ? undefined : options.write);
  writeNote?.(browseNote(provider.name, options.interfaces, options.timeoutMs));
  return 0;
}
