/**
 * Properties of the SHIP codec (SHIP §13.4.2 framing, SHIP §11 EEBUS-JSON), checked with
 * fast-check over about 25,000 generated cases in total:
 * - every valid message survives encode → decode unchanged;
 * - the encoding is what ship-go writes: minified, Go-escaped, exact type byte;
 * - decodeMessage never throws, whatever bytes arrive;
 * - EEBUS-JSON conversion is reversible for plain objects without arrays.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeMessage,
  encodeMessage,
  fromEebusJson,
  toEebusJson,
} from '../../src/ship/codec/index.js';
import type { ShipMessage } from '../../src/ship/messages.js';
import { arbShipBytes, arbShipMessage } from '../helpers/arbitraries.js';

const TYPE_OF_KIND: Record<ShipMessage['kind'], number> = {
  init: 0x00,
  connectionHello: 0x01,
  messageProtocolHandshake: 0x01,
  messageProtocolHandshakeError: 0x01,
  connectionPinState: 0x01,
  connectionPinInput: 0x01,
  connectionPinError: 0x01,
  accessMethodsRequest: 0x01,
  accessMethods: 0x01,
  data: 0x02,
  connectionClose: 0x03,
};

/** Go's json.Marshal escaping of the characters JSON.stringify leaves alone. */
function goEscape(json: string): string {
  return json.replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

describe('codec properties', () => {
  it('decode(encode(m)) deep-equals m for every valid message', () => {
    fc.assert(
      fc.property(arbShipMessage, (message) => {
        assert.deepEqual(decodeMessage(encodeMessage(message)), { ok: true, message });
      }),
      { numRuns: 6000 },
    );
  });

  it('encodes with the right type byte, minified, with Go escaping, stable on re-encoding', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    fc.assert(
      fc.property(arbShipMessage, (message) => {
        const bytes = encodeMessage(message);
        assert.equal(bytes[0], TYPE_OF_KIND[message.kind]);
        if (message.kind === 'init') return;
        const text = decoder.decode(bytes.subarray(1));
        // Go's json.Marshal escapes these; ship-go output never holds them raw.
        assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
        // Minified and in the order given: JSON.stringify of the parsed text, escaped like Go,
        // reproduces it exactly (SHIP §11.4; pitfall 3: ship-go v0.6 cannot read whitespace).
        assert.equal(goEscape(JSON.stringify(JSON.parse(text))), text);
        const again = decodeMessage(bytes);
        assert.ok(again.ok);
        assert.deepEqual(encodeMessage(again.message), bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('decodeMessage never throws on hostile bytes', () => {
    fc.assert(
      fc.property(arbShipBytes, fc.option(fc.nat(200), { nil: undefined }), (bytes, maxBytes) => {
        const result =
          maxBytes === undefined ? decodeMessage(bytes) : decodeMessage(bytes, { maxBytes });
        if (!result.ok) {
          assert.equal(typeof result.error.detail, 'string');
          // A peer fault is a decode error, never a crash disguised as one.
          assert.doesNotMatch(result.error.detail, /could not be decoded/);
        }
      }),
      { numRuns: 10000 },
    );
  });

  it('decodeMessage never throws on random bytes under a valid type byte', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.uint8Array({ maxLength: 128 }),
        (type, rest) => {
          const bytes = new Uint8Array(rest.length + 1);
          bytes[0] = type;
          bytes.set(rest, 1);
          decodeMessage(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('fromEebusJson(toEebusJson(o)) deep-equals o for plain objects without arrays', () => {
    const arbPrimitive = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.constant(null),
    );
    const { tree } = fc.letrec((tie) => ({
      tree: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(arbPrimitive, tie('tree')), {
        maxKeys: 4,
        depthIdentifier: 'tree',
        noNullPrototype: true,
      }),
    }));
    fc.assert(
      fc.property(tree, (plain) => {
        assert.deepEqual(fromEebusJson(toEebusJson(plain)), plain);
        // ... also through JSON text, which is how it travels.
        const doubles = JSON.stringify(plain);
        assert.deepEqual(
          fromEebusJson(JSON.parse(JSON.stringify(toEebusJson(plain)))),
          JSON.parse(doubles),
        );
      }),
      { numRuns: 3000 },
    );
  });
});
