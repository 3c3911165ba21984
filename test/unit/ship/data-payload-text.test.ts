/**
 * The raw-text path of SHIP data messages (SHIP §13.4.5) that SPINE needs for its uint64
 * counters (spine-protocol.md §1): a payload sent as JSON text (RawJsonPayload) and the payload
 * text cut out of a received message (dataMessagePayloadText), both without re-serialising.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RawJsonPayload, dataPayloadText } from '../../../src/ship/codec/data.js';
import {
  dataMessagePayloadText,
  decodeMessage,
  encodeMessage,
} from '../../../src/ship/codec/frame.js';

const encoder = new TextEncoder();

function shipBytes(typeByte: number, json: string): Uint8Array {
  const body = encoder.encode(json);
  const bytes = new Uint8Array(body.length + 1);
  bytes[0] = typeByte;
  bytes.set(body, 1);
  return bytes;
}

describe('SHIP data payload text', () => {
  const cases: Array<[string, string, string | undefined]> = [
    [
      'wire form',
      '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":{"datagram":[{"msgCounter":18446744073709551615}]}}]}',
      '{"datagram":[{"msgCounter":18446744073709551615}]}',
    ],
    [
      'plain-object form with whitespace',
      ' { "data" : { "header" : { "protocolId" : "ee1.0" } , "payload" : [ 1 , 2 ] } } ',
      '[ 1 , 2 ]',
    ],
    [
      'extension after the payload, strings with brackets and escaped quotes',
      '{"data":[{"header":[{"protocolId":"x"}]},{"payload":{"a":"}]\\"{[","payload":1}},{"extension":[{"string":"s"}]}]}',
      '{"a":"}]\\"{[","payload":1}',
    ],
    ['a scalar payload', '{"data":[{"header":[{"protocolId":"x"}]},{"payload":12.5e3}]}', '12.5e3'],
    ['null payload', '{"data":[{"header":[{"protocolId":"x"}]},{"payload":null}]}', 'null'],
    ['payload first', '{"data":[{"payload":"p"},{"header":[{"protocolId":"x"}]}]}', '"p"'],
    ['no payload', '{"data":[{"header":[{"protocolId":"x"}]}]}', undefined],
    ['not data', '{"connectionClose":[{"phase":"announce"}]}', undefined],
  ];
  for (const [name, json, expected] of cases) {
    it(`cuts out the payload text: ${name}`, () => {
      assert.equal(dataPayloadText(json), expected);
    });
  }

  it('reads it from message bytes: data only, trailing 0x00 trimmed (pitfall 2)', () => {
    const json = '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":{"n":1}}]}';
    const bytes = new Uint8Array([...shipBytes(0x02, json), 0, 0]);
    assert.equal(dataMessagePayloadText(bytes), '{"n":1}');
    assert.equal(dataMessagePayloadText(shipBytes(0x01, json)), undefined);
    assert.equal(dataMessagePayloadText(new Uint8Array([0x02])), undefined);
    assert.equal(dataMessagePayloadText(new Uint8Array([0x02, 0xff, 0xfe])), undefined);
  });

  it('sends a RawJsonPayload as it is (exact 64-bit numbers, Go escaping), read back exactly', () => {
    const text = '{"datagram":[{"msgCounter":18446744073709551615},{"t":"a<b"}]}';
    const bytes = encodeMessage({
      kind: 'data',
      value: { protocolId: 'ee1.0', payload: new RawJsonPayload(text) },
    });
    const escaped = text.replace('<', '\\u003c');
    assert.equal(dataMessagePayloadText(bytes), escaped);
    const decoded = decodeMessage(bytes);
    assert.ok(decoded.ok && decoded.message.kind === 'data');
    // The parsed value is what JSON.parse makes of it (the counter rounded): the text is exact.
    assert.deepEqual(decoded.message.value.payload, JSON.parse(text));
    assert.deepEqual(JSON.parse(JSON.stringify(new RawJsonPayload(text))), JSON.parse(text));
  });

  it('agrees with the decoded payload for any JSON payload (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (payload) => {
        const bytes = encodeMessage({ kind: 'data', value: { protocolId: 'ee1.0', payload } });
        const text = dataMessagePayloadText(bytes);
        assert.ok(text !== undefined);
        const decoded = decodeMessage(bytes);
        assert.ok(decoded.ok && decoded.message.kind === 'data');
        assert.deepEqual(JSON.parse(text), decoded.message.value.payload);
      }),
      { numRuns: 300 },
    );
  });
});
