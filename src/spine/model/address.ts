/**
 * SPINE addresses (spine-protocol.md §2.1 "FeatureAddress", §4.1 device address, §4.3 entities,
 * §4.4 features): a feature is addressed by device + entity path + feature number, unique within
 * its entity only.
 */

/**
 * `FeatureAddressType` (XSD order device, entity, feature; spine-protocol.md §2.1). Every part is
 * optional on the wire: the very first discovery read has no `device` (§2.5), entity addresses
 * inside discovery data have no `feature` and, from KEO stacks, no `device` either (§5.1).
 */
export interface FeatureAddress {
  /** Device address string (§4.1), e.g. `d:_i:19667_PorscheEVSE-00016544`. */
  device?: string;
  /** Entity path, `[0]` = DeviceInformation, `[1,1]` = a sub-entity (§4.3). */
  entity?: readonly number[];
  /** Feature number, unique within the entity (§4.4). */
  feature?: number;
}

/** An entity address (`EntityAddressType`, §4.3): device and entity path. */
export interface EntityAddress {
  device?: string;
  entity: readonly number[];
}

/** Entity `[0]` is always the DeviceInformation entity (spine-protocol.md §4.3). */
export const DEVICE_INFORMATION_ENTITY: readonly number[] = Object.freeze([0]);

/**
 * NodeManagement lives at entity `[0]`, feature `0` on every device (spine-protocol.md §5,
 * SPINE_PS 7.1 / IG-SPINE 2.3).
 */
export const NODE_MANAGEMENT_FEATURE = 0;

/** True if two entity paths are equal. */
export function sameEntity(a: readonly number[] | undefined, b: readonly number[] | undefined) {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True if two feature addresses name the same feature. A missing `device` on either side matches
 * any device (the reply to the first discovery read is addressed to a device we name in it, while
 * our own request did not know it; spine-protocol.md §2.4).
 */
export function sameFeature(a: FeatureAddress, b: FeatureAddress): boolean {
  if (a.device !== undefined && b.device !== undefined && a.device !== b.device) return false;
  return a.feature === b.feature && sameEntity(a.entity, b.entity);
}

/** Stable text key of an entity path, e.g. `1.1` (for maps; not a wire format). */
export function entityKey(entity: readonly number[]): string {
  return entity.join('.');
}

/** Stable text key of a feature within its device, e.g. `1.1:3` (for maps; not a wire format). */
export function featureKey(entity: readonly number[], feature: number): string {
  return `${entity.join('.')}:${feature}`;
}

/** Human-readable form for logs: `device [1,1]:3`. */
export function formatAddress(address: FeatureAddress): string {
  const entity = address.entity === undefined ? '' : `[${address.entity.join(',')}]`;
  const feature = address.feature === undefined ? '' : `:${address.feature}`;
  return `${address.device ?? '?'} ${entity}${feature}`;
}
