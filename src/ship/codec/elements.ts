/**
 * Reading the children of a SHIP element from parsed JSON, leniently (SHIP §11.5 and the
 * pitfalls collected in the project's protocol reference, §11), and the value checks shared by the
 * decoders and encoders (value ranges from the SHIP XSD, SHIP §13.4).
 *
 * Internal to the codec: decoders throw {@link FieldError}, and `decodeMessage` turns it into an
 * `invalidField` result at its boundary, so no peer fault ever leaves the codec as an exception.
 */
import { isJsonObject } from '../../util/json-value.js';

/** A field problem found while decoding; `detail` names the element path and the problem. */
export class FieldError extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = 'FieldError';
  }
}

/** The children of one element: name → every occurrence, in wire order. */
export type Children = Map<string, unknown[]>;

/** Largest xs:unsignedInt (`waiting`, `maxTime`; SHIP §13.4.4.1 and §13.4.7). */
export const UINT32_MAX = 0xffff_ffff;
/** Largest xs:unsignedShort (`version.major/minor`, SHIP §13.4.4.2). */
export const UINT16_MAX = 0xffff;
/** Largest xs:unsignedByte (`error` of the handshake and PIN errors, SHIP §13.4.4.2/§13.4.4.3). */
export const UINT8_MAX = 0xff;

/** `connectionPinInput.pin`: the XSD pattern `[0-9a-fA-F]{8,16}` (SHIP §13.4.4.3). */
export const PIN_PATTERN = /^[0-9a-fA-F]{8,16}$/;
/** xs:hexBinary (data `extension.binary`, SHIP §13.4.5): pairs of hex digits. */
export const HEX_BINARY_PATTERN = /^(?:[0-9a-fA-F]{2})*$/;

/** True for an integer in 0..max (the XSD unsigned types). */
export function isUint(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

/** A short, safe description of a received value for error details (never the whole value). */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (typeof value === 'string') {
    // Peer text goes into logs: cap its length so a huge value cannot flood them.
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function addChild(children: Children, name: string, value: unknown): void {
  const list = children.get(name);
  if (list === undefined) children.set(name, [value]);
  else list.push(value);
}

/**
 * The children of a complex element. Accepted forms:
 * - the EEBUS-JSON sequence `[{"a":1},{"b":2}]` (SHIP §11.4);
 * - a plain object `{"a":1,"b":2}` (SHIP §11.5 leniency, for peers sending ordinary JSON);
 * - objects with several properties inside the array (a mix of both);
 * - `[]` or `{}` for an element without children (SHIP §11.4.6 rule 4).
 * Anything else is an invalid field: the element must be complex.
 */
export function readChildren(path: string, value: unknown): Children {
  const children: Children = new Map();
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      if (!isJsonObject(item)) {
        throw new FieldError(
          `${path} holds ${describe(item)} where a child element (an object) was expected`,
        );
      }
      for (const key of Object.keys(item)) addChild(children, key, item[key]);
    }
    return children;
  }
  if (isJsonObject(value)) {
    for (const key of Object.keys(value)) addChild(children, key, value[key]);
    return children;
  }
  throw new FieldError(
    `${path} must be a list of child elements or an object, got ${describe(value)}`,
  );
}

/**
 * The single occurrence of an optional child, or undefined when absent. `null` counts as absent:
 * some implementations write absent optional fields as null (SHIP §11.4 says omit them), and
 * treating null as "not given" is the lenient reading. A repeated child is an invalid field,
 * since no SHIP element that is read through here has maxOccurs > 1.
 */
export function optionalChild(children: Children, path: string, name: string): unknown {
  const list = children.get(name);
  if (list === undefined) return undefined;
  if (list.length > 1) throw new FieldError(`${path}.${name} appears ${list.length} times`);
  const value = list[0];
  return value === null ? undefined : value;
}

/** The single occurrence of a required child; absent or null is an invalid field. */
export function requiredChild(children: Children, path: string, name: string): unknown {
  const value = optionalChild(children, path, name);
  if (value === undefined) throw new FieldError(`${path}.${name} is missing`);
  return value;
}

/** A required child holding one of the values of an XSD enumeration. */
export function requiredEnum<T extends string>(
  children: Children,
  path: string,
  name: string,
  allowed: readonly T[],
): T {
  const value = requiredChild(children, path, name);
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new FieldError(
    `${path}.${name} must be one of ${allowed.join(', ')} (got ${describe(value)})`,
  );
}

/** An optional child holding one of the values of an XSD enumeration. */
export function optionalEnum<T extends string>(
  children: Children,
  path: string,
  name: string,
  allowed: readonly T[],
): T | undefined {
  if (optionalChild(children, path, name) === undefined) return undefined;
  return requiredEnum(children, path, name, allowed);
}

/** A required child holding an integer in 0..max (XSD unsigned types). */
export function requiredUint(children: Children, path: string, name: string, max: number): number {
  const value = requiredChild(children, path, name);
  if (isUint(value, max)) return value;
  throw new FieldError(
    `${path}.${name} must be an integer from 0 to ${max} (got ${describe(value)})`,
  );
}

/** An optional child holding an integer in 0..max. */
export function optionalUint(
  children: Children,
  path: string,
  name: string,
  max: number,
): number | undefined {
  if (optionalChild(children, path, name) === undefined) return undefined;
  return requiredUint(children, path, name, max);
}

/** A required string child. */
export function requiredString(children: Children, path: string, name: string): string {
  const value = requiredChild(children, path, name);
  if (typeof value === 'string') return value;
  throw new FieldError(`${path}.${name} must be a string (got ${describe(value)})`);
}

/** An optional string child. */
export function optionalString(children: Children, path: string, name: string): string | undefined {
  if (optionalChild(children, path, name) === undefined) return undefined;
  return requiredString(children, path, name);
}

/** An optional boolean child. */
export function optionalBoolean(
  children: Children,
  path: string,
  name: string,
): boolean | undefined {
  const value = optionalChild(children, path, name);
  if (value === undefined || typeof value === 'boolean') return value;
  throw new FieldError(`${path}.${name} must be true or false (got ${describe(value)})`);
}
