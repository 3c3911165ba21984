/**
 * ship-hub as a library: the whole SHIP stack in both roles and the hub. The only public entry;
 * importing it has no side effects.
 */
import type { Logger } from 'pino';
import { Hub, type HubOptions } from './hub/hub.js';
import { TlsTransport } from './hub/transport.js';
import { createMdnsProvider, type MdnsProviderChoice } from './mdns/index.js';
import { createShipTlsContext } from './transport/tls.js';
import type { NodeIdentity } from './trust/identity.js';
import { systemClock, type Clock } from './util/clock.js';

export { Hub } from './hub/hub.js';
export type {
  ConnectionSummary,
  DeviceDataHandler,
  HubEvents,
  HubOptions,
  PairingState,
  PairingStateUpdate,
  PendingPairing,
  RemoteDevice,
  TrustDecisionKind,
} from './hub/hub.js';
export { TlsTransport, type HubTransport, type DialTarget } from './hub/transport.js';
export {
  decideDoubleConnection,
  reconnectDelayMs,
  type DoubleConnectionRule,
} from './hub/policy.js';
export {
  connectShip,
  type ConnectShipOptions,
  type DialProgress,
} from './transport/ship-client.js';
export {
  ShipServer,
  SHIP_PATH,
  SHIP_SUBPROTOCOL,
  type IdentifiedPeer,
  type PeerDecision,
  type ShipServerOptions,
} from './transport/ship-server.js';
export {
  ShipConnection,
  type ConnectionClosedInfo,
  type ShipConnectionEvents,
} from './transport/ship-connection.js';
export { createShipTlsContext, type ShipTlsContext } from './transport/tls.js';
export {
  createIdentity,
  loadIdentity,
  loadOrCreateIdentity,
  renewCertificate,
  saveIdentity,
  shipIdFrom,
  type NodeIdentity,
} from './trust/identity.js';
export { inspectCertificate, skiOfPublicKey, verifyPeerCertificate } from './trust/certificate.js';
export { createMdnsProvider, buildShipTxt, parseShipTxt, shipQrText } from './mdns/index.js';
export type { DiscoveredService, MdnsProvider, MdnsAnnouncement } from './mdns/types.js';
export { encodeMessage, decodeMessage, toEebusJson, fromEebusJson } from './ship/codec/index.js';
export * from './ship/handshake/index.js';
export * from './ship/messages.js';
export * from './ship/errors.js';
export { CloseCode } from './ship/close-codes.js';
export { compareSki, parseSki, toSki, type Ski } from './ship/ski.js';
export {
  systemClock,
  type Clock,
  type PendingTimer,
  type TimerHandle,
  type TimerOptions,
} from './util/clock.js';

export interface CreateHubOptions extends Partial<
  Omit<HubOptions, 'localSki' | 'localShipId' | 'transport' | 'clock' | 'discovery'>
> {
  readonly identity: NodeIdentity;
  readonly shipId: string;
  /** TCP port of our SHIP server; 4712 by default, 0 for any free port. */
  readonly port?: number;
  readonly host?: string;
  /** mDNS provider, or false for none (then only incoming connections and registered SKIs). */
  readonly mdns?: MdnsProviderChoice | false;
  /** Restrict mDNS to these interfaces. */
  readonly interfaces?: readonly string[];
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly acceptLegacySki?: boolean;
}

/**
 * Builds a hub with the real transport (TLS + WebSocket) and mDNS. Call `start()` on it.
 *
 * @example
 * const { identity } = await loadOrCreateIdentity({ certPath, keyPath, commonName: 'HEMS-1' });
 * const hub = await createHub({ identity, shipId: 'Acme-HEMS-1', brand: 'Acme', ... });
 */
export async function createHub(options: CreateHubOptions): Promise<Hub> {
  const clock = options.clock ?? systemClock;
  const { identity, shipId } = options;
  const discovery =
    options.mdns === false
      ? undefined
      : await createMdnsProvider({
          provider: options.mdns ?? 'auto',
          clock,
          ownSki: identity.ski,
          ...(options.interfaces !== undefined ? { interfaces: options.interfaces } : {}),
          ...(options.logger !== undefined ? { logger: options.logger } : {}),
        });
  const {
    identity: _identity,
    shipId: _shipId,
    port,
    host,
    mdns: _mdns,
    interfaces: _interfaces,
    acceptLegacySki,
    ...hubOptions
  } = options;
  return new Hub({
    ...hubOptions,
    localSki: identity.ski,
    localShipId: shipId,
    clock,
    ...(discovery !== undefined ? { discovery } : {}),
    transport: new TlsTransport({
      tls: createShipTlsContext(identity),
      localSki: identity.ski,
      localShipId: shipId,
      port: port ?? 4712,
      clock,
      acceptLegacySki: acceptLegacySki ?? false,
      ...(host !== undefined ? { host } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    }),
  });
}
