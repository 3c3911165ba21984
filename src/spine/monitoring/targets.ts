/**
 * Which of a partner's entities we monitor, and what we ask them for: the monitoring appliance
 * side of MPC (monitoringOfPowerConsumption) and MGCP (monitoringOfGridConnectionPoint)
 * (spine-protocol.md §11.1 "How a use case partner is found", §11.2, §11.3, §7.1 and §7.4 step 3).
 * Pure: the partner's discovery and use case data in, targets and requests out.
 */
import type { FeatureAddress } from '../model/address.js';
import { entityKey, sameEntity } from '../model/address.js';
import {
  supportedFunction,
  type DeviceDescription,
  type EntityDescription,
  type FeatureDescription,
} from '../model/device.js';
import type { UseCaseInformation } from '../node-management/use-cases.js';

/** The monitoring use cases and the partner actor that offers each (§11.1 table). */
export const MONITORING_USE_CASES = {
  monitoringOfPowerConsumption: { short: 'MPC', partnerActor: 'MonitoredUnit' },
  monitoringOfGridConnectionPoint: { short: 'MGCP', partnerActor: 'GridConnectionPoint' },
} as const;

export type MonitoringUseCaseName = keyof typeof MONITORING_USE_CASES;

/** One entity of the partner we monitor under one use case. */
export interface MonitoringTarget {
  readonly useCase: MonitoringUseCaseName;
  readonly entity: readonly number[];
  readonly entityType: string;
  /** Scenarios it announces (MPC 1 power … 5 frequency; MGCP 1 PV curtailment … 7 frequency). */
  readonly scenarios: readonly number[];
  readonly measurement: FeatureAddress;
  readonly electricalConnection?: FeatureAddress;
  /** MGCP only: the DeviceConfiguration server with `pvCurtailmentLimitFactor` (§11.3). */
  readonly deviceConfiguration?: FeatureAddress;
}

/** One request of the monitoring procedure, for the session's `read`/`subscribe` inputs. */
export type MonitoringRequest =
  | { readonly kind: 'subscribe'; readonly server: FeatureAddress }
  | { readonly kind: 'read'; readonly destination: FeatureAddress; readonly function: string };

function isMonitoringUseCase(name: string): name is MonitoringUseCaseName {
  return Object.prototype.hasOwnProperty.call(MONITORING_USE_CASES, name);
}

function serverOf(entity: EntityDescription, type: string): FeatureDescription | undefined {
  return entity.features.find((feature) => feature.type === type && feature.role === 'server');
}

/** A stable key of a target, to start its procedure once per connection. */
export function targetKey(target: MonitoringTarget): string {
  return `${target.useCase}@${entityKey(target.entity)}`;
}

/**
 * The partner's entities to monitor: every announcement of a monitoring use case by its partner
 * actor (MonitoredUnit, GridConnectionPoint), on the entity its address names (every entity
 * except DeviceInformation when it names none, as Porsche, Elli and Viessmann announce, §5.4),
 * that has a Measurement server (required by every measured scenario, §11.1). A use case marked
 * unavailable is monitored all the same: a client must not refuse it (IG-SPINE 2.2, §5.4).
 */
export function monitoringTargets(
  device: DeviceDescription,
  useCases: readonly UseCaseInformation[],
): MonitoringTarget[] {
  const targets = new Map<string, MonitoringTarget>();
  for (const actor of useCases) {
    for (const support of actor.useCases) {
      const name = support.useCaseName;
      if (!isMonitoringUseCase(name)) continue;
      if (actor.actor !== MONITORING_USE_CASES[name].partnerActor) continue;
      const named = actor.address?.entity;
      const entities = device.entities.filter((entity) =>
        named === undefined ? !sameEntity(entity.entity, [0]) : sameEntity(entity.entity, named),
      );
      for (const entity of entities) {
        const measurement = serverOf(entity, 'Measurement');
        if (measurement === undefined) continue;
        const address = (feature: FeatureDescription): FeatureAddress => ({
          ...(device.device !== undefined ? { device: device.device } : {}),
          entity: entity.entity,
          feature: feature.feature,
        });
        const connection = serverOf(entity, 'ElectricalConnection');
        const configuration =
          name === 'monitoringOfGridConnectionPoint'
            ? serverOf(entity, 'DeviceConfiguration')
            : undefined;
        const target: MonitoringTarget = {
          useCase: name,
          entity: entity.entity,
          entityType: entity.type,
          scenarios: support.scenarios,
          measurement: address(measurement),
          ...(connection !== undefined ? { electricalConnection: address(connection) } : {}),
          ...(configuration !== undefined ? { deviceConfiguration: address(configuration) } : {}),
        };
        if (!targets.has(targetKey(target))) targets.set(targetKey(target), target);
      }
    }
  }
  return [...targets.values()];
}

/**
 * The monitoring appliance procedure for one target, in the order eebus-go sends it (§7.1, §11.2
 * steps 1-3, §11.3): subscribe ElectricalConnection and read its descriptions, subscribe
 * Measurement and read its descriptions (constraints only if announced) and values, and for MGCP
 * subscribe DeviceConfiguration and read its key descriptions and values. Values are read right
 * away rather than after the descriptions: they are only interpreted once both are stored
 * ({@link liveMeasurements}), and the read saves a round trip. Subscriptions come first so that
 * no change between a read and the subscription is missed. Reads of functions a feature does not
 * announce are left out (§4.5: servers list every function they serve).
 */
export function monitoringRequests(
  target: MonitoringTarget,
  device: DeviceDescription,
): MonitoringRequest[] {
  const out: MonitoringRequest[] = [];
  /** `optional` functions (constraints) are read only when the feature announces them. */
  const reads = (
    address: FeatureAddress | undefined,
    functions: readonly string[],
    optional: ReadonlySet<string> = new Set(),
  ) => {
    if (address === undefined) return;
    const feature = featureAt(device, address);
    out.push({ kind: 'subscribe', server: address });
    for (const name of functions) {
      const announced = feature !== undefined && supportedFunction(feature, name) !== undefined;
      // A feature that announces no functions at all is read anyway (lenient, §4.4 pitfalls),
      // except for optional functions.
      const lenient = feature === undefined || feature.functions.length === 0;
      if (announced || (lenient && !optional.has(name))) {
        out.push({ kind: 'read', destination: address, function: name });
      }
    }
  };
  reads(target.electricalConnection, [
    'electricalConnectionDescriptionListData',
    'electricalConnectionParameterDescriptionListData',
  ]);
  reads(
    target.measurement,
    ['measurementDescriptionListData', 'measurementConstraintsListData', 'measurementListData'],
    new Set(['measurementConstraintsListData']),
  );
  reads(target.deviceConfiguration, [
    'deviceConfigurationKeyValueDescriptionListData',
    'deviceConfigurationKeyValueListData',
  ]);
  return out;
}

function featureAt(device: DeviceDescription, address: FeatureAddress) {
  return device.entities
    .find((entity) => sameEntity(entity.entity, address.entity))
    ?.features.find((candidate) => candidate.feature === address.feature);
}
