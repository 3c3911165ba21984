/**
 * nodeManagementDetailedDiscoveryData ⇄ the device model (spine-protocol.md §5.1 "Processing the
 * reply", §5.3 "Discovery notifications"; spine-go `processReplyDetailedDiscoveryData`).
 *
 * Parsing is lenient, as the field demands: entity/feature addresses with or without `device`
 * (XSD vs spine-go, §5.1), unknown types and roles kept as strings (§4.4, TC_SPINE_RTS_002),
 * broken entries skipped with a warning instead of failing the whole device.
 */
import { asList, asObject, isObject, isUint, own, stringOf } from '../codec/values.js';
import { entityKey, sameEntity } from '../model/address.js';
import type {
  DeviceDescription,
  EntityDescription,
  FeatureDescription,
  FunctionOperations,
  SupportedFunction,
} from '../model/device.js';

/** `lastStateChange` of discovery entries (spine-protocol.md §5.1/§5.3). */
export type LastStateChange = 'added' | 'removed' | 'modified';

/** Outcome of {@link parseDetailedDiscovery}. */
export type DiscoveryParseResult =
  { ok: true; device: DeviceDescription; warnings: string[] } | { ok: false; error: string };

interface EntityEntry {
  entity: number[];
  type: string;
  lastStateChange?: string;
  label?: string;
  description?: string;
}

interface FeatureEntry {
  entity: number[];
  feature: FeatureDescription;
}

interface ParsedDiscovery {
  device: Omit<DeviceDescription, 'entities'>;
  hasDeviceInformation: boolean;
  hasVersions: boolean;
  entities: EntityEntry[];
  features: FeatureEntry[];
  warnings: string[];
}

/** `possibleOperations` (spine-protocol.md §4.5): presence of `read`/`write`/`partial` counts. */
function readOperations(value: unknown): FunctionOperations {
  const ops = asObject(value) ?? {};
  const read = asObject(own(ops, 'read'));
  const write = asObject(own(ops, 'write'));
  return {
    read: read !== undefined,
    readPartial: read !== undefined && own(read, 'partial') !== undefined,
    write: write !== undefined,
    writePartial: write !== undefined && own(write, 'partial') !== undefined,
  };
}

/** Copies the optional text elements that are present (label, description, …; §5.1). */
function copyText(target: object, source: Record<string, unknown>, keys: string[]) {
  for (const key of keys) {
    const value = stringOf(source, key);
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
}

/** The entity path of an address, if it is a list of unsigned integers (spine-protocol.md §4.3). */
function readEntityPath(address: Record<string, unknown>): number[] | undefined {
  const entity = own(address, 'entity');
  const path = asList(entity);
  if (entity === undefined || !path.every((item) => isUint(item))) return undefined;
  return path as number[];
}

/** Reads every part of a discovery data element; never throws. */
function readDiscovery(data: unknown): ParsedDiscovery | undefined {
  const root = asObject(data);
  if (root === undefined) return undefined;
  const warnings: string[] = [];
  const device: Omit<DeviceDescription, 'entities'> = { specificationVersions: [] };
  const versionList = asObject(own(root, 'specificationVersionList'));
  const versions = asList(versionList && own(versionList, 'specificationVersion'));
  (device as { specificationVersions: string[] }).specificationVersions = versions.filter(
    (v): v is string => typeof v === 'string',
  );
  const information = asObject(own(root, 'deviceInformation'));
  const deviceDescription = asObject(information && own(information, 'description'));
  if (deviceDescription !== undefined) {
    const address = asObject(own(deviceDescription, 'deviceAddress'));
    const deviceAddress = address && stringOf(address, 'device');
    if (deviceAddress !== undefined) device.device = deviceAddress;
    const type = stringOf(deviceDescription, 'deviceType');
    if (type !== undefined) device.type = type;
    copyText(device, deviceDescription, ['networkFeatureSet', 'label', 'description']);
  }

  const belongs = (address: Record<string, unknown>, where: string): boolean => {
    const owner = stringOf(address, 'device');
    if (owner !== undefined && device.device !== undefined && owner !== device.device) {
      warnings.push(`${where}: address of another device ${JSON.stringify(owner)}, skipped`);
      return false;
    }
    return true;
  };

  const entities: EntityEntry[] = [];
  asList(own(root, 'entityInformation')).forEach((item, index) => {
    const where = `entityInformation[${index}]`;
    const description = asObject(isObject(item) ? own(item, 'description') : undefined);
    const address = asObject(description && own(description, 'entityAddress'));
    const path = address && readEntityPath(address);
    if (description === undefined || address === undefined || path === undefined) {
      warnings.push(`${where}: no valid entityAddress, skipped`);
      return;
    }
    if (!belongs(address, where)) return;
    const entry: EntityEntry = { entity: path, type: stringOf(description, 'entityType') ?? '' };
    copyText(entry, description, ['lastStateChange', 'label', 'description']);
    entities.push(entry);
  });

  const features: FeatureEntry[] = [];
  asList(own(root, 'featureInformation')).forEach((item, index) => {
    const where = `featureInformation[${index}]`;
    const description = asObject(isObject(item) ? own(item, 'description') : undefined);
    const address = asObject(description && own(description, 'featureAddress'));
    const path = address && readEntityPath(address);
    const number = address && own(address, 'feature');
    if (description === undefined || address === undefined || path === undefined) {
      warnings.push(`${where}: no valid featureAddress, skipped`);
      return;
    }
    if (!isUint(number)) {
      warnings.push(`${where}: featureAddress without a feature number, skipped`);
      return;
    }
    if (!belongs(address, where)) return;
    const functions: SupportedFunction[] = [];
    for (const fn of asList(own(description, 'supportedFunction'))) {
      const entry = asObject(fn);
      const name = entry && stringOf(entry, 'function');
      if (entry === undefined || name === undefined) {
        warnings.push(`${where}: a supportedFunction without a function name, skipped`);
        continue;
      }
      functions.push({ function: name, ...readOperations(own(entry, 'possibleOperations')) });
    }
    const feature: FeatureDescription = {
      feature: number,
      type: stringOf(description, 'featureType') ?? '',
      role: stringOf(description, 'role') ?? '',
      functions,
    };
    const usage = own(description, 'specificUsage');
    if (usage !== undefined) {
      feature.specificUsage = asList(usage).filter((u): u is string => typeof u === 'string');
    }
    copyText(feature, description, ['featureGroup', 'maxResponseDelay', 'label', 'description']);
    features.push({ entity: path, feature });
  });
  return {
    device,
    hasDeviceInformation: deviceDescription !== undefined,
    hasVersions: versionList !== undefined,
    entities,
    features,
    warnings,
  };
}

/** Attaches features to entities; features of unknown entities are reported and dropped. */
function assemble(
  entities: readonly EntityEntry[],
  features: readonly FeatureEntry[],
  warnings: string[],
): EntityDescription[] {
  const byKey = new Map<string, EntityDescription & { features: FeatureDescription[] }>();
  for (const entry of entities) {
    const key = entityKey(entry.entity);
    if (byKey.has(key)) warnings.push(`entity [${entry.entity.join(',')}] listed twice`);
    const entity: EntityDescription & { features: FeatureDescription[] } = {
      entity: entry.entity,
      type: entry.type,
      features: [],
    };
    if (entry.label !== undefined) entity.label = entry.label;
    if (entry.description !== undefined) entity.description = entry.description;
    byKey.set(key, entity);
  }
  for (const { entity, feature } of features) {
    const owner = byKey.get(entityKey(entity));
    if (owner === undefined) {
      warnings.push(
        `feature [${entity.join(',')}]:${feature.feature} belongs to no listed entity, skipped`,
      );
      continue;
    }
    if (owner.features.some((f) => f.feature === feature.feature)) {
      warnings.push(`feature [${entity.join(',')}]:${feature.feature} listed twice`);
      owner.features = owner.features.filter((f) => f.feature !== feature.feature);
    }
    owner.features.push(feature);
  }
  return [...byKey.values()];
}

/**
 * Builds the device model from a `nodeManagementDetailedDiscoveryData` reply (spine-protocol.md
 * §5.1): device address/type/feature set, each entity with the features whose address names it,
 * each feature's supported functions. Fails only when the data is no element at all.
 */
export function parseDetailedDiscovery(data: unknown): DiscoveryParseResult {
  const parsed = readDiscovery(data);
  if (parsed === undefined) {
    return { ok: false, error: 'nodeManagementDetailedDiscoveryData is not an element' };
  }
  const entities = assemble(parsed.entities, parsed.features, parsed.warnings);
  return { ok: true, device: { ...parsed.device, entities }, warnings: parsed.warnings };
}

/** What a discovery notify changed (spine-protocol.md §5.3). */
export interface DiscoveryChange {
  device: DeviceDescription;
  /** Entities that are new (raise "entity added"). */
  added: Array<readonly number[]>;
  /** Entities that are gone (drop their subscriptions, bindings, caches; §5.3). */
  removed: Array<readonly number[]>;
  warnings: string[];
}

/**
 * Applies a discovery `notify` (or a later `reply`) to a known remote device (spine-protocol.md
 * §5.3, spine-go `processNotifyDetailedDiscoveryData`):
 * - `partial` (cmdControl partial): each listed entity with `lastStateChange:"removed"` is dropped;
 *   any other entity entry (`added`, `modified`, or — leniently — none) is added or replaced with
 *   the features listed for it (an existing entity keeps its features if none are listed);
 * - not partial: a full snapshot, diffed against the known entities.
 */
export function applyDiscoveryNotify(
  known: DeviceDescription,
  data: unknown,
  partial: boolean,
): { ok: true; change: DiscoveryChange } | { ok: false; error: string } {
  const parsed = readDiscovery(data);
  if (parsed === undefined) {
    return { ok: false, error: 'nodeManagementDetailedDiscoveryData is not an element' };
  }
  const warnings = parsed.warnings;
  if (!partial) {
    const entities = assemble(parsed.entities, parsed.features, warnings);
    const device = { ...parsed.device, entities };
    return { ok: true, change: diff(known, device, warnings) };
  }
  // Partial: device information only where sent (Porsche's removal notify omits most, §5.3).
  const device: DeviceDescription = { ...known };
  if (parsed.hasDeviceInformation) {
    for (const key of ['device', 'type', 'networkFeatureSet', 'label', 'description'] as const) {
      if (parsed.device[key] !== undefined) device[key] = parsed.device[key];
    }
  }
  if (parsed.hasVersions) device.specificationVersions = parsed.device.specificationVersions;
  let entities = [...known.entities];
  const added: Array<readonly number[]> = [];
  const removed: Array<readonly number[]> = [];
  for (const entry of parsed.entities) {
    const index = entities.findIndex((e) => sameEntity(e.entity, entry.entity));
    if (entry.lastStateChange === 'removed') {
      if (index >= 0) {
        entities = entities.filter((_, i) => i !== index);
        removed.push(entry.entity);
      } else {
        warnings.push(`removed entity [${entry.entity.join(',')}] was not known`);
      }
      continue;
    }
    const own = parsed.features.filter((f) => sameEntity(f.entity, entry.entity));
    const [rebuilt] = assemble([entry], own, warnings);
    if (rebuilt === undefined) continue;
    const known = index >= 0 ? entities[index] : undefined;
    const entity: EntityDescription =
      own.length === 0 && known !== undefined ? { ...rebuilt, features: known.features } : rebuilt;
    if (index >= 0) {
      entities = entities.map((e, i) => (i === index ? entity : e));
    } else {
      entities.push(entity);
      added.push(entry.entity);
    }
  }
  device.entities = entities;
  return { ok: true, change: { device, added, removed, warnings } };
}

/** Entities added and removed between two snapshots (full discovery notify, spine-protocol.md §5.3). */
function diff(
  known: DeviceDescription,
  device: DeviceDescription,
  warnings: string[],
): DiscoveryChange {
  const had = new Set(known.entities.map((e) => entityKey(e.entity)));
  const has = new Set(device.entities.map((e) => entityKey(e.entity)));
  return {
    device,
    added: device.entities.filter((e) => !had.has(entityKey(e.entity))).map((e) => e.entity),
    removed: known.entities.filter((e) => !has.has(entityKey(e.entity))).map((e) => e.entity),
    warnings,
  };
}
