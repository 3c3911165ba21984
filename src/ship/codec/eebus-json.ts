/**
 * Generic EEBUS-JSON conversion (SHIP §11; §11.4 and §11.5 are the normative rules).
 *
 * SHIP and SPINE are defined by XML schemas, and EEBUS-JSON keeps the schema's element order by
 * turning every complex element into an array of single-property objects:
 *
 * ```
 * plain:      {"a":{"x":1,"y":[{"z":2},{"z":3}]}}
 * EEBUS-JSON: [{"a":[{"x":1},{"y":[[{"z":2}],[{"z":3}]]}]}]
 * ```
 *
 * - a complex element becomes an array with one single-property object per child, in key order
 *   (SHIP §11.4: the sequence order of the XSD, which callers express as insertion order);
 * - a repeated element (maxOccurs > 1) is a JSON array of its occurrences, so repeated complex
 *   elements become arrays of arrays, repeated simple values stay a flat array (SHIP §11.4);
 * - an empty complex element becomes `[]` (SHIP §11.4.6 rule 4);
 * - simple values (strings, numbers, booleans, null) are unchanged (SHIP §11.4.2).
 *
 * **The way back is ambiguous**, because EEBUS-JSON carries no schema:
 * - `[]` is either an empty complex element or an empty list. {@link fromEebusJson} returns `{}`,
 *   as ship-go's decoder does (so an empty SPINE list arrives as `{}`); code that knows the
 *   schema must accept both.
 * - An array whose elements are all single-property objects is read as a sequence and merged into
 *   one object. A plain-JSON list of one-property objects (`[{"a":1},{"b":2}]`) therefore becomes
 *   `{"a":1,"b":2}`. EEBUS-JSON itself never produces such a list: repeated complex elements are
 *   arrays of arrays.
 * - If two elements of such an array share a key (`[{"a":1},{"a":2}]`) it is not a sequence of
 *   distinct children; the array is kept (with converted elements) so that nothing is lost.
 * - Plain objects are accepted as they are (SHIP §11 leniency that WWCP also applies, for peers
 *   that send ordinary JSON); their values are still converted.
 * - JavaScript orders integer-like object keys ("0", "1", ...) before other keys. EEBUS element
 *   names are never integer-like, so the order rule of SHIP §11.4 is not affected in practice.
 *
 * Both functions are recursive; they stop with a `RangeError` beyond `maxDepth` nesting levels
 * instead of overflowing the stack, so a caller feeding peer data must catch it (or bound the
 * message size, which bounds the depth).
 */
import { isJsonObject } from '../../util/json-value.js';

/** Nesting depth beyond which the converters give up (real SPINE datagrams stay below 20). */
export const EEBUS_JSON_DEFAULT_MAX_DEPTH = 512;

/** Options of {@link toEebusJson} and {@link fromEebusJson}. */
export interface EebusJsonOptions {
  /** Deepest nesting converted before a `RangeError`; default {@link EEBUS_JSON_DEFAULT_MAX_DEPTH}. */
  maxDepth?: number;
}

/**
 * Assigns an own property. A plain assignment of the key `__proto__` would replace the prototype
 * instead (prototype pollution from peer-controlled keys), so that one key is defined explicitly.
 */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

function tooDeep(maxDepth: number): RangeError {
  return new RangeError(`EEBUS-JSON nested deeper than ${maxDepth} levels`);
}

/**
 * Converts plain data into EEBUS-JSON (SHIP §11.4): every object becomes an array of
 * single-property objects in key order, `{}` becomes `[]`, arrays keep their elements (each
 * converted), primitives are returned unchanged. Properties whose value is `undefined` are
 * omitted, because absent optional elements are left out rather than sent as `null` (SHIP §11.4).
 *
 * The root is converted like any other object: for a SHIP message root (`{"connectionHello":[…]}`,
 * which stays an object) convert the root's value and wrap it yourself.
 *
 * @throws RangeError if the value is nested deeper than `options.maxDepth` (also catches cycles).
 */
export function toEebusJson(plain: unknown, options?: EebusJsonOptions): unknown {
  return toEebus(plain, 0, options?.maxDepth ?? EEBUS_JSON_DEFAULT_MAX_DEPTH);
}

function toEebus(value: unknown, depth: number, maxDepth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= maxDepth) throw tooDeep(maxDepth);
  if (Array.isArray(value)) {
    // A repeated element stays a list of its occurrences (SHIP §11.4); complex occurrences turn
    // into arrays themselves, which gives the arrays of arrays of `"cmd":[[…]]`.
    return value.map((item: unknown) => toEebus(item, depth + 1, maxDepth));
  }
  const sequence: Array<Record<string, unknown>> = [];
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (child === undefined) continue;
    // A computed key defines an own property even for "__proto__".
    sequence.push({ [key]: toEebus(child, depth + 1, maxDepth) });
  }
  return sequence;
}

/**
 * The lenient inverse of {@link toEebusJson} (SHIP §11.5): an array whose every element is a
 * single-property object (with distinct keys) becomes one object, `[]` becomes `{}`, other arrays
 * keep their (converted) elements, plain objects are accepted as they are with converted values,
 * primitives are returned unchanged. See the module comment for the ambiguities.
 *
 * @throws RangeError if the value is nested deeper than `options.maxDepth`.
 */
export function fromEebusJson(value: unknown, options?: EebusJsonOptions): unknown {
  return fromEebus(value, 0, options?.maxDepth ?? EEBUS_JSON_DEFAULT_MAX_DEPTH);
}

function fromEebus(value: unknown, depth: number, maxDepth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= maxDepth) throw tooDeep(maxDepth);
  if (Array.isArray(value)) {
    // `[]` is read as an empty complex element, as ship-go does (SHIP §11.4.6 rule 4).
    if (value.length === 0) return {};
    const merged = mergeSequence(value, depth, maxDepth);
    if (merged !== undefined) return merged;
    return value.map((item: unknown) => fromEebus(item, depth + 1, maxDepth));
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    setOwn(out, key, fromEebus((value as Record<string, unknown>)[key], depth + 1, maxDepth));
  }
  return out;
}

/** The object a sequence of single-property objects stands for, or undefined if it is none. */
function mergeSequence(
  items: readonly unknown[],
  depth: number,
  maxDepth: number,
): Record<string, unknown> | undefined {
  // First pass only checks, so that a list which turns out not to be a sequence costs no
  // converted children that would be thrown away.
  const seen = new Set<string>();
  for (const item of items) {
    if (!isJsonObject(item)) return undefined;
    const keys = Object.keys(item);
    if (keys.length !== 1) return undefined;
    const key = keys[0] as string;
    if (seen.has(key)) return undefined;
    seen.add(key);
  }
  const out: Record<string, unknown> = {};
  for (const item of items as ReadonlyArray<Record<string, unknown>>) {
    const key = Object.keys(item)[0] as string;
    // item[key] is an own data property (checked above), so the lookup cannot reach a prototype.
    setOwn(out, key, fromEebus(item[key], depth + 2, maxDepth));
  }
  return out;
}
