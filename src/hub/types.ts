/**
 * What the hub's users see: its events, options, and the records it hands out (pairing requests,
 * denials, connected devices). The hub itself is in hub.ts; its parts beside it.
 */
import type { Logger } from 'pino';
import type { ShipHubError } from '../ship/errors.js';
import type { SmeConfig, SmeFailure } from '../ship/handshake/index.js';
import type { CloseReason } from '../ship/messages.js';
import type { Ski } from '../ship/ski.js';
import type { MonitoredEntity } from '../spine/monitoring/values.js';
import type { SpineSessionEvent } from '../spine/session/types.js';
import type { MdnsProvider, DiscoveredService, ServiceEvent } from '../mdns/types.js';
import type { ShipTxtInfo } from '../mdns/txt.js';
import type { ConnectionClosedInfo } from '../transport/ship-connection.js';
import type { Clock } from '../util/clock.js';
import type { Direction, DoubleConnectionRule } from './policy.js';
import type { StaticPeer } from './routes.js';
import type { SpineDriver } from './spine-driver.js';
import type { HubTransport } from './transport.js';
import type { HubTrustStore } from './trust-port.js';

/** Pairing states, after ship-go's ConnectionState (reference §10.3). */
export type PairingState =
  | 'none'
  | 'queued'
  | 'initiated'
  | 'receivedPairingRequest'
  | 'inProgress'
  | 'trusted'
  | 'pin'
  | 'completed'
  | 'remoteDeniedTrust'
  | 'error';

export interface PairingStateUpdate {
  readonly state: PairingState;
  /** Plain words: why (for remoteDeniedTrust and error always set). */
  readonly reason?: string;
  readonly failure?: SmeFailure;
}

/** An unknown device waiting for a person's decision. */
export interface PendingPairing {
  readonly ski: Ski;
  readonly remoteAddress: string;
  readonly since: Date;
  readonly expiresAt: Date;
  readonly brand?: string;
  readonly model?: string;
  readonly deviceType?: string;
  readonly shipId?: string;
}

export type TrustDecisionKind = 'approved' | 'denied' | 'expired' | 'auto_accepted';

/**
 * Why trust changed: a person approved a request, the auto-accept window let a device in, an SKI
 * was trusted or un-paired through the API, the trust store was re-read (SIGHUP), or a trust
 * that could not be saved was undone.
 */
export type TrustChangeCause =
  'approved' | 'auto_accepted' | 'registered' | 'unregistered' | 'reloaded' | 'rolled_back';

/** What is known of a device when it becomes trusted (recorded in the trust store). */
export interface DeviceDescription {
  readonly shipId?: string;
  /** A static address ("host:port") to dial the device at when mDNS does not show it. */
  readonly address?: string;
  readonly brand?: string;
  readonly model?: string;
  readonly deviceType?: string;
}

/** A device a person denied: it is refused without a new question until `until`. */
export interface DeniedPairing {
  readonly ski: Ski;
  readonly deniedAt: Date;
  readonly until: Date;
  /** Requests refused since the denial (without asking anybody). */
  readonly refusedSince: number;
}

/** What the application gets for each device in data exchange (ship-go's data writer). */
export interface RemoteDevice {
  readonly ski: Ski;
  readonly direction: Direction;
  readonly remoteAddress: string;
  /** The device's SHIP ID, once access methods were exchanged. */
  readonly shipId: string | undefined;
  /** Sends one SPINE payload (`{"datagram":[...]}`), or its JSON text as a RawJsonPayload. */
  send(payload: unknown): void;
  /** Closes with a SHIP close; the hub reconnects trusted devices later. */
  close(reason?: CloseReason): Promise<void>;
}

/** The application's side of one device connection (ship-go's data reader). */
export interface DeviceDataHandler {
  /** `payloadText`: the payload as received, for lossless 64-bit numbers (SPINE counters). */
  onData(payload: unknown, payloadText?: string): void;
  onClose?(info: ConnectionClosedInfo): void;
}

export interface ConnectionSummary {
  readonly ski: Ski;
  readonly direction: Direction;
  readonly remoteAddress: string;
  readonly state: string;
  readonly shipId: string | undefined;
  readonly connectedForMs: number;
}

/** Why a connection did not reach data exchange (the `connectionFailed` event). */
export interface ConnectionFailure {
  /** The device, when known (not for refusals before TLS). */
  readonly ski: Ski | undefined;
  /** Plain words for the operator. */
  readonly reason: string;
  /**
   * The failure as an error of the failure table (src/errors.ts): `failureInfo(error)` gives its
   * class, metric label and operator hint.
   */
  readonly error: ShipHubError;
  /**
   * Set when the hub's own admission refused an incoming connection (limits, double connection,
   * identity): the remote address, so such refusals can be aggregated per source rather than
   * logged one by one.
   */
  readonly refusedFrom?: string;
  /** Whether the device was paired when it failed. */
  readonly trusted: boolean;
  /**
   * True when the device ended the handshake on purpose rather than failing: it closed with 4500
   * "User close" before data exchange (as ship-go and `ship-hub probe` do), or left while a
   * pairing decision about it was pending (`error.code` is `SHIPHUB_ERR_CLOSED`). Not a fault of
   * either side; the daemon logs it as information, not as an error.
   */
  readonly endedByDevice?: boolean;
}

export interface HubEvents {
  servicesChanged: [services: DiscoveredService[], event: ServiceEvent];
  pairingState: [ski: Ski, update: PairingStateUpdate];
  pairingRequest: [pending: PendingPairing];
  trustDecision: [ski: Ski, decision: TrustDecisionKind];
  trustChanged: [ski: Ski, trusted: boolean, cause: TrustChangeCause];
  /**
   * A change of the trust store failed (disk full, read-only file system...). For a device the
   * auto-accept window let in, the trust is undone (`trustChanged` with `rolled_back`).
   */
  trustStoreError: [error: unknown, ski: Ski];
  /** A device reached data exchange. */
  connected: [device: RemoteDevice];
  shipId: [ski: Ski, shipId: string];
  disconnected: [ski: Ski, info: ConnectionClosedInfo];
  /**
   * A dial failed, an incoming peer was refused, or a connection ended before data exchange
   * (not by a person's decision, the double-connection rule or this hub's own closing).
   */
  connectionFailed: [failure: ConnectionFailure];
  /**
   * A pending pairing request ended without a decision: the device left, or a newer connection of
   * the same device replaced it (it asks again on that one). A question on screen is withdrawn.
   */
  pairingWithdrawn: [ski: Ski];
  /** A device denied earlier asked again within the cool-down and was refused without a question. */
  pairingRefusedDenied: [ski: Ski, until: Date];
  /** Open connections reached 90 % of max_connections. */
  connectionLimit: [active: number, max: number];
  /** How long a handshake phase took (cmi, hello, protocol, pin, access_methods, total). */
  handshakePhase: [ski: Ski, phase: string, durationMs: number];
  reconnectScheduled: [ski: Ski, attempt: number, delayMs: number];
  /** Hello prolongation: we asked the device for more time, or granted it more. */
  prolongation: [ski: Ski, kind: 'requested' | 'granted', count: number];
  autoAccept: [open: boolean, untilMs: number | undefined];
  /**
   * A trusted device's public key was recorded in the trust store (its first connection after
   * pairing): from now on only this key is accepted for the SKI.
   */
  keyPinned: [ski: Ski, keySha256: string];
  /**
   * Something happened in a device's SPINE session: its discovery arrived or changed, its use
   * cases, data updates, heartbeat lost or restored, a request failed (createHub's driver).
   */
  spine: [ski: Ski, event: SpineSessionEvent];
  /**
   * New values of an entity we monitor as an MPC/MGCP partner (power, energy, current, voltage,
   * frequency with units and scale applied; spine-protocol.md §11.2, §11.3).
   */
  measurements: [ski: Ski, entity: MonitoredEntity];
}

export interface HubOptions {
  readonly localSki: Ski;
  readonly localShipId: string;
  readonly transport: HubTransport;
  readonly clock: Clock;
  readonly discovery?: MdnsProvider;
  /** What we announce besides SHIP ID, SKI and register. */
  readonly announce?: Omit<ShipTxtInfo, 'shipId' | 'ski' | 'register'> & { instanceName?: string };
  readonly logger?: Logger;
  /**
   * Who is trusted: the one owner of trust (the daemon passes its `trusted_devices.json` store).
   * Without it the hub keeps trust in memory, seeded from `trusted`.
   */
  readonly trustStore?: HubTrustStore;
  /**
   * Trusted SKIs at start for the in-memory store (with their SHIP IDs when known, and the
   * SHA-256 of the public key pinned at pairing or first connection). Not with `trustStore`.
   */
  readonly trusted?: Iterable<{ ski: string; shipId?: string; keySha256?: string }>;
  readonly doubleConnectionRule?: DoubleConnectionRule;
  /** Open SHIP connections at most (seed: max_connections, default 20). */
  readonly maxConnections?: number;
  /** New TCP connections per remote address per minute. */
  readonly connectionsPerAddressPerMinute?: number;
  /** How long an unknown device waits for a decision. */
  readonly pendingPairingTimeoutMs?: number;
  /**
   * Connections of untrusted devices at most (default 5), within maxConnections: pairing requests
   * and handshakes of unknown SKIs. The oldest is evicted for a newer one, and for a trusted
   * device when maxConnections is reached, so unknown devices can never lock paired ones out.
   */
  readonly maxPendingPairings?: number;
  /** After a person denies a device, its requests are refused without a question this long. */
  readonly deniedPairingCooldownMs?: number;
  /** Remote addresses remembered for connectionsPerAddressPerMinute (least recent evicted). */
  readonly maxRateLimitedAddresses?: number;
  /** Unknown SKIs remembered after their connections closed (least recent evicted). */
  readonly maxIdleUnknownPeers?: number;
  /** Is a person able to decide about this SKI now? If not, unknown devices are aborted at once. */
  readonly canWaitForTrust?: (ski: Ski) => boolean;
  /**
   * Set-up of the application's data handler for each device in data exchange. Replaces `spine`
   * (an application with its own SPINE stack).
   */
  readonly setupRemoteDevice?: (device: RemoteDevice) => DeviceDataHandler | undefined;
  /**
   * The SPINE driver that runs a session for every device in data exchange (createHub builds
   * one by default; `hub.spine` gives it back for reads, subscriptions and summaries).
   */
  readonly spine?: SpineDriver;
  /** SME settings for every connection (timings, PINs). */
  readonly sme?: Omit<Partial<SmeConfig>, 'role' | 'localShipId' | 'initialTrust'>;
  /** Source of randomness for reconnect delays, in [0, 1). */
  readonly random?: () => number;
  /**
   * Devices to dial at a fixed address where mDNS does not reach (the config's `peers`); used
   * when the device is not visible on mDNS, and only while it is trusted.
   */
  readonly staticPeers?: readonly StaticPeer[];
}

/**
 * The hub's lifecycle (house style: an explicit state, not booleans). A failed `start()` goes
 * back to `idle` with everything it opened closed again, so it can be retried.
 */
export type HubLifecycle = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** The hub's typed `emit`, handed to its parts. */
export type HubEmit = <K extends keyof HubEvents>(event: K, ...args: HubEvents[K]) => void;
