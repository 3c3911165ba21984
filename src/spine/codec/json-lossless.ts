/**
 * JSON text ⇄ value without losing 64-bit integers (spine-protocol.md §1 "TypeScript caveat").
 *
 * SPINE's `msgCounter`, `msgCounterReference` and `heartbeatCounter` are uint64 and
 * `ScaledNumber.number` is int64 (SPINE_PS 5.2.3; spine-go model types). `JSON.parse` rounds every
 * integer beyond 2^53−1 to the nearest double without a word, so a reply to a read with
 * `msgCounter: 18446744073709551615` would carry a different `msgCounterReference`
 * (conformance checklist item 8). This parser returns such integers as `bigint`; every other value
 * is exactly what `JSON.parse` returns. {@link stringifyJson} writes `bigint` back as bare digits.
 *
 * Hostile input: the parser never throws for bad text (it returns a result), bounds the nesting
 * depth (so no stack overflow) and defines `__proto__` keys as own properties (no prototype
 * pollution). Size limits are the caller's business (check `text.length` before parsing).
 */

/** Nesting depth beyond which {@link parseJsonLossless} refuses the text. */
export const LOSSLESS_JSON_DEFAULT_MAX_DEPTH = 128;

/** Outcome of {@link parseJsonLossless}. */
export type LosslessParseResult =
  | { ok: true; value: unknown }
  | { ok: false; reason: 'syntax' | 'tooDeep'; offset: number; detail: string };

class ParseStop extends Error {
  constructor(
    readonly reason: 'syntax' | 'tooDeep',
    readonly offset: number,
    detail: string,
  ) {
    super(detail);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const INTEGER = /^-?\d+$/;

/** Defines an own property, so a key `__proto__` stays data (no prototype pollution). */
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

/**
 * Parses one JSON text. Integers outside ±(2^53−1) become `bigint`, everything else is what
 * `JSON.parse` would give. Leading/trailing whitespace is allowed, nothing else around the value.
 */
export function parseJsonLossless(
  text: string,
  maxDepth: number = LOSSLESS_JSON_DEFAULT_MAX_DEPTH,
): LosslessParseResult {
  let i = 0;
  const n = text.length;
  const fail = (detail: string, at = i): never => {
    throw new ParseStop('syntax', at, detail);
  };
  const skipSpace = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      i++;
    }
  };
  const readString = (): string => {
    const start = i;
    i++;
    let simple = true;
    for (;;) {
      if (i >= n) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail('control character inside a string');
      if (c === 0x5c) {
        simple = false;
        i += text[i + 1] === 'u' ? 6 : 2;
        continue;
      }
      i++;
    }
    i++;
    if (simple) return text.slice(start + 1, i - 1);
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('invalid escape in a string', start);
    }
  };
  const readNumber = (): number | bigint => {
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match === null) return fail('invalid number');
    const literal = match[0];
    i += literal.length;
    const value = Number(literal);
    if (!Number.isSafeInteger(value) && INTEGER.test(literal)) return BigInt(literal);
    return value;
  };
  const readValue = (depth: number): unknown => {
    skipSpace();
    if (i >= n) return fail('unexpected end of text');
    const c = text[i];
    if (c === '{' || c === '[') {
      if (depth >= maxDepth) throw new ParseStop('tooDeep', i, `nested deeper than ${maxDepth}`);
      i++;
      skipSpace();
      if (c === '[') {
        const list: unknown[] = [];
        if (text[i] === ']') {
          i++;
          return list;
        }
        for (;;) {
          list.push(readValue(depth + 1));
          skipSpace();
          if (text[i] === ',') {
            i++;
            continue;
          }
          if (text[i] === ']') {
            i++;
            return list;
          }
          return fail("expected ',' or ']'");
        }
      }
      const object: Record<string, unknown> = {};
      if (text[i] === '}') {
        i++;
        return object;
      }
      for (;;) {
        skipSpace();
        if (text[i] !== '"') return fail('expected a property name');
        const key = readString();
        skipSpace();
        if (text[i] !== ':') return fail("expected ':'");
        i++;
        setOwn(object, key, readValue(depth + 1));
        skipSpace();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return object;
        }
        return fail("expected ',' or '}'");
      }
    }
    if (c === '"') return readString();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return readNumber();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    return fail('unexpected character');
  };
  try {
    const value = readValue(0);
    skipSpace();
    if (i < n) fail('text after the JSON value');
    return { ok: true, value };
  } catch (error) {
    if (error instanceof ParseStop) {
      return { ok: false, reason: error.reason, offset: error.offset, detail: error.message };
    }
    // A RangeError from the engine (stack) cannot happen within maxDepth; anything else is ours.
    throw error;
  }
}

/**
 * `JSON.stringify` (minified) that writes `bigint` as bare digits, so the 64-bit values read by
 * {@link parseJsonLossless} go back on the wire unchanged. Like `JSON.stringify`, it omits
 * `undefined` (and function) properties, writes them as `null` inside arrays, and writes
 * non-finite numbers as `null`. Recursive: callers bound the depth (decoded datagrams are).
 */
export function stringifyJson(value: unknown): string {
  return write(value) ?? 'null';
}

/** Minified JSON of one value; `undefined` for what JSON.stringify omits (spine-protocol.md §1). */
function write(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((item: unknown) => write(item) ?? 'null').join(',')}]`;
      }
      const parts: string[] = [];
      for (const key of Object.keys(value)) {
        const text = write((value as Record<string, unknown>)[key]);
        if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
      }
      return `{${parts.join(',')}}`;
    }
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
}
