/**
 * Picks and builds the mDNS backend, the way ship-go does: Avahi when the system bus has
 * org.freedesktop.Avahi, else the builtin stack (ciao + our multicast-dns browser).
 */
import { systemClock, type Clock } from '../util/clock.js';
import { AVAHI_CONNECT_TIMEOUT_MS, AvahiBus } from './avahi-bus.js';
import { AvahiMdnsProvider } from './avahi.js';
import { BuiltinMdnsProvider } from './builtin.js';
import { systemInterfaces, validateInterfaceNames, type InterfaceSource } from './interfaces.js';
import { componentLogger, type MdnsLogger } from './log.js';
import type { MdnsProvider } from './types.js';

/** Which mDNS provider to use: Avahi over D-Bus, the built-in one, or Avahi when it runs. */
export const MDNS_PROVIDER_CHOICES = ['auto', 'avahi', 'builtin'] as const;
export type MdnsProviderChoice = (typeof MDNS_PROVIDER_CHOICES)[number];

export interface CreateMdnsProviderOptions {
  provider: MdnsProviderChoice;
  /** Restrict announcing and browsing to these interfaces (names as in `ip link`). */
  interfaces?: readonly string[];
  logger?: MdnsLogger;
  clock?: Clock;
  /** Our SKI, if known before announce(): our own service is then flagged `own` at once. */
  ownSki?: string;
  /** How long `auto` waits for Avahi on the bus. */
  avahiProbeTimeoutMs?: number;
  /** Injectable interface table (tests). */
  interfaceSource?: InterfaceSource;
}

/**
 * Creates the discovery provider. Validates interface names first (ConfigError naming the unknown
 * ones). `avahi` fails with a TransportError when Avahi is not reachable; `auto` then falls back to
 * `builtin`.
 */
export async function createMdnsProvider(
  options: CreateMdnsProviderOptions,
): Promise<MdnsProvider> {
  const logger = componentLogger(options.logger, 'mdns');
  const clock = options.clock ?? systemClock;
  const interfaces =
    options.interfaces !== undefined && options.interfaces.length > 0
      ? validateInterfaceNames(options.interfaces, options.interfaceSource ?? systemInterfaces)
      : undefined;
  const common = {
    logger: options.logger ?? logger,
    clock,
    ...(interfaces === undefined ? {} : { interfaces }),
    ...(options.ownSki === undefined ? {} : { ownSki: options.ownSki }),
    ...(options.interfaceSource === undefined ? {} : { interfaceSource: options.interfaceSource }),
  };

  if (options.provider === 'builtin') return new BuiltinMdnsProvider(common);

  let bus: AvahiBus;
  try {
    bus = await AvahiBus.connect({
      clock,
      logger,
      connectTimeoutMs: options.avahiProbeTimeoutMs ?? AVAHI_CONNECT_TIMEOUT_MS,
    });
  } catch (error: unknown) {
    if (options.provider === 'avahi') throw error;
    logger.info(
      { reason: error instanceof Error ? error.message : String(error) },
      'mdns: Avahi not available, using the builtin mDNS stack',
    );
    return new BuiltinMdnsProvider(common);
  }
  logger.info({ version: bus.version }, 'mdns: using Avahi over D-Bus');
  return new AvahiMdnsProvider({ ...common, bus });
}

export { AvahiMdnsProvider } from './avahi.js';
export { BuiltinMdnsProvider } from './builtin.js';
export { buildShipTxt, parseShipTxt, shipQrText } from './txt.js';
export type { ShipTxtInfo, ShipTxtRecord, ParseShipTxtResult, ShipQrInfo } from './txt.js';
export * from './types.js';
