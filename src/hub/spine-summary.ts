/**
 * What an application or an operator wants to know about a device's SPINE side, read from its
 * session state (src/spine/session): the device type and entities of its detailed discovery
 * (spine-protocol.md §5.1), its use cases (§5.4), its manufacturer data (§9.1), the heartbeat
 * watch (§8.3) and the subscriptions both ways (§5.5). A plain JSON-friendly record: the admin
 * API serves it as is and `ship-hub devices SKI` prints it. Every string in it comes from the
 * device; whoever prints it escapes it.
 */
import { featureKey } from '../spine/model/address.js';
import { monitoringTargets } from '../spine/monitoring/targets.js';
import { monitoredEntity, type MonitoredEntity } from '../spine/monitoring/values.js';
import type { SpineSessionState } from '../spine/session/types.js';
import type { Ski } from '../ship/ski.js';

export interface SpineFeatureSummary {
  readonly feature: number;
  readonly type: string;
  readonly role: string;
  /** The functions a server feature announces (none for clients, §4.4). */
  readonly functions: readonly string[];
}

export interface SpineEntitySummary {
  /** Entity path, e.g. [1] or [1, 1]. */
  readonly entity: readonly number[];
  readonly type: string;
  readonly features: readonly SpineFeatureSummary[];
}

export interface SpineUseCaseSummary {
  readonly actor: string;
  readonly entity?: readonly number[];
  readonly name: string;
  readonly version?: string;
  /** As announced (absent: not said). */
  readonly available?: boolean;
  readonly scenarios: readonly number[];
}

export interface SpineDeviceSummary {
  /** `running` while data exchange lasts; `new`/`closed` around it. */
  readonly session: 'new' | 'running' | 'closed';
  /** False until the device's detailed discovery arrived. */
  readonly discovered: boolean;
  /** SPINE device address (§4.1), e.g. `d:_i:19667_PorscheEVSE-00016544`. */
  readonly deviceAddress?: string;
  /** `DeviceTypeType` (§4.2), e.g. `HeatPumpAppliance`. */
  readonly deviceType?: string;
  readonly entities: readonly SpineEntitySummary[];
  /** Undefined until its use case data arrived; [] when it offers none. */
  readonly useCases?: readonly SpineUseCaseSummary[];
  /** String fields of its `deviceClassificationManufacturerData` (brandName, deviceName, …). */
  readonly manufacturer?: Readonly<Record<string, string>>;
  /** The partner's heartbeat: `none` when it offers none we could watch. */
  readonly heartbeat: {
    readonly state: 'none' | 'ok' | 'lost';
    /** Milliseconds since the last fresh heartbeat (our clock). */
    readonly silentForMs?: number;
    /** The timeout it announces (`heartbeatTimeout`). */
    readonly announcedTimeoutMs?: number;
    readonly counter?: string;
  };
  /**
   * The entities we monitor as MPC/MGCP partners (spine-protocol.md §11.2, §11.3) with their
   * live values: power, energy, current, voltage, frequency, scale applied, with units.
   */
  readonly monitoring: readonly MonitoredEntity[];
  /** Our subscriptions/bindings to it that it accepted, and its to us. */
  readonly relations: {
    readonly ours: number;
    readonly oursRefused: number;
    readonly theirSubscriptions: number;
    readonly theirBindings: number;
  };
}

/** The summary of one session's state at `now` (the driver's clock). */
/** A device in data exchange as `hub.devices()` lists it: its SKI and its SPINE side. */
export interface HubDevice extends SpineDeviceSummary {
  readonly ski: Ski;
}

export function summarizeSpineSession(state: SpineSessionState, now: number): SpineDeviceSummary {
  const { remote } = state;
  const device = remote.device;
  const entities: SpineEntitySummary[] = (device?.entities ?? []).map((entity) => ({
    entity: [...entity.entity],
    type: entity.type,
    features: entity.features.map((feature) => ({
      feature: feature.feature,
      type: feature.type,
      role: feature.role,
      functions: feature.functions.map((fn) => fn.function),
    })),
  }));
  const useCases = remote.useCases?.flatMap((actor) =>
    actor.useCases.map((useCase): SpineUseCaseSummary => ({
      actor: actor.actor,
      ...(actor.address?.entity !== undefined ? { entity: [...actor.address.entity] } : {}),
      name: useCase.useCaseName,
      ...(useCase.useCaseVersion !== undefined ? { version: useCase.useCaseVersion } : {}),
      ...(useCase.useCaseAvailable !== undefined ? { available: useCase.useCaseAvailable } : {}),
      scenarios: [...useCase.scenarios],
    })),
  );
  const manufacturer = manufacturerOf(state);
  const watch = remote.heartbeat;
  return {
    session: state.phase,
    discovered: device !== undefined,
    ...(device?.device !== undefined ? { deviceAddress: device.device } : {}),
    ...(device?.type !== undefined ? { deviceType: device.type } : {}),
    entities,
    ...(useCases !== undefined ? { useCases } : {}),
    ...(manufacturer !== undefined ? { manufacturer } : {}),
    heartbeat:
      watch === undefined
        ? { state: 'none' }
        : {
            state: watch.lost ? 'lost' : 'ok',
            silentForMs: Math.max(0, now - watch.lastSeenAt),
            ...(watch.announcedTimeoutMs !== undefined
              ? { announcedTimeoutMs: watch.announcedTimeoutMs }
              : {}),
            ...(watch.counter !== undefined ? { counter: watch.counter } : {}),
          },
    monitoring:
      device === undefined || remote.useCases === undefined
        ? []
        : monitoringTargets(device, remote.useCases).map((target) =>
            monitoredEntity(target, remote.data),
          ),
    relations: {
      ours: remote.relations.filter((r) => r.status === 'active').length,
      oursRefused: remote.relations.filter((r) => r.status === 'refused').length,
      theirSubscriptions: state.subscriptions.length,
      theirBindings: state.bindings.length,
    },
  };
}

/** String fields of the first DeviceClassification server's manufacturer data we hold (§9.1). */
function manufacturerOf(state: SpineSessionState): Record<string, string> | undefined {
  const device = state.remote.device;
  if (device === undefined) return undefined;
  for (const entity of device.entities) {
    for (const feature of entity.features) {
      if (feature.type !== 'DeviceClassification' || feature.role !== 'server') continue;
      const data = state.remote.data
        .get(featureKey(entity.entity, feature.feature))
        ?.get('deviceClassificationManufacturerData');
      if (typeof data !== 'object' || data === null || Array.isArray(data)) continue;
      const fields: Record<string, string> = {};
      for (const [name, value] of Object.entries(data)) {
        if (typeof value === 'string') fields[name] = value;
      }
      return fields;
    }
  }
  return undefined;
}
