/**
 * Table tests of the SHIP codec: what it tolerates from real peers and what it refuses, with the
 * DecodeError code (protocol reference §14, checklist items 19-26; SHIP §13.4.2 framing).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMessage,
  encodeMessage,
  fromEebusJson,
  toEebusJson,
} from '../../../src/ship/codec/index.js';
import type { DecodeErrorCode, ShipMessage } from '../../../src/ship/messages.js';
import { fromHex, shipBytes } from '../../helpers/vectors.js';

const utf8 = new TextEncoder();

function withTail(bytes: Uint8Array, ...tail: number[]): Uint8Array {
  const out = new Uint8Array(bytes.length + tail.length);
  out.set(bytes);
  out.set(tail, bytes.length);
  return out;
}

const READY: ShipMessage = { kind: 'connectionHello', value: { phase: 'ready', waiting: 60000 } };

/** Inputs real peers send that must decode to the given message. */
const TOLERATED: Array<[name: string, input: Uint8Array, expected: ShipMessage]> = [
  [
    'pretty-printed JSON with spaces, tabs, CR and LF (checklist 22, TC_SHIP_MSG_003)',
    shipBytes(
      0x01,
      '{\r\n\t"connectionHello" : [\r\n\t\t{ "phase" : "ready" } ,\n\t\t{ "waiting" : 60000 }\r\n\t]\r\n}\n',
    ),
    READY,
  ],
  [
    'JSON followed by 00 00 (checklist 23, Porsche PMCC)',
    withTail(shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}'), 0, 0),
    READY,
  ],
  [
    'a UTF-8 BOM before the JSON',
    withTail(
      Uint8Array.of(0x01, 0xef, 0xbb, 0xbf),
      ...utf8.encode('{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}'),
    ),
    READY,
  ],
  [
    'plain-object JSON where arrays are expected',
    shipBytes(0x01, '{"connectionHello":{"phase":"ready","waiting":60000}}'),
    READY,
  ],
  [
    'a mix of both, several properties in one array element',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready","waiting":60000}]}'),
    READY,
  ],
  [
    'unknown extra child elements are ignored',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"waiting":60000},{"vendorX":[1,2]}]}'),
    READY,
  ],
  [
    'null for an optional child means absent',
    shipBytes(
      0x01,
      '{"connectionHello":[{"phase":"ready"},{"waiting":60000},{"prolongationRequest":null}]}',
    ),
    READY,
  ],
  [
    "ship-go's protocol handshake error without root (pitfall 8)",
    shipBytes(0x01, '{"error":3}'),
    { kind: 'messageProtocolHandshakeError', value: { error: 3 } },
  ],
  [
    'the XSD protocol handshake error',
    shipBytes(0x01, '{"messageProtocolHandshakeError":[{"error":3}]}'),
    { kind: 'messageProtocolHandshakeError', value: { error: 3 } },
  ],
  [
    'accessMethods.dns as a plain string (SMA, pitfall 7)',
    shipBytes(0x01, '{"accessMethods":[{"id":"SMA1"},{"dns":"wss://sma:4712/ship/"}]}'),
    { kind: 'accessMethods', value: { id: 'SMA1', dnsUri: 'wss://sma:4712/ship/' } },
  ],
  [
    'accessMethods with plain objects',
    shipBytes(0x01, '{"accessMethods":{"id":"X","dnsSd_mDns":{},"dns":{"uri":"wss://x/"}}}'),
    { kind: 'accessMethods', value: { id: 'X', dnsSdMdns: true, dnsUri: 'wss://x/' } },
  ],
  [
    'free-text connectionClose reason (ship-go v0.6, pitfall 9)',
    shipBytes(
      0x03,
      '{"connectionClose":[{"phase":"announce"},{"maxTime":500},{"reason":"User close"}]}',
    ),
    { kind: 'connectionClose', value: { phase: 'announce', maxTime: 500, reason: 'User close' } },
  ],
  [
    'connectionClose with message type 0x01 (ship-go accepts it in any type)',
    shipBytes(0x01, '{"connectionClose":[{"phase":"confirm"}]}'),
    { kind: 'connectionClose', value: { phase: 'confirm' } },
  ],
  [
    'formats written as separate occurrences or a single string',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":{"handshakeType":"select","version":{"major":1,"minor":0},"formats":[{"format":"JSON-UTF8"},{"format":["JSON-UTF16"]}]}}',
    ),
    {
      kind: 'messageProtocolHandshake',
      value: {
        handshakeType: 'select',
        version: { major: 1, minor: 0 },
        formats: ['JSON-UTF8', 'JSON-UTF16'],
      },
    },
  ],
  [
    'accessMethodsRequest as an empty object',
    shipBytes(0x01, '{"accessMethodsRequest":{}}'),
    { kind: 'accessMethodsRequest' },
  ],
  [
    'data payload kept as the raw JSON value, plain-object header',
    shipBytes(0x02, '{"data":{"header":{"protocolId":"ee1.0"},"payload":{"datagram":[{"x":[]}]}}}'),
    { kind: 'data', value: { protocolId: 'ee1.0', payload: { datagram: [{ x: [] }] } } },
  ],
  [
    'data with extension',
    shipBytes(
      0x02,
      '{"data":[{"header":[{"protocolId":"other"}]},{"payload":null},{"extension":[{"extensionId":"e"},{"binary":"0aFF"},{"string":"s"}]}]}',
    ),
    {
      kind: 'data',
      value: {
        protocolId: 'other',
        payload: null,
        extension: { extensionId: 'e', binary: '0aFF', string: 's' },
      },
    },
  ],
  [
    "data extension binary as ship-go's single byte",
    shipBytes(
      0x02,
      '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":{}},{"extension":[{"binary":10}]}]}',
    ),
    { kind: 'data', value: { protocolId: 'ee1.0', payload: {}, extension: { binary: '0a' } } },
  ],
  ['CMI 00 00 (checklist 19)', fromHex('0000'), { kind: 'init', cmiHead: 0 }],
  [
    'CMI with extra bytes, like ship-go (pitfall 25)',
    fromHex('000000ff'),
    { kind: 'init', cmiHead: 0 },
  ],
  ['CMI with another head: the handshake decides', fromHex('0001'), { kind: 'init', cmiHead: 1 }],
];

/** Inputs that must be refused, with the DecodeError code (and root element, if any). */
const REFUSED: Array<
  [name: string, input: Uint8Array, code: DecodeErrorCode, element?: string, detail?: RegExp]
> = [
  ['empty message', new Uint8Array(0), 'tooShort'],
  ['one-byte message 02 (checklist 20, SHIP-TS-MSG-01)', fromHex('02'), 'tooShort'],
  ['unknown type FF 00 (checklist 21, SHIP-TS-MSG-02)', fromHex('ff00'), 'unknownType'],
  ['unknown type 04', shipBytes(0x04, '{"connectionHello":[{"phase":"ready"}]}'), 'unknownType'],
  ['only NUL bytes after the type', fromHex('010000'), 'invalidJson'],
  ['invalid UTF-8', fromHex('01c3287b7d'), 'invalidJson'],
  ['not JSON', shipBytes(0x01, '{"connectionHello":'), 'invalidJson'],
  ['JSON that is not an object', shipBytes(0x01, '[1,2]'), 'unknownMessage'],
  ['an empty object', shipBytes(0x01, '{}'), 'unknownMessage'],
  ['unknown root element', shipBytes(0x01, '{"hello":[]}'), 'unknownMessage', 'hello'],
  [
    'prototype names are no root elements',
    shipBytes(0x01, '{"constructor":[]}'),
    'unknownMessage',
    'constructor',
  ],
  [
    'data in a control message',
    shipBytes(0x01, '{"data":[]}'),
    'unknownMessage',
    'data',
    /control/,
  ],
  [
    'control element in a data message',
    shipBytes(0x02, '{"connectionHello":[{"phase":"ready"}]}'),
    'unknownMessage',
    'connectionHello',
  ],
  [
    'control element in an end message',
    shipBytes(0x03, '{"accessMethodsRequest":[]}'),
    'unknownMessage',
    'accessMethodsRequest',
  ],
  [
    'root-less error outside control messages',
    shipBytes(0x03, '{"error":3}'),
    'unknownMessage',
    'error',
  ],
  [
    'two root elements',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"}],"accessMethodsRequest":[]}'),
    'unknownMessage',
    'connectionHello',
  ],
  [
    'hello phase not in the enumeration',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ok"}]}'),
    'invalidField',
    'connectionHello',
    /connectionHello\.phase must be one of pending, ready, aborted \(got "ok"\)/,
  ],
  [
    'hello without phase',
    shipBytes(0x01, '{"connectionHello":[{"waiting":60000}]}'),
    'invalidField',
    'connectionHello',
    /phase is missing/,
  ],
  [
    'hello value not an element',
    shipBytes(0x01, '{"connectionHello":"ready"}'),
    'invalidField',
    'connectionHello',
  ],
  [
    'hello array of non-objects',
    shipBytes(0x01, '{"connectionHello":["ready"]}'),
    'invalidField',
    'connectionHello',
  ],
  [
    'waiting negative',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"waiting":-1}]}'),
    'invalidField',
    'connectionHello',
    /waiting must be an integer/,
  ],
  [
    'waiting fractional',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"waiting":1.5}]}'),
    'invalidField',
    'connectionHello',
  ],
  [
    'waiting as a string',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"waiting":"60000"}]}'),
    'invalidField',
    'connectionHello',
  ],
  [
    'waiting above xs:unsignedInt',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"waiting":4294967296}]}'),
    'invalidField',
    'connectionHello',
  ],
  [
    'phase given twice',
    shipBytes(0x01, '{"connectionHello":[{"phase":"ready"},{"phase":"pending"}]}'),
    'invalidField',
    'connectionHello',
    /appears 2 times/,
  ],
  [
    'prolongationRequest not a boolean',
    shipBytes(0x01, '{"connectionHello":[{"phase":"pending"},{"prolongationRequest":"true"}]}'),
    'invalidField',
    'connectionHello',
  ],
  [
    'version major above 65535',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":65536},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
    /version\.major/,
  ],
  [
    'version minor missing',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
    /version\.minor is missing/,
  ],
  [
    'handshakeType unknown',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"offer"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
  ],
  [
    'formats empty',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":[]}]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
    /at least one format/,
  ],
  [
    'formats without a format',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
    /at least one format/,
  ],
  [
    'a long bad value is shortened in the detail',
    shipBytes(0x01, `{"connectionHello":[{"phase":"${'p'.repeat(500)}"}]}`),
    'invalidField',
    'connectionHello',
    /\(got "p{40}…"\)$/,
  ],
  [
    'formats not strings',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":[1]}]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
  ],
  [
    'format neither string nor list',
    shipBytes(
      0x01,
      '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":{}}]}]}',
    ),
    'invalidField',
    'messageProtocolHandshake',
  ],
  [
    'handshake error above xs:unsignedByte',
    shipBytes(0x01, '{"error":256}'),
    'invalidField',
    'messageProtocolHandshakeError',
  ],
  [
    'pinState unknown',
    shipBytes(0x01, '{"connectionPinState":[{"pinState":"maybe"}]}'),
    'invalidField',
    'connectionPinState',
  ],
  [
    'inputPermission unknown',
    shipBytes(0x01, '{"connectionPinState":[{"pinState":"required"},{"inputPermission":"no"}]}'),
    'invalidField',
    'connectionPinState',
  ],
  [
    'pin too short',
    shipBytes(0x01, '{"connectionPinInput":[{"pin":"1234567"}]}'),
    'invalidField',
    'connectionPinInput',
    /8 to 16 hexadecimal digits/,
  ],
  [
    'pin too long',
    shipBytes(0x01, '{"connectionPinInput":[{"pin":"12345678901234567"}]}'),
    'invalidField',
    'connectionPinInput',
  ],
  [
    'pin not hex',
    shipBytes(0x01, '{"connectionPinInput":[{"pin":"1234567G"}]}'),
    'invalidField',
    'connectionPinInput',
  ],
  [
    'pin error negative',
    shipBytes(0x01, '{"connectionPinError":[{"error":-1}]}'),
    'invalidField',
    'connectionPinError',
  ],
  [
    'accessMethodsRequest as a string',
    shipBytes(0x01, '{"accessMethodsRequest":"x"}'),
    'invalidField',
    'accessMethodsRequest',
  ],
  [
    'accessMethods without id',
    shipBytes(0x01, '{"accessMethods":[{"dnsSd_mDns":[]}]}'),
    'invalidField',
    'accessMethods',
    /accessMethods\.id is missing/,
  ],
  [
    'accessMethods id not a string',
    shipBytes(0x01, '{"accessMethods":[{"id":5}]}'),
    'invalidField',
    'accessMethods',
  ],
  [
    'dnsSd_mDns as a number',
    shipBytes(0x01, '{"accessMethods":[{"id":"X"},{"dnsSd_mDns":1}]}'),
    'invalidField',
    'accessMethods',
  ],
  [
    'dns uri not a string',
    shipBytes(0x01, '{"accessMethods":[{"id":"X"},{"dns":[{"uri":1}]}]}'),
    'invalidField',
    'accessMethods',
  ],
  [
    'data without header',
    shipBytes(0x02, '{"data":[{"payload":{}}]}'),
    'invalidField',
    'data',
    /data\.header is missing/,
  ],
  [
    'data without protocolId',
    shipBytes(0x02, '{"data":[{"header":[]},{"payload":{}}]}'),
    'invalidField',
    'data',
    /protocolId is missing/,
  ],
  [
    'data without payload',
    shipBytes(0x02, '{"data":[{"header":[{"protocolId":"ee1.0"}]}]}'),
    'invalidField',
    'data',
    /payload is missing/,
  ],
  [
    'data with two payloads',
    shipBytes(0x02, '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":1},{"payload":2}]}'),
    'invalidField',
    'data',
  ],
  [
    'data extension binary not hex',
    shipBytes(
      0x02,
      '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":{}},{"extension":[{"binary":"xyz"}]}]}',
    ),
    'invalidField',
    'data',
  ],
  [
    'close phase unknown',
    shipBytes(0x03, '{"connectionClose":[{"phase":"bye"}]}'),
    'invalidField',
    'connectionClose',
  ],
  [
    'close maxTime negative',
    shipBytes(0x03, '{"connectionClose":[{"phase":"announce"},{"maxTime":-5}]}'),
    'invalidField',
    'connectionClose',
  ],
  [
    'close reason not a string',
    shipBytes(0x03, '{"connectionClose":[{"phase":"announce"},{"reason":7}]}'),
    'invalidField',
    'connectionClose',
  ],
];

describe('decodeMessage tolerates what real peers send', () => {
  for (const [name, input, expected] of TOLERATED) {
    it(name, () => {
      assert.deepEqual(decodeMessage(input), { ok: true, message: expected });
    });
  }
});

describe('decodeMessage refuses invalid input with a precise error', () => {
  for (const [name, input, code, element, detail] of REFUSED) {
    it(`${name} → ${code}`, () => {
      const result = decodeMessage(input);
      assert.equal(result.ok, false, JSON.stringify(result));
      if (result.ok) return;
      assert.equal(result.error.code, code, result.error.detail);
      assert.equal(result.error.element, element);
      if (input.length > 0) assert.equal(result.error.typeByte, input[0]);
      assert.ok(result.error.detail.length > 0);
      if (detail !== undefined) assert.match(result.error.detail, detail);
    });
  }

  it('maxBytes → tooLarge; at the limit still decodes', () => {
    const bytes = encodeMessage(READY);
    assert.deepEqual(decodeMessage(bytes, { maxBytes: bytes.length }), {
      ok: true,
      message: READY,
    });
    const result = decodeMessage(bytes, { maxBytes: bytes.length - 1 });
    assert.equal(result.ok ? 'ok' : result.error.code, 'tooLarge');
  });

  it('caps peer-chosen names in the error', () => {
    const result = decodeMessage(shipBytes(0x01, JSON.stringify({ ['x'.repeat(10_000)]: [] })));
    assert.ok(!result.ok);
    assert.ok((result.error.element ?? '').length <= 65);
    assert.ok(result.error.detail.length < 200);
  });

  it('does not repeat a refused PIN in the error', () => {
    const result = decodeMessage(shipBytes(0x01, '{"connectionPinInput":[{"pin":"secret12345"}]}'));
    assert.ok(!result.ok);
    assert.doesNotMatch(result.error.detail, /secret/);
  });
});

describe('encodeMessage', () => {
  const text = (message: ShipMessage): string =>
    new TextDecoder().decode(encodeMessage(message).subarray(1));

  it('omits absent optional fields: hello ready without waiting (checklist 26)', () => {
    const bytes = encodeMessage({ kind: 'connectionHello', value: { phase: 'ready' } });
    assert.equal(bytes[0], 0x01);
    assert.equal(
      text({ kind: 'connectionHello', value: { phase: 'ready' } }),
      '{"connectionHello":[{"phase":"ready"}]}',
    );
  });

  it('writes CMI as exactly 00 00 (checklist 19)', () => {
    assert.deepEqual(encodeMessage({ kind: 'init', cmiHead: 0 }), Uint8Array.of(0, 0));
  });

  it('writes data with extension after the payload, in XSD order', () => {
    assert.equal(
      text({
        kind: 'data',
        value: { protocolId: 'x<y', payload: [], extension: { string: 's', extensionId: 'e' } },
      }),
      '{"data":[{"header":[{"protocolId":"x\\u003cy"}]},{"payload":[]},{"extension":[{"extensionId":"e"},{"string":"s"}]}]}',
    );
  });

  it('encodes non-ASCII text as UTF-8 with an exact-size array', () => {
    const bytes = encodeMessage({ kind: 'accessMethods', value: { id: 'Wärmepumpe 🔥' } });
    const expected = shipBytes(0x01, '{"accessMethods":[{"id":"Wärmepumpe 🔥"}]}');
    assert.deepEqual(bytes, expected);
    assert.equal(bytes.buffer.byteLength, expected.length);
  });

  it('refuses model values no peer could accept (programmer errors)', () => {
    const bad: ShipMessage[] = [
      { kind: 'init', cmiHead: 256 },
      { kind: 'connectionHello', value: { phase: 'ready', waiting: -1 } },
      { kind: 'connectionHello', value: { phase: 'later' as 'ready' } },
      {
        kind: 'messageProtocolHandshake',
        value: { handshakeType: 'select', version: { major: 1, minor: 0 }, formats: [] },
      },
      { kind: 'messageProtocolHandshakeError', value: { error: 1.5 } },
      { kind: 'connectionPinInput', value: { pin: '12' } },
      { kind: 'connectionClose', value: { phase: 'confirm', maxTime: 2 ** 32 } },
      { kind: 'data', value: { protocolId: 'ee1.0', payload: undefined } },
      { kind: 'data', value: { protocolId: 5 as unknown as string, payload: {} } },
      { kind: 'accessMethods', value: { id: 5 as unknown as string } },
      {
        kind: 'connectionHello',
        value: { phase: 'pending', prolongationRequest: 'yes' as unknown as boolean },
      },
      { kind: 'data', value: { protocolId: 'ee1.0', payload: {}, extension: { binary: 'abc' } } },
    ];
    for (const message of bad) {
      assert.throws(() => encodeMessage(message), TypeError, JSON.stringify(message));
    }
  });
});

describe('EEBUS-JSON conversion (SHIP §11)', () => {
  it('turns objects into sequences, keeps lists and primitives', () => {
    assert.deepEqual(toEebusJson({ a: { x: 1, y: [{ z: 2 }, { z: 3 }] }, e: {}, n: undefined }), [
      { a: [{ x: 1 }, { y: [[{ z: 2 }], [{ z: 3 }]] }] },
      { e: [] },
    ]);
    assert.deepEqual(toEebusJson({ entity: [1, 1], format: ['JSON-UTF8'] }), [
      { entity: [1, 1] },
      { format: ['JSON-UTF8'] },
    ]);
    assert.equal(toEebusJson('x'), 'x');
    assert.equal(toEebusJson(null), null);
  });

  it('reads sequences back, [] as {}, and keeps what is not a sequence', () => {
    assert.deepEqual(
      fromEebusJson([{ a: [{ x: 1 }, { y: [[{ z: 2 }], [{ z: 3 }]] }] }, { e: [] }]),
      {
        a: { x: 1, y: [{ z: 2 }, { z: 3 }] },
        e: {},
      },
    );
    assert.deepEqual(fromEebusJson({ plain: { x: [{ y: 1 }] } }), { plain: { x: { y: 1 } } });
    assert.deepEqual(fromEebusJson([{ a: 1 }, { a: 2 }]), [{ a: 1 }, { a: 2 }]);
    assert.deepEqual(fromEebusJson([{ a: 1, b: 2 }]), [{ a: 1, b: 2 }]);
    assert.deepEqual(fromEebusJson([1, 'x', null]), [1, 'x', null]);
  });

  it('defines a "__proto__" key as data instead of replacing the prototype', () => {
    const result = fromEebusJson(JSON.parse('[{"__proto__":[{"polluted":true}]}]')) as Record<
      string,
      unknown
    >;
    assert.equal(Object.getPrototypeOf(result), Object.prototype);
    assert.deepEqual(Object.keys(result), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('stops with a RangeError beyond maxDepth instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    assert.throws(() => fromEebusJson(deep, { maxDepth: 50 }), RangeError);
    assert.doesNotThrow(() => fromEebusJson(deep));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => toEebusJson(cycle), RangeError);
  });
});
