/**
 * Fuzzing of the SHIP codec (SHIP §13.4.2 framing, decodeMessage/encodeMessage) and of the
 * generic EEBUS-JSON converters (SHIP §11, fromEebusJson/toEebusJson). Used by fuzz.test.ts and
 * run.ts; not a test file itself.
 *
 * Codec invariants, for hostile bytes (mutated ship-go recordings, mutated valid messages,
 * arbitrary JSON under every type byte, random bytes):
 * - decodeMessage never throws and never reaches its internal catch-all (a caught exception
 *   would mean a decoder bug hidden as "could not be decoded");
 * - an error has a known code and a detail string of bounded length;
 * - whatever decodes can be encoded again, and the encoding is a fixpoint:
 *   encode(decode(encode(m))) equals encode(m) byte for byte;
 * - the `maxBytes` limit holds: nothing longer decodes.
 *
 * EEBUS-JSON invariants, for arbitrary JSON (also with `__proto__`/`constructor` keys and
 * nesting far beyond the limit):
 * - fromEebusJson/toEebusJson never throw, except the documented RangeError for nesting deeper
 *   than maxDepth (and that is not a stack overflow);
 * - no prototype pollution: Object.prototype gains nothing, results have plain prototypes;
 * - the results are JSON values again (serialisable, no cycles);
 * - toEebusJson then fromEebusJson returns plain data to the same plain data (a fixpoint after
 *   one conversion, since EEBUS-JSON is ambiguous for raw input).
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import {
  EEBUS_JSON_DEFAULT_MAX_DEPTH,
  decodeMessage,
  encodeMessage,
  fromEebusJson,
  toEebusJson,
} from '../../src/ship/codec/index.js';
import type { DecodeErrorCode } from '../../src/ship/messages.js';
import { arbShipBytes, arbShipMessage } from '../helpers/arbitraries.js';
import type { FuzzFailure } from './sme-fuzz.js';
import { FuzzInvariantError, arbMutatedCorpus } from './sme-fuzz.js';

const ERROR_CODES: ReadonlySet<DecodeErrorCode> = new Set<DecodeErrorCode>([
  'tooShort',
  'unknownType',
  'invalidJson',
  'unknownMessage',
  'invalidField',
  'tooLarge',
]);

export interface CodecStats {
  codecInputs: number;
  decodedOk: number;
  eebusInputs: number;
  eebusTooDeep: number;
}

export function newCodecStats(): CodecStats {
  return { codecInputs: 0, decodedOk: 0, eebusInputs: 0, eebusTooDeep: 0 };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 64)).toString('hex') + (bytes.length > 64 ? '…' : '');
}

/** Checks one hostile input against the codec invariants; throws FuzzInvariantError. */
export function checkCodec(bytes: Uint8Array, maxBytes: number | undefined, stats: CodecStats) {
  stats.codecInputs += 1;
  const fail: (invariant: string, detail: string) => never = (invariant, detail) => {
    throw new FuzzInvariantError(invariant, `${detail} — input ${hex(bytes)}`);
  };
  let result: ReturnType<typeof decodeMessage>;
  try {
    result = maxBytes === undefined ? decodeMessage(bytes) : decodeMessage(bytes, { maxBytes });
  } catch (error: unknown) {
    return fail('decode never throws', String(error));
  }
  if (!result.ok) {
    if (!ERROR_CODES.has(result.error.code)) fail('decode errors', `code ${result.error.code}`);
    if (typeof result.error.detail !== 'string' || result.error.detail.length > 400) {
      fail('decode errors', `detail of ${result.error.detail.length} characters`);
    }
    if (result.error.detail.startsWith('the message could not be decoded')) {
      fail('no internal decoder exception', result.error.detail);
    }
    return;
  }
  stats.decodedOk += 1;
  if (maxBytes !== undefined && bytes.length > maxBytes) {
    fail('maxBytes holds', `${bytes.length} bytes decoded with maxBytes ${maxBytes}`);
  }
  let first: Uint8Array;
  try {
    first = encodeMessage(result.message);
  } catch (error: unknown) {
    return fail('what decodes encodes', `${String(error)} for ${JSON.stringify(result.message)}`);
  }
  const again = decodeMessage(first);
  if (!again.ok) {
    return fail('re-encoding decodes', `${again.error.detail} for ${hex(first)}`);
  }
  const second = encodeMessage(again.message);
  if (!same(first, second)) {
    fail('encoding is a fixpoint', `${hex(first)} then ${hex(second)}`);
  }
}

/** Hostile JSON for the EEBUS-JSON converters. */
const arbHostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 5 }) },
  {
    weight: 2,
    // EEBUS-shaped: arrays of single-key objects, with duplicate and dangerous keys
    arbitrary: fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constant(null), fc.boolean()),
        fc.array(
          fc
            .tuple(
              fc.constantFrom('a', 'b', 'cmd', 'datagram', '__proto__', 'constructor', '0', 'x'),
              tie('node'),
            )
            .map(
              ([key, value]) =>
                JSON.parse(
                  `{${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}}`,
                ) as unknown,
            ),
          { maxLength: 4 },
        ),
        fc.array(tie('node'), { maxLength: 3 }),
      ),
    })).node,
  },
  {
    weight: 1,
    // nesting around and beyond the depth limit
    arbitrary: fc
      .tuple(
        fc.integer({
          min: EEBUS_JSON_DEFAULT_MAX_DEPTH - 3,
          max: EEBUS_JSON_DEFAULT_MAX_DEPTH * 40,
        }),
        fc.constantFrom('[', '[{"a":'),
      )
      .map(([depth, open]) => {
        const close = open === '[' ? ']' : '}]';
        return JSON.parse(open.repeat(depth) + '1' + close.repeat(depth)) as unknown;
      }),
  },
);

function isPlainJson(value: unknown, depth = 0): boolean {
  if (depth > 100_000) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isPlainJson(v, depth + 1));
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.keys(value).every((k) =>
    isPlainJson((value as Record<string, unknown>)[k], depth + 1),
  );
}

/** Checks one hostile JSON value against the EEBUS-JSON invariants. */
export function checkEebusJson(value: unknown, stats: CodecStats): void {
  stats.eebusInputs += 1;
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).length;
  const fail: (invariant: string, detail: string) => never = (invariant, detail) => {
    throw new FuzzInvariantError(
      invariant,
      `${detail} — input ${JSON.stringify(value)?.slice(0, 200)}`,
    );
  };
  const guarded = (
    what: string,
    fn: () => unknown,
  ): { ok: true; value: unknown } | { ok: false } => {
    try {
      return { ok: true, value: fn() };
    } catch (error: unknown) {
      if (error instanceof RangeError && /nested deeper than/.test(error.message)) {
        stats.eebusTooDeep += 1;
        return { ok: false };
      }
      return fail('eebus-json never throws', `${what}: ${String(error)}`);
    }
  };
  const plain = guarded('fromEebusJson', () => fromEebusJson(value));
  if (Object.getOwnPropertyNames(Object.prototype).length !== protoKeys) {
    fail('no prototype pollution', 'Object.prototype gained a property');
  }
  if (({} as Record<string, unknown>).a !== undefined) fail('no prototype pollution', '({}).a');
  if (!plain.ok) return;
  if (!isPlainJson(plain.value)) fail('results are JSON', 'fromEebusJson result is not plain JSON');
  const eebus = guarded('toEebusJson', () => toEebusJson(plain.value));
  if (!eebus.ok) return;
  if (!isPlainJson(eebus.value)) fail('results are JSON', 'toEebusJson result is not plain JSON');
  const back = guarded('fromEebusJson(toEebusJson())', () => fromEebusJson(eebus.value));
  if (!back.ok) return;
  // `[]` and `{}` both mean "empty" in EEBUS-JSON; compare modulo that one documented ambiguity.
  if (!isDeepStrictEqual(normaliseEmpty(back.value), normaliseEmpty(plain.value))) {
    fail(
      'plain data survives a round trip',
      `${JSON.stringify(plain.value)?.slice(0, 200)} came back as ${JSON.stringify(back.value)?.slice(0, 200)}`,
    );
  }
}

function normaliseEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? {} : value.map(normaliseEmpty);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: normaliseEmpty((value as Record<string, unknown>)[key]),
        enumerable: true,
      });
    }
    return out;
  }
  return value;
}

const arbCodecInput: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: arbMutatedCorpus },
  { weight: 3, arbitrary: arbShipBytes },
  { weight: 1, arbitrary: arbShipMessage.map((m) => encodeMessage(m)) },
);

export interface CodecFuzzOptions {
  readonly seed: number;
  readonly codecRuns: number;
  readonly eebusRuns: number;
  readonly stats: CodecStats;
}

/** Runs both codec fuzzers; returns the failures. */
export function fuzzCodec(options: CodecFuzzOptions): FuzzFailure[] {
  const failures: FuzzFailure[] = [];
  const record = <T>(target: string, seed: number, details: fc.RunDetails<T>) => {
    if (!details.failed) return;
    failures.push({
      target,
      seed,
      path: details.counterexamplePath ?? undefined,
      message:
        details.errorInstance instanceof Error
          ? details.errorInstance.message
          : String(details.errorInstance),
    });
  };
  const codecSeed = options.seed ^ 0x5eed;
  record(
    'codec decodeMessage/encodeMessage',
    codecSeed,
    fc.check(
      fc.property(
        arbCodecInput,
        fc.option(fc.integer({ min: 0, max: 512 }), { nil: undefined, freq: 3 }),
        (bytes, maxBytes) => checkCodec(bytes, maxBytes, options.stats),
      ),
      { seed: codecSeed, numRuns: options.codecRuns },
    ),
  );
  const eebusSeed = options.seed ^ 0xeeb5;
  record(
    'eebus-json fromEebusJson/toEebusJson',
    eebusSeed,
    fc.check(
      fc.property(arbHostileJson, (value) => checkEebusJson(value, options.stats)),
      { seed: eebusSeed, numRuns: options.eebusRuns },
    ),
  );
  return failures;
}
