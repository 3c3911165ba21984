/**
 * ship-hub as a library: the whole SHIP stack in both roles and the hub. The only public entry;
 * importing it has no side effects.
 */
export { Hub } from './hub/hub.js';
export { createHub, DEFAULT_SHIP_PORT, type CreateHubOptions } from './hub/create-hub.js';
export { MemoryTrustStore } from './hub/trust-port.js';
export type { HubTrustStore, TrustEntry, TrustedDeviceDescription } from './hub/trust-port.js';
export { TrustStore, type TrustedDevice } from './trust/trust-store.js';
export type {
  DeviceDescription,
  HubLifecycle,
  TrustChangeCause,
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
export * from './errors.js';
export { CloseCode } from './ship/close-codes.js';
export { compareSki, parseSki, toSki, type Ski } from './ship/ski.js';
export {
  systemClock,
  type Clock,
  type PendingTimer,
  type TimerHandle,
  type TimerOptions,
} from './util/clock.js';
