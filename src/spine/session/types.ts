/**
 * The shapes of a SPINE session (./session.ts): configuration, state, inputs, effects, events.
 * One session runs per remote device, i.e. per SHIP connection in data exchange
 * (spine-protocol.md §1, §7 "Connection sequence after SHIP data exchange starts").
 */
import type { DatagramDecodeError } from '../codec/datagram.js';
import type { CorrelationConfig, CorrelationState } from '../correlation/machine.js';
import type { RESPONSE_TIMER } from '../correlation/machine.js';
import type { FeatureAddress } from '../model/address.js';
import type { ResultData, SpineDatagram, SpineHeader } from '../model/datagram.js';
import type { DeviceDescription } from '../model/device.js';
import type { RelationEntry, RelationKind } from '../node-management/relations.js';
import type { LocalUseCase, UseCaseInformation } from '../node-management/use-cases.js';

/** Sends our heartbeat notifies (spine-protocol.md §8.2). */
export const HEARTBEAT_SEND_TIMER = 'spineHeartbeatSend';
/** Fires when the partner's heartbeat is overdue (spine-protocol.md §8.3). */
export const HEARTBEAT_WATCH_TIMER = 'spineHeartbeatWatch';

/** Every timer a session asks its driver for. */
export type SessionTimerId =
  typeof RESPONSE_TIMER | typeof HEARTBEAT_SEND_TIMER | typeof HEARTBEAT_WATCH_TIMER;

/**
 * Announced `heartbeatTimeout` by default: 60 s, the LPC value (spine-protocol.md §8.2
 * recommendation "PT60S for LPC-only entities"); we send at half of it (§8.2, pitfall 4).
 */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 60_000;

/**
 * How long the partner's heartbeat may be silent before it counts as lost, until the partner
 * announced its own timeout: 120 s, the LPC "missing" time (spine-protocol.md §8.2, §8.3). Once
 * a heartbeat announced `heartbeatTimeout`, twice that is used (PT60S → 120 s, PT4S → 8 s).
 */
export const DEFAULT_HEARTBEAT_LOSS_MS = 120_000;

/** Attempts of our discovery read before giving up (checklist item 42: timed out, retried). */
export const DEFAULT_DISCOVERY_ATTEMPTS = 3;

/** Initial data of one of our server functions (manufacturer data, diagnosis state, …). */
export interface LocalServerData {
  readonly entity: readonly number[];
  readonly feature: number;
  readonly function: string;
  readonly data: unknown;
}

/** What a session needs to know about us. */
export interface SpineSessionConfig {
  /** Our device (createLocalDevice); its address is filled into every source address. */
  readonly localDevice: DeviceDescription;
  /** Our use cases, answered to `nodeManagementUseCaseData` reads (§5.4). */
  readonly useCases?: readonly LocalUseCase[];
  /** Data our server features answer reads with (e.g. `deviceClassificationManufacturerData`). */
  readonly serverData?: readonly LocalServerData[];
  /** Our announced heartbeatTimeout; we notify at half of it. Default 60 s. */
  readonly heartbeatTimeoutMs?: number;
  /** Fixed loss threshold for the partner's heartbeat (default: 2 × its announced timeout). */
  readonly heartbeatLossMs?: number;
  /** Discovery read attempts (default 3). */
  readonly discoveryAttempts?: number;
  /** Correlation settings (response deadlines, first counter). */
  readonly correlation?: Omit<CorrelationConfig, 'localDevice'>;
}

/** One of our subscriptions (or bindings) to a partner's server feature (§5.5). */
export interface OurRelation {
  readonly kind: RelationKind;
  readonly client: FeatureAddress;
  readonly server: FeatureAddress;
  readonly serverFeatureType: string;
  /** `pending` until the partner's result arrives; `refused` on an error result or timeout. */
  readonly status: 'pending' | 'active' | 'refused';
}

/** How the partner's heartbeat is watched (spine-protocol.md §8.3). */
export interface HeartbeatWatch {
  /** The partner's DeviceDiagnosis server we subscribed to. */
  readonly feature: FeatureAddress;
  /** Our clock (`now`) when the last fresh heartbeat arrived; the start counts as one (pitfall 7). */
  readonly lastSeenAt: number;
  /** Silence after which the heartbeat counts as lost. */
  readonly lossMs: number;
  /** The partner's `heartbeatTimeout`, once announced. */
  readonly announcedTimeoutMs?: number;
  /** Last `heartbeatCounter` seen (as text: it is a uint64). */
  readonly counter?: string;
  /** Last `timestamp` of the partner (logged only; liveness uses our clock, §8.3). */
  readonly remoteTimestamp?: string;
  readonly lost: boolean;
}

/** What we know about the partner. */
export interface RemoteView {
  /** From its detailed discovery (§5.1), kept current by its notifies (§5.3). */
  readonly device: DeviceDescription | undefined;
  /** From its `nodeManagementUseCaseData` (§5.4); `[]` if it offers none. */
  readonly useCases: readonly UseCaseInformation[] | undefined;
  /** Function data it replied or notified, per feature (`featureKey`) and function. */
  readonly data: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
  /** Our subscriptions and bindings to it. */
  readonly relations: readonly OurRelation[];
  readonly heartbeat: HeartbeatWatch | undefined;
}

/** Everything a session holds. Treat as immutable. */
export interface SpineSessionState {
  readonly config: ResolvedSessionConfig;
  /** `new` until `start`, `closed` after `closed`. */
  readonly phase: 'new' | 'running' | 'closed';
  readonly correlation: CorrelationState;
  /** Data of our server features (`featureKey` → function → data). */
  readonly localData: ReadonlyMap<string, ReadonlyMap<string, unknown>>;
  /** The partner's subscriptions to our server features (§5.5). */
  readonly subscriptions: readonly RelationEntry[];
  /** The partner's bindings to our server features (§5.6). */
  readonly bindings: readonly RelationEntry[];
  readonly nextSubscriptionId: number;
  readonly nextBindingId: number;
  /** Our last heartbeatCounter (0 = none sent yet). */
  readonly heartbeatCounter: number;
  /** True while our heartbeat timer runs (someone subscribed to it). */
  readonly heartbeatRunning: boolean;
  readonly discoveryAttempts: number;
  readonly remote: RemoteView;
}

/** The configuration with defaults applied. */
export interface ResolvedSessionConfig {
  readonly localDevice: DeviceDescription;
  readonly deviceAddress: string;
  readonly useCases: readonly LocalUseCase[];
  readonly heartbeatTimeoutMs: number;
  readonly heartbeatLossMs: number | undefined;
  readonly discoveryAttempts: number;
}

/** Common fields of every input: our clock, and the wall time for heartbeat timestamps. */
interface InputTime {
  /** Milliseconds on the driver's clock. */
  readonly now: number;
  /** RFC 3339 UTC wall time (`2025-01-15T10:00:00Z`) for heartbeat timestamps, if known. */
  readonly timestamp?: string;
}

/** Inputs of a session step. */
export type SpineSessionInput =
  /** SHIP data exchange started: read the partner's discovery (§7.1 t=0, TC_SPINE_DDISC_001). */
  | (InputTime & { readonly kind: 'start' })
  /** A SHIP data payload as received text (`{"datagram":…}`): decoded losslessly. */
  | (InputTime & { readonly kind: 'receivedText'; readonly text: string })
  /** A payload already parsed (no text available); counters beyond 2^53 are refused. */
  | (InputTime & { readonly kind: 'receivedValue'; readonly value: unknown })
  | (InputTime & { readonly kind: 'timer'; readonly id: SessionTimerId })
  /** The application reads a function of a partner's feature. */
  | (InputTime & {
      readonly kind: 'read';
      readonly destination: FeatureAddress;
      readonly function: string;
    })
  /** The application subscribes to a partner's server feature (or binds to it). */
  | (InputTime & {
      readonly kind: 'subscribe';
      readonly server: FeatureAddress;
      readonly relation?: RelationKind;
    })
  /**
   * The application writes function data to a partner's server feature (§3.2, §5.6; the partner
   * refuses it with error 9 unless we are bound to the feature). `partial`: only the given items.
   */
  | (InputTime & {
      readonly kind: 'write';
      readonly destination: FeatureAddress;
      readonly function: string;
      readonly data: unknown;
      readonly partial?: boolean;
    })
  /** The connection ended. */
  | (InputTime & { readonly kind: 'closed' });

/** What the application and the driver learn. */
export type SpineSessionEvent =
  /** The partner's detailed discovery arrived (§5.1). */
  | { readonly kind: 'discovered'; readonly device: DeviceDescription; readonly warnings: string[] }
  /** Its entities changed (§5.3 notify). */
  | {
      readonly kind: 'discoveryChanged';
      readonly device: DeviceDescription;
      readonly added: ReadonlyArray<readonly number[]>;
      readonly removed: ReadonlyArray<readonly number[]>;
    }
  /** Its use case data arrived or changed (§5.4); `[]` if it offers none. */
  | { readonly kind: 'useCases'; readonly useCases: readonly UseCaseInformation[] }
  /** Function data of one of its features arrived (reply or notify, merged). */
  | {
      readonly kind: 'dataUpdated';
      readonly feature: FeatureAddress;
      readonly function: string;
      readonly data: unknown;
      readonly classifier: 'reply' | 'notify';
    }
  /** The partner subscribed or bound to one of our features. */
  | {
      readonly kind: 'peerRelationAdded';
      readonly relation: RelationKind;
      readonly entry: RelationEntry;
    }
  /** The partner's subscriptions or bindings ended (delete call, its entity removed). */
  | {
      readonly kind: 'peerRelationRemoved';
      readonly relation: RelationKind;
      readonly entries: readonly RelationEntry[];
    }
  /** The partner answered one of our subscription or binding calls. */
  | {
      readonly kind: 'relationResult';
      readonly relation: OurRelation;
      readonly result: ResultData | undefined;
    }
  /** The partner's heartbeat is overdue (§8.3). */
  | {
      readonly kind: 'heartbeatLost';
      readonly feature: FeatureAddress;
      readonly lastSeenAt: number;
      readonly silentForMs: number;
    }
  /** A heartbeat arrived again after it was lost. */
  | { readonly kind: 'heartbeatRestored'; readonly feature: FeatureAddress }
  /** One of our requests failed: error result, no answer in time, or connection closed. */
  | {
      readonly kind: 'requestFailed';
      readonly function: string | undefined;
      readonly destination: FeatureAddress;
      readonly reason: 'result' | 'timedOut';
      readonly result?: ResultData;
    }
  /** The partner accepted one of our writes (result 0). */
  | {
      readonly kind: 'written';
      readonly function: string | undefined;
      readonly destination: FeatureAddress;
    }
  /** We answered a partner's datagram with an error result (for logs and metrics). */
  | { readonly kind: 'errorAnswered'; readonly request: SpineHeader; readonly result: ResultData }
  /** A received payload was no valid datagram (answered with an error when possible). */
  | { readonly kind: 'undecodable'; readonly error: DatagramDecodeError }
  /** Something was ignored; the session goes on. */
  | { readonly kind: 'warning'; readonly message: string };

/** What the driver does. */
export type SpineSessionEffect =
  /** Send this SHIP data payload (`text` is the lossless wire form of `datagram`). */
  | { readonly kind: 'send'; readonly text: string; readonly datagram: SpineDatagram }
  /** Start (or restart) the named timer. */
  | { readonly kind: 'startTimer'; readonly id: SessionTimerId; readonly ms: number }
  | { readonly kind: 'cancelTimer'; readonly id: SessionTimerId }
  | { readonly kind: 'event'; readonly event: SpineSessionEvent };

/** Result of a session step. */
export interface SpineSessionStep {
  readonly state: SpineSessionState;
  readonly effects: readonly SpineSessionEffect[];
}
