/**
 * The one composition root of a hub (house style §7): the real transport (TLS + WebSocket), mDNS
 * and the trust store are put together here and nowhere else. The daemon builds its hub through
 * this function, so a library user can set everything the daemon sets.
 */
import type { Logger } from 'pino';
import { createMdnsProvider, type MdnsProviderChoice } from '../mdns/index.js';
import type { MdnsProvider } from '../mdns/types.js';
import { createShipTlsContext } from '../transport/tls.js';
import type { NodeIdentity } from '../trust/identity.js';
import { systemClock, type Clock } from '../util/clock.js';
import { Hub, type HubOptions } from './hub.js';
import { TlsTransport, type HubTransport } from './transport.js';

/**
 * Our default SHIP port. SHIP fixes none (the SRV record carries it, SHIP §7); 4712 is what the
 * reference's examples and evcc use.
 */
export const DEFAULT_SHIP_PORT = 4712;

export interface CreateHubOptions extends Partial<
  Omit<HubOptions, 'localSki' | 'localShipId' | 'transport' | 'clock' | 'discovery'>
> {
  readonly identity: NodeIdentity;
  readonly shipId: string;
  /** TCP port of our SHIP server; 4712 by default, 0 for any free port. */
  readonly port?: number;
  readonly host?: string;
  /**
   * Discovery: a provider to choose ('auto', 'avahi', 'builtin'), a provider instance, or false
   * for none (then only incoming connections and registered SKIs).
   */
  readonly mdns?: MdnsProviderChoice | MdnsProvider | false;
  /** Restrict mDNS to these interfaces (names as in `ip link`; unknown names are refused). */
  readonly interfaces?: readonly string[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Accept certificates whose SKI extension is not the hash of their key (old devices). */
  readonly acceptLegacySki?: boolean;
  /** TLS + upgrade handshakes in flight at most (the rest wait in the kernel backlog). */
  readonly maxHandshakesInFlight?: number;
  /** From TCP accept to the WebSocket upgrade, at most. */
  readonly handshakeTimeoutMs?: number;
  /** From dialling to the WebSocket upgrade, at most. */
  readonly dialTimeoutMs?: number;
  /** Replaces TLS + WebSocket (an in-memory network in tests). */
  readonly transport?: HubTransport;
}

/**
 * Builds a hub with the real transport (TLS + WebSocket) and mDNS. Call `start()` on it. Pass a
 * `trustStore` (for example the file store `TrustStore.open(path)`) to keep pairings across
 * restarts; without one, trust lives in memory.
 *
 * @throws ConfigError when an interface in `interfaces` does not exist.
 * @example
 * const { identity } = await loadOrCreateIdentity({ certPath, keyPath, commonName: 'HEMS-1' });
 * const trustStore = await TrustStore.open('trusted_devices.json', { clock: systemClock });
 * const hub = await createHub({ identity, shipId: 'Acme-HEMS-1', trustStore, mdns: 'auto' });
 */
export async function createHub(options: CreateHubOptions): Promise<Hub> {
  const {
    identity,
    shipId,
    port,
    host,
    mdns,
    interfaces,
    acceptLegacySki,
    maxHandshakesInFlight,
    handshakeTimeoutMs,
    dialTimeoutMs,
    transport,
    clock: givenClock,
    ...hubOptions
  } = options;
  const clock = givenClock ?? systemClock;
  const logger = options.logger;
  const discovery =
    mdns === false
      ? undefined
      : typeof mdns === 'object'
        ? mdns
        : await createMdnsProvider({
            provider: mdns ?? 'auto',
            clock,
            ownSki: identity.ski,
            ...(interfaces !== undefined && interfaces.length > 0 ? { interfaces } : {}),
            // createMdnsProvider binds component "mdns" itself (once: no repeated JSON key).
            ...(logger !== undefined ? { logger } : {}),
          });
  return new Hub({
    ...hubOptions,
    localSki: identity.ski,
    localShipId: shipId,
    clock,
    ...(discovery !== undefined ? { discovery } : {}),
    transport:
      transport ??
      new TlsTransport({
        tls: createShipTlsContext(identity),
        localSki: identity.ski,
        localShipId: shipId,
        port: port ?? DEFAULT_SHIP_PORT,
        clock,
        acceptLegacySki: acceptLegacySki ?? false,
        ...(host !== undefined ? { host } : {}),
        ...(logger !== undefined ? { logger: logger.child({ component: 'transport' }) } : {}),
        ...(maxHandshakesInFlight !== undefined ? { maxHandshakesInFlight } : {}),
        ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
        ...(dialTimeoutMs !== undefined ? { dialTimeoutMs } : {}),
      }),
  });
}
