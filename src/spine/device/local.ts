/**
 * Our own SPINE device: built from a declarative spec into the shared device model, and written
 * out as the `nodeManagementDetailedDiscoveryData` we answer with (spine-protocol.md §4 "Device
 * model and addressing", §5.1 nodeManagementDetailedDiscoveryData, §5.3 discovery notifications).
 *
 * Layout follows spine-go (§4.4 "Numbering conventions"): entity `[0]` DeviceInformation holds
 * NodeManagement `[0]:0` (role special) and a DeviceClassification server `[0]:1`; the other
 * entities are `[1]`, `[2]`, … and their features 1, 2, … in the order given, unless numbered
 * explicitly.
 */
import type { LastStateChange } from './discovery.js';
import type { CmdControl, SpineCmd } from '../model/datagram.js';
import { SPECIFICATION_VERSION } from '../model/datagram.js';
import { entityKey, NODE_MANAGEMENT_FEATURE } from '../model/address.js';
import type {
  DeviceDescription,
  EntityDescription,
  FeatureDescription,
  FeatureRole,
  SupportedFunction,
} from '../model/device.js';

/**
 * `FeatureTypeType` values (spine-protocol.md §4.4). We never announce others: spine-go v0.7
 * panics on unknown feature types (§4.4 "Unknown feature types", pitfall 16).
 */
export const FEATURE_TYPES = [
  'ActuatorLevel',
  'ActuatorSwitch',
  'Alarm',
  'DataTunneling',
  'DeviceClassification',
  'DeviceDiagnosis',
  'DirectControl',
  'ElectricalConnection',
  'Generic',
  'HVAC',
  'LoadControl',
  'Measurement',
  'Messaging',
  'NetworkManagement',
  'NodeManagement',
  'OperatingConstraints',
  'PowerSequences',
  'Sensing',
  'Setpoint',
  'SmartEnergyManagementPs',
  'TaskManagement',
  'Threshold',
  'TimeInformation',
  'TimeTable',
  'DeviceConfiguration',
  'SupplyCondition',
  'TimeSeries',
  'TariffInformation',
  'IncentiveTable',
  'Bill',
  'Identification',
  'StateInformation',
] as const;

/**
 * The functions of our NodeManagement (spine-protocol.md §4.5 table and the §5.1 example):
 * data readable, calls without operations. `nodeManagementDestinationListData` only because our
 * networkFeatureSet is not `simple` (§5.7).
 */
export const NODE_MANAGEMENT_FUNCTIONS: readonly SupportedFunction[] = [
  readable('nodeManagementDetailedDiscoveryData'),
  readable('nodeManagementUseCaseData'),
  readable('nodeManagementSubscriptionData'),
  callable('nodeManagementSubscriptionRequestCall'),
  callable('nodeManagementSubscriptionDeleteCall'),
  readable('nodeManagementBindingData'),
  callable('nodeManagementBindingRequestCall'),
  callable('nodeManagementBindingDeleteCall'),
  readable('nodeManagementDestinationListData'),
];

/** A function announced `{"read":{}}` (spine-protocol.md §4.5). */
function readable(name: string): SupportedFunction {
  return { function: name, read: true, readPartial: false, write: false, writePartial: false };
}

/** A call, announced with empty possibleOperations (spine-protocol.md §4.5). */
function callable(name: string): SupportedFunction {
  return { function: name, read: false, readPartial: false, write: false, writePartial: false };
}

/** A function a local server feature offers (§4.5); `read` defaults to true. */
export interface LocalFunctionSpec {
  function: string;
  read?: boolean;
  readPartial?: boolean;
  write?: boolean;
  writePartial?: boolean;
}

/** A feature of ours (§4.4). */
export interface LocalFeatureSpec {
  type: (typeof FEATURE_TYPES)[number];
  role: Exclude<FeatureRole, 'special'>;
  /** Server features only: client features announce no functions (§4.4). */
  functions?: readonly LocalFunctionSpec[];
  /** Explicit feature number; default: next free number in the entity, from 1. */
  feature?: number;
  specificUsage?: readonly string[];
  maxResponseDelay?: string;
  label?: string;
  description?: string;
}

/** An entity of ours (§4.3). */
export interface LocalEntitySpec {
  /** `EntityTypeType`, e.g. `CEM` (§4.3). */
  type: string;
  /** Explicit path; default `[n]` for the n-th entity of the spec, from 1. */
  entity?: readonly number[];
  features: readonly LocalFeatureSpec[];
  label?: string;
  description?: string;
}

/** Our device (§4.1, §4.2). */
export interface LocalDeviceSpec {
  /** Device address, e.g. `d:_n:ShipHub_HEMS-0001` (§4.1). */
  device: string;
  /** `DeviceTypeType`, e.g. `EnergyManagementSystem` (§4.2). */
  type: string;
  /** Default `smart`, as eebus-go sends (§4.2). */
  networkFeatureSet?: 'gateway' | 'router' | 'smart' | 'simple';
  entities: readonly LocalEntitySpec[];
  label?: string;
  description?: string;
}

/**
 * The device-address grammar of a public validation test (spine-protocol.md §4.1): what we
 * generate should match it; partners' addresses are accepted whatever they are.
 */
export const DEVICE_ADDRESS_PATTERN = /^d:_(i:[1-9][0-9]*|n:[a-zA-Z0-9-]+)_[^\p{Cc}\p{Cf}\p{Z}]+$/u;

/** Outcome of {@link createLocalDevice}. */
export type LocalDeviceResult =
  { ok: true; device: DeviceDescription; warnings: string[] } | { ok: false; errors: string[] };

/**
 * Builds our device model from a spec, checking what partners rely on: a non-empty device
 * address, unique entity paths and feature numbers, no entity `[0]` in the spec (it is ours to
 * build), only standard feature types, no functions on client features.
 */
export function createLocalDevice(spec: LocalDeviceSpec): LocalDeviceResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (spec.device === '') errors.push('the device address is empty');
  else if (!DEVICE_ADDRESS_PATTERN.test(spec.device)) {
    warnings.push(
      `device address ${JSON.stringify(spec.device)} does not follow d:_i:<PEN>_<id> / d:_n:<name>_<id>`,
    );
  }
  const entities: EntityDescription[] = [
    {
      entity: [0],
      type: 'DeviceInformation',
      features: [
        {
          feature: NODE_MANAGEMENT_FEATURE,
          type: 'NodeManagement',
          role: 'special',
          functions: NODE_MANAGEMENT_FUNCTIONS,
        },
        {
          feature: 1,
          type: 'DeviceClassification',
          role: 'server',
          functions: [readable('deviceClassificationManufacturerData')],
        },
      ],
    },
  ];
  const seen = new Set<string>([entityKey([0])]);
  spec.entities.forEach((entitySpec, index) => {
    const path = entitySpec.entity ?? [index + 1];
    const where = `entity [${path.join(',')}]`;
    if (path.length === 0 || !path.every((n) => Number.isInteger(n) && n >= 0)) {
      errors.push(`${where}: not a path of unsigned integers`);
      return;
    }
    if (seen.has(entityKey(path))) {
      errors.push(
        `${where}: ${path[0] === 0 && path.length === 1 ? 'reserved for DeviceInformation' : 'listed twice'}`,
      );
      return;
    }
    seen.add(entityKey(path));
    const features: FeatureDescription[] = [];
    let nextNumber = 1;
    for (const featureSpec of entitySpec.features) {
      const number = featureSpec.feature ?? nextNumber;
      const label = `${where} feature ${number} (${featureSpec.type} ${featureSpec.role})`;
      if (!Number.isInteger(number) || number < 0) {
        errors.push(`${label}: not an unsigned integer`);
        continue;
      }
      if (features.some((f) => f.feature === number)) {
        errors.push(`${label}: number used twice`);
        continue;
      }
      if (!(FEATURE_TYPES as readonly string[]).includes(featureSpec.type)) {
        errors.push(`${label}: not a standard feature type`);
        continue;
      }
      if (featureSpec.type === 'NodeManagement') {
        errors.push(`${label}: NodeManagement exists only at [0]:0`);
        continue;
      }
      if (featureSpec.role === 'client' && (featureSpec.functions?.length ?? 0) > 0) {
        errors.push(`${label}: a client feature announces no functions`);
        continue;
      }
      nextNumber = Math.max(nextNumber, number + 1);
      const feature: FeatureDescription = {
        feature: number,
        type: featureSpec.type,
        role: featureSpec.role,
        functions: (featureSpec.functions ?? []).map((fn) => ({
          function: fn.function,
          read: fn.read ?? true,
          readPartial: fn.readPartial ?? false,
          write: fn.write ?? false,
          writePartial: fn.writePartial ?? false,
        })),
      };
      if (featureSpec.specificUsage !== undefined)
        feature.specificUsage = featureSpec.specificUsage;
      if (featureSpec.maxResponseDelay !== undefined) {
        feature.maxResponseDelay = featureSpec.maxResponseDelay;
      }
      if (featureSpec.label !== undefined) feature.label = featureSpec.label;
      if (featureSpec.description !== undefined) feature.description = featureSpec.description;
      features.push(feature);
    }
    const entity: EntityDescription = { entity: [...path], type: entitySpec.type, features };
    if (entitySpec.label !== undefined) entity.label = entitySpec.label;
    if (entitySpec.description !== undefined) entity.description = entitySpec.description;
    entities.push(entity);
  });
  if (errors.length > 0) return { ok: false, errors };
  const device: DeviceDescription = {
    device: spec.device,
    type: spec.type,
    networkFeatureSet: spec.networkFeatureSet ?? 'smart',
    specificationVersions: [SPECIFICATION_VERSION],
    entities,
  };
  if (spec.label !== undefined) device.label = spec.label;
  if (spec.description !== undefined) device.description = spec.description;
  return { ok: true, device, warnings };
}

/** Options of {@link buildDetailedDiscoveryData}. */
export interface DiscoveryBuildOptions {
  /**
   * Put `device` into entity and feature addresses, as spine-go and evcc do; the XSD restriction
   * and KEO stacks omit it (§5.1). Default true: every studied receiver accepts both.
   */
  deviceInAddresses?: boolean;
}

/** `possibleOperations` of one function (§4.5): `{}`, `{read:{}}`, `{read:{partial:{}}}`, … */
function possibleOperations(fn: SupportedFunction): Record<string, unknown> {
  const ops: Record<string, unknown> = {};
  if (fn.read) ops.read = fn.readPartial ? { partial: {} } : {};
  if (fn.write) ops.write = fn.writePartial ? { partial: {} } : {};
  return ops;
}

/** `deviceInformation.description` in XSD order (spine-protocol.md §5.1). */
function deviceInformation(device: DeviceDescription, lastStateChange?: LastStateChange) {
  // XSD order of NetworkManagementDeviceDescriptionData (§5.1).
  const description: Record<string, unknown> = {};
  if (device.device !== undefined) description.deviceAddress = { device: device.device };
  if (device.type !== undefined) description.deviceType = device.type;
  if (device.networkFeatureSet !== undefined) {
    description.networkFeatureSet = device.networkFeatureSet;
  }
  if (lastStateChange !== undefined) description.lastStateChange = lastStateChange;
  if (device.label !== undefined) description.label = device.label;
  if (device.description !== undefined) description.description = device.description;
  return { description };
}

/** One `entityInformation` entry in XSD order (spine-protocol.md §5.1, §5.3). */
function entityInformation(
  device: DeviceDescription,
  entity: EntityDescription,
  withDevice: boolean,
  lastStateChange?: LastStateChange,
) {
  // XSD order of NetworkManagementEntityDescriptionData (§5.1).
  const address: Record<string, unknown> = {};
  if (withDevice && device.device !== undefined) address.device = device.device;
  address.entity = [...entity.entity];
  const description: Record<string, unknown> = { entityAddress: address };
  if (entity.type !== '') description.entityType = entity.type;
  if (lastStateChange !== undefined) description.lastStateChange = lastStateChange;
  if (entity.label !== undefined) description.label = entity.label;
  if (entity.description !== undefined) description.description = entity.description;
  return { description };
}

/** One `featureInformation` entry in XSD order; client features without supportedFunction (§5.1). */
function featureInformation(
  device: DeviceDescription,
  entity: EntityDescription,
  feature: FeatureDescription,
  withDevice: boolean,
) {
  // XSD order of NetworkManagementFeatureDescriptionData (§5.1).
  const address: Record<string, unknown> = {};
  if (withDevice && device.device !== undefined) address.device = device.device;
  address.entity = [...entity.entity];
  address.feature = feature.feature;
  const description: Record<string, unknown> = {
    featureAddress: address,
    featureType: feature.type,
  };
  if (feature.specificUsage !== undefined) description.specificUsage = [...feature.specificUsage];
  if (feature.featureGroup !== undefined) description.featureGroup = feature.featureGroup;
  description.role = feature.role;
  if (feature.functions.length > 0) {
    description.supportedFunction = feature.functions.map((fn) => ({
      function: fn.function,
      possibleOperations: possibleOperations(fn),
    }));
  }
  if (feature.label !== undefined) description.label = feature.label;
  if (feature.description !== undefined) description.description = feature.description;
  if (feature.maxResponseDelay !== undefined) {
    description.maxResponseDelay = feature.maxResponseDelay;
  }
  return { description };
}

/**
 * Our `nodeManagementDetailedDiscoveryData` (spine-protocol.md §5.1): the whole device, every
 * entity, every feature including client features without supportedFunction (checklist item 22),
 * in XSD element order, as plain data for a `reply` cmd.
 */
export function buildDetailedDiscoveryData(
  device: DeviceDescription,
  options?: DiscoveryBuildOptions,
): Record<string, unknown> {
  const withDevice = options?.deviceInAddresses ?? true;
  return {
    specificationVersionList: { specificationVersion: [...device.specificationVersions] },
    deviceInformation: deviceInformation(device),
    entityInformation: device.entities.map((entity) =>
      entityInformation(device, entity, withDevice),
    ),
    featureInformation: device.entities.flatMap((entity) =>
      entity.features.map((feature) => featureInformation(device, entity, feature, withDevice)),
    ),
  };
}

/**
 * The partial discovery notify for one entity that came or went (spine-protocol.md §5.3, as
 * spine-go `notifySubscribersOfEntity` sends it): versions, device information, the one entity
 * with `lastStateChange`, and for `added` its features. Returns the cmd (function + partial
 * filter + data) to send to every NodeManagement subscriber.
 */
export function buildEntityChangeNotify(
  device: DeviceDescription,
  entity: EntityDescription,
  change: 'added' | 'removed',
  options?: DiscoveryBuildOptions,
): SpineCmd {
  const withDevice = options?.deviceInAddresses ?? true;
  const data: Record<string, unknown> = {
    specificationVersionList: { specificationVersion: [...device.specificationVersions] },
    deviceInformation: deviceInformation(device),
    entityInformation: [entityInformation(device, entity, withDevice, change)],
  };
  if (change === 'added') {
    data.featureInformation = entity.features.map((feature) =>
      featureInformation(device, entity, feature, withDevice),
    );
  }
  const partial: CmdControl = 'partial';
  return {
    function: 'nodeManagementDetailedDiscoveryData',
    filter: [{ cmdControl: partial }],
    data: { name: 'nodeManagementDetailedDiscoveryData', value: data },
  };
}
