/**
 * ship-hub as a library: the whole SHIP stack in both roles and the hub. The only public entry;
 * importing it has no side effects.
 *
 * This list is deliberate (issue 11 item 6): docs/api/ship-hub.api.md is the committed report of
 * it, and test/unit/api-report.test.ts fails when the two differ or when a type used in an
 * exported signature is not exported itself. Not exported on purpose:
 * - the pure handshake machine (`step`, `initialState`, `PHASE_OF`, timers, `DEFAULT_SME_LIMITS`,
 *   the phase handlers): `ShipConnection` drives it, and its shape changes with the phase split;
 *   a tool that needs the machine imports it from the source tree, not from the package.
 * - hub policy functions (`decideDoubleConnection`, `reconnectDelayMs`): the hub applies them;
 *   a user chooses behaviour through `HubOptions` (`DoubleConnectionRule`), not by calling them.
 * - `failureClose`/`failureError`: the wire side of the failure table, used by the core only;
 *   users read a failure through `failureInfo` and the error classes.
 * - the SPINE core's step machines and codec (src/spine): the hub's SpineDriver drives them;
 *   the package exports the driver, its summaries and the types of its events.
 */
export { Hub } from './hub/hub.js';
export {
  createHub,
  DEFAULT_SHIP_PORT,
  type CreateHubOptions,
  type CreateHubSpineOptions,
} from './hub/create-hub.js';
export { SpineDriver, type SpineDriverOptions } from './hub/spine-driver.js';
export type {
  HubDevice,
  SpineDeviceSummary,
  SpineEntitySummary,
  SpineFeatureSummary,
  SpineUseCaseSummary,
} from './hub/spine-summary.js';
export type { SpineSessionEvent } from './spine/session/types.js';
export {
  liveMeasurements,
  monitoredEntity,
  monitoringTargets,
  type ConfigurationValue,
  type LiveMeasurement,
  type MeasurementSources,
  type MonitoredEntity,
  type StoredFunctionData,
  type MonitoringTarget,
  type MonitoringUseCaseName,
} from './spine/monitoring/index.js';
export type { FunctionOperations } from './spine/model/device.js';
export type { Expectation } from './spine/correlation/machine.js';
export type { FeatureRole, SupportedFunction } from './spine/model/device.js';
export type { PendingRequest } from './spine/correlation/machine.js';
export type { FeatureDescription } from './spine/model/device.js';
export type { HeartbeatWatch } from './spine/session/types.js';
export type { DatagramErrorCode } from './spine/codec/datagram.js';
export type { CorrelationConfig, CorrelationState } from './spine/correlation/machine.js';
export type { CmdClassifier, MsgCounter } from './spine/model/datagram.js';
export type { EntityDescription } from './spine/model/device.js';
export type { UseCaseSupport } from './spine/node-management/use-cases.js';
export type { RemoteView, ResolvedSessionConfig } from './spine/session/types.js';
export type { DatagramDecodeError } from './spine/codec/datagram.js';
export type { FeatureAddress } from './spine/model/address.js';
export type { ResultData, SpineHeader } from './spine/model/datagram.js';
export type { DeviceDescription as SpineDeviceDescription } from './spine/model/device.js';
export type { RelationEntry, RelationKind } from './spine/node-management/relations.js';
export type { LocalUseCase, UseCaseInformation } from './spine/node-management/use-cases.js';
export type {
  LocalServerData,
  OurRelation,
  SpineSessionConfig,
  SpineSessionState,
} from './spine/session/types.js';
export { MemoryTrustStore } from './hub/trust-port.js';
export type { HubTrustStore, TrustEntry, TrustedDeviceDescription } from './hub/trust-port.js';
export {
  TrustStore,
  type NewTrustedDevice,
  type TrustedDevice,
  type TrustReload,
  type TrustStoreOptions,
} from './trust/trust-store.js';
export type {
  DeniedPairing,
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
  ConnectionFailure,
} from './hub/types.js';
export type { StaticPeer } from './hub/routes.js';
export {
  TlsTransport,
  type DialTarget,
  type HubTransport,
  type ListenHandlers,
  type TlsTransportOptions,
} from './hub/transport.js';
export type { Direction, DoubleConnectionRule } from './hub/policy.js';
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
export type { ShipConnectionOptions } from './transport/ship-connection-types.js';
// The handshake's types appear in ShipConnection's and the hub's signatures (state, failure,
// config); the machine itself stays internal (see above).
export type { Phase, Role, SmeConfig, SmeFailure, SubState } from './ship/handshake/state.js';
export type { SmeTimings } from './ship/handshake/timers.js';
export { createShipTlsContext, type ShipTlsContext } from './transport/tls.js';
export {
  createIdentity,
  loadIdentity,
  loadOrCreateIdentity,
  renewCertificate,
  saveIdentity,
  shipIdFrom,
  type CreateIdentityOptions,
  type IdentitySubject,
  type LoadOrCreateIdentityOptions,
  type NodeIdentity,
  type RenewCertificateOptions,
  type RenewOptions,
} from './trust/identity.js';
export {
  inspectCertificate,
  skiOfPublicKey,
  verifyPeerCertificate,
  type CertificateInfo,
  type PeerCertificateResult,
  type VerifyPeerOptions,
} from './trust/certificate.js';
export {
  createMdnsProvider,
  buildShipTxt,
  parseShipTxt,
  shipQrText,
  MDNS_PROVIDER_CHOICES,
  SHIP_SERVICE_TYPE,
  type CreateMdnsProviderOptions,
  type MdnsProviderChoice,
  type ShipTxtInfo,
  type ShipTxtRecord,
  type ParseShipTxtResult,
  type ShipQrInfo,
} from './mdns/index.js';
export type {
  DiscoveredAddress,
  DiscoveredService,
  MdnsAnnouncement,
  MdnsProvider,
  MdnsProviderName,
  ServiceEvent,
  ServiceEventType,
  ServiceListener,
} from './mdns/types.js';
export type { InterfaceSource } from './mdns/interfaces.js';
export type { MdnsLogger } from './mdns/log.js';
export { encodeMessage, decodeMessage, toEebusJson, fromEebusJson } from './ship/codec/index.js';
export type { DecodeOptions } from './ship/codec/frame.js';
export type { EebusJsonOptions } from './ship/codec/eebus-json.js';
export * from './ship/messages.js';
export {
  ConfigError,
  ERROR_CLASSES,
  FAILURES,
  InternalError,
  ProtocolError,
  ShipHubError,
  TimeoutError,
  TransportError,
  TrustError,
  failureInfo,
  isShipHubErrorCode,
  type ErrorClassName,
  type ErrorCode,
  type FailureClose,
  type FailureInfo,
  type FailureReport,
  type FailureSection,
  type LocalErrorCode,
  type OperationsErrorCode,
  type ShipErrorCode,
  type ShipHubErrorCode,
  type ShipHubErrorOptions,
} from './errors.js';
export { CloseCode } from './ship/close-codes.js';
export { compareSki, parseSki, toSki, type Ski } from './ship/ski.js';
export {
  systemClock,
  type Clock,
  type PendingTimer,
  type TimerHandle,
  type TimerOptions,
} from './util/clock.js';
