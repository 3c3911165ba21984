/**
 * Properties of the SPINE datagram codec (spine-protocol.md §1, §2.1, §3.1), with fast-check:
 * - every valid datagram model survives encode → decode unchanged, in EEBUS-JSON, plain JSON and
 *   as text (64-bit counters included);
 * - decodeDatagram and decodeDatagramText never throw, whatever arrives.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeDatagram,
  decodeDatagramText,
  encodeDatagram,
  encodeDatagramText,
} from '../../src/spine/codec/datagram.js';
import { stringifyJson } from '../../src/spine/codec/json-lossless.js';
import {
  CMD_CLASSIFIERS,
  MSG_COUNTER_MAX,
  type SpineCmd,
  type SpineDatagram,
  type SpineFilter,
  type SpineHeader,
} from '../../src/spine/model/datagram.js';
import type { FeatureAddress } from '../../src/spine/model/address.js';

/** Optional property: present with a value, or absent (never `undefined`). */
function optional<T>(key: string, arb: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> {
  return fc.option(arb, { nil: undefined }).map((v) => (v === undefined ? {} : { [key]: v }));
}

const arbName = fc.stringMatching(/^[a-z][a-zA-Z]{0,12}$/);
const arbUint = fc.nat({ max: 0xffff_ffff });

const arbAddress: fc.Arbitrary<FeatureAddress> = fc
  .tuple(
    optional('device', fc.string({ maxLength: 30 })),
    optional('entity', fc.array(fc.nat({ max: 20 }), { minLength: 1, maxLength: 4 })),
    optional('feature', arbUint),
  )
  .map(([a, b, c]) => ({ ...a, ...b, ...c }));

const arbCounter = fc.oneof(
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: 0n, max: MSG_COUNTER_MAX }),
);

const arbHeader: fc.Arbitrary<SpineHeader> = fc
  .tuple(
    optional('specificationVersion', fc.constantFrom('1.3.0', '1.1.1', '1.0.0 draft3')),
    arbAddress,
    arbAddress,
    optional('addressOriginator', arbAddress),
    arbCounter,
    optional('msgCounterReference', arbCounter),
    fc.constantFrom(...CMD_CLASSIFIERS),
    optional('ackRequest', fc.boolean()),
    optional('timestamp', fc.string({ maxLength: 20 })),
  )
  .map(([version, source, destination, originator, counter, reference, classifier, ack, ts]) => ({
    ...version,
    addressSource: source,
    addressDestination: destination,
    ...originator,
    msgCounter: counter,
    ...reference,
    cmdClassifier: classifier,
    ...ack,
    ...ts,
  }));

/**
 * Plain function data that EEBUS-JSON can carry unambiguously: objects with non-numeric keys,
 * non-empty lists of scalars or of objects (an empty list is `[]` = an empty element; §1).
 */
const arbData: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  object: fc.dictionary(arbName, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 10 }),
    fc.integer(),
    fc.boolean(),
    fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .filter((d) => !Object.is(d, -0) && (!Number.isInteger(d) || Number.isSafeInteger(d))),
    tie('object'),
    fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
    fc.array(tie('object'), { minLength: 1, maxLength: 3 }),
  ),
})).object;

const arbFilter: fc.Arbitrary<SpineFilter> = fc
  .tuple(
    fc.constantFrom('delete' as const, 'partial' as const),
    optional('filterId', arbUint),
    optional(
      'selectors',
      fc.record(
        { name: arbName.map((n) => `${n}Selectors`), value: arbData },
        { noNullPrototype: true },
      ),
    ),
    optional(
      'elements',
      fc.record(
        { name: arbName.map((n) => `${n}Elements`), value: arbData },
        { noNullPrototype: true },
      ),
    ),
  )
  .map(([cmdControl, id, selectors, elements]) => ({
    cmdControl,
    ...id,
    ...selectors,
    ...elements,
  }));

const RESERVED = new Set(['function', 'filter', 'manufacturerSpecificExtension', 'lastUpdateAt']);
const arbFunctionName = arbName.map((n) => `${n}Data`).filter((n) => !RESERVED.has(n));

const arbCmd: fc.Arbitrary<SpineCmd> = fc
  .tuple(
    fc.option(fc.record({ name: arbFunctionName, value: arbData }, { noNullPrototype: true }), {
      nil: undefined,
    }),
    fc.constantFrom('none', 'same', 'empty'),
    optional('filter', fc.array(arbFilter, { minLength: 1, maxLength: 2 })),
    optional('manufacturerSpecificExtension', fc.string({ maxLength: 8 })),
    optional('lastUpdateAt', fc.string({ maxLength: 8 })),
    fc.dictionary(
      arbName.map((n) => `${n}Future`),
      arbData,
      { maxKeys: 2, noNullPrototype: true },
    ),
  )
  .map(([data, fn, filter, mse, last, unknown]) => {
    const cmd: SpineCmd = { ...filter, ...mse, ...last };
    if (data !== undefined) {
      cmd.data = data;
      if (fn === 'same') cmd.function = data.name;
      if (Object.keys(unknown).length > 0) cmd.unknown = unknown;
    }
    if (fn === 'empty') cmd.function = '';
    return cmd;
  });

const arbDatagram: fc.Arbitrary<SpineDatagram> = fc
  .tuple(arbHeader, fc.array(arbCmd, { minLength: 1, maxLength: 3 }))
  .map(([header, cmd]) => ({ header, payload: { cmd } }));

describe('SPINE datagram codec properties', () => {
  it('decode(encode(d)) deep-equals d in EEBUS-JSON, plain JSON and as text', () => {
    fc.assert(
      fc.property(arbDatagram, (datagram) => {
        const text = encodeDatagramText(datagram);
        assert.deepEqual(decodeDatagramText(text), { ok: true, datagram });
        // JSON.stringify cannot write bigint: use the lossless writer for the value forms.
        const eebus = decodeDatagramText(stringifyJson(encodeDatagram(datagram, 'eebus')));
        assert.deepEqual(eebus, { ok: true, datagram });
        assert.deepEqual(decodeDatagram(encodeDatagram(datagram, 'plain')), { ok: true, datagram });
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeDatagram never throws on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 6 }), (value) => {
        decodeDatagram(value);
        decodeDatagram({ datagram: value });
        decodeDatagram({ datagram: { header: value, payload: value } });
      }),
      { numRuns: 3000 },
    );
  });

  it('decodeDatagramText never throws on arbitrary or damaged text', () => {
    fc.assert(
      fc.property(
        arbDatagram,
        fc.nat(),
        fc.nat(),
        fc.string({ maxLength: 4 }),
        (datagram, at, cut, insert) => {
          const text = encodeDatagramText(datagram);
          const i = at % (text.length + 1);
          decodeDatagramText(text.slice(0, i) + insert + text.slice(i + (cut % 5)));
        },
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        decodeDatagramText(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('damaged structure gives a typed error, never an exception', () => {
    fc.assert(
      fc.property(arbDatagram, fc.jsonValue(), fc.nat(), (datagram, junk, pick) => {
        const plain = encodeDatagram(datagram, 'plain') as {
          datagram: { header: Record<string, unknown>; payload: { cmd: unknown[] } };
        };
        const keys = Object.keys(plain.datagram.header);
        plain.datagram.header[keys[pick % keys.length]!] = junk;
        const result = decodeDatagram(plain);
        if (!result.ok) assert.equal(typeof result.error.detail, 'string');
      }),
      { numRuns: 2000 },
    );
  });
});
