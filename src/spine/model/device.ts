/**
 * The SPINE device model shared by our local device and the remote devices we learn from their
 * detailed discovery (spine-protocol.md §4 "Device model and addressing", §5.1
 * nodeManagementDetailedDiscoveryData): device → entities → features → supported functions.
 *
 * Type strings (device, entity, feature types, roles) are kept as received: unknown values must
 * not break anything (spine-protocol.md §4.4 "Unknown feature types", TC_SPINE_RTS_002).
 */

/** Feature roles (spine-protocol.md §4.4): `special` is only NodeManagement. */
export type FeatureRole = 'client' | 'server' | 'special';

/**
 * What a server offers for one function (`possibleOperations`, spine-protocol.md §4.5): calls
 * announce no operation, read-only `read`, read/write both, each optionally with `partial`.
 */
export interface FunctionOperations {
  read: boolean;
  readPartial: boolean;
  write: boolean;
  writePartial: boolean;
}

/** One `supportedFunction` entry (spine-protocol.md §5.1). */
export interface SupportedFunction extends FunctionOperations {
  /** Function name, e.g. `measurementListData`. */
  function: string;
}

/** A feature (spine-protocol.md §4.4; `NetworkManagementFeatureDescriptionData`, §5.1). */
export interface FeatureDescription {
  /** Feature number, unique within its entity. */
  feature: number;
  /** `FeatureTypeType` (`Measurement`, `LoadControl`, …); unknown types kept as strings. */
  type: string;
  /** `server`, `client`, `special` or whatever the device sent. */
  role: FeatureRole | (string & {});
  /** Client features announce none (spine-protocol.md §4.4). */
  functions: readonly SupportedFunction[];
  specificUsage?: readonly string[];
  featureGroup?: string;
  /** ISO 8601 duration; default 10 s when absent (spine-protocol.md §6.4). */
  maxResponseDelay?: string;
  label?: string;
  description?: string;
}

/** An entity (spine-protocol.md §4.3; `NetworkManagementEntityDescriptionData`, §5.1). */
export interface EntityDescription {
  /** Entity path, `[0]` = DeviceInformation. */
  entity: readonly number[];
  /** `EntityTypeType` (`CEM`, `EVSE`, `HeatPumpAppliance`, …); unknown types kept. */
  type: string;
  features: readonly FeatureDescription[];
  label?: string;
  description?: string;
}

/** A whole device (`NetworkManagementDeviceDescriptionData` + its entities, §5.1). */
export interface DeviceDescription {
  /** Device address (spine-protocol.md §4.1); absent only in broken discovery data. */
  device?: string;
  /** `DeviceTypeType` (§4.2); old firmware omits it. */
  type?: string;
  /** `gateway` | `router` | `smart` | `simple` (§4.2). */
  networkFeatureSet?: string;
  /** `specificationVersionList` (§5.1), e.g. `["1.3.0"]`. */
  specificationVersions: readonly string[];
  entities: readonly EntityDescription[];
  label?: string;
  description?: string;
}

/** The entity at a path, if the device has it. */
export function findEntity(
  device: DeviceDescription,
  entity: readonly number[],
): EntityDescription | undefined {
  return device.entities.find(
    (candidate) =>
      candidate.entity.length === entity.length &&
      candidate.entity.every((item, index) => item === entity[index]),
  );
}

/** The feature at an address, if the device has it (spine-protocol.md §4.4). */
export function findFeature(
  device: DeviceDescription,
  entity: readonly number[],
  feature: number,
): FeatureDescription | undefined {
  return findEntity(device, entity)?.features.find((candidate) => candidate.feature === feature);
}

/** A feature together with its entity, as {@link featuresOf} returns it. */
export interface LocatedFeature {
  entity: EntityDescription;
  feature: FeatureDescription;
}

/**
 * Every feature of a type and role, in entity order. Look features up this way after every
 * discovery, never by number (spine-protocol.md §4.4; TC_SPINE_ENTITY_001/002).
 */
export function featuresOf(
  device: DeviceDescription,
  type: string,
  role?: FeatureRole,
): LocatedFeature[] {
  const out: LocatedFeature[] = [];
  for (const entity of device.entities) {
    for (const feature of entity.features) {
      if (feature.type === type && (role === undefined || feature.role === role)) {
        out.push({ entity, feature });
      }
    }
  }
  return out;
}

/** The supported function entry of a feature, if announced (spine-protocol.md §4.5). */
export function supportedFunction(
  feature: FeatureDescription,
  name: string,
): SupportedFunction | undefined {
  return feature.functions.find((candidate) => candidate.function === name);
}
