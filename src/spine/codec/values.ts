/**
 * Reading plain SPINE values whatever form they arrived in (spine-protocol.md §1: EEBUS-JSON on
 * the wire, plain JSON inside; SHIP §11.5 leniency).
 *
 * After EEBUS-JSON conversion two ambiguities remain (see src/ship/codec/eebus-json.ts): an empty
 * list arrives as `{}` (it was `[]`), and a plain-JSON list of one single-key object may have been
 * merged into that object. {@link asList} undoes both for fields the schema declares as lists.
 */
import { fromEebusJson } from '../../ship/codec/eebus-json.js';

/** What JSON calls an object: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Largest xs:unsignedInt (entity path items, feature numbers, ids; SPINE XSD). */
export const UINT32_MAX = 0xffff_ffff;

/** True for an integer in 0..max (XSD unsigned types). */
export function isUint(value: unknown, max: number = UINT32_MAX): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

/** An own property (never from the prototype, so a peer key `__proto__` reads as data). */
export function own(object: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/**
 * A complex element as an object: plain objects as they are, an EEBUS-JSON sequence converted
 * (mixed forms from lenient peers), anything else undefined.
 */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  if (isObject(value)) return value;
  if (!Array.isArray(value)) return undefined;
  try {
    const converted = fromEebusJson(value, { maxDepth: 64 });
    return isObject(converted) ? converted : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A repeated element (maxOccurs > 1) as a list: arrays as they are, `undefined` as empty, `{}` as
 * empty (it was `[]` on the wire), any other object as a list of that one occurrence.
 */
export function asList(value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value;
  if (value === undefined || value === null) return [];
  if (isObject(value) && Object.keys(value).length === 0) return [];
  return [value];
}

/** Own string property or undefined. */
export function stringOf(object: Readonly<Record<string, unknown>>, key: string) {
  const value = own(object, key);
  return typeof value === 'string' ? value : undefined;
}

/** Defines an own property, so a peer key `__proto__` stays data (no prototype pollution). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
