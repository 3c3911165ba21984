/**
 * Golden vectors for the SHIP codec: the wire recordings of two ship-go nodes (fixtures/) and the
 * exact wire examples of the protocol reference §6.2/§6.3 (checklist items 24 and 25). The codec
 * must read every recorded message and write it back byte for byte, since being byte-identical
 * with ship-go is the interoperability target (SHIP §13.4.2 framing, SHIP §11 EEBUS-JSON).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, fromEebusJson } from '../../src/ship/codec/index.js';
import type { ShipMessage } from '../../src/ship/messages.js';
import { listVectors, loadVector, shipBytes, toHex } from '../helpers/vectors.js';

const textDecoder = new TextDecoder();

/** The message as the recordings print it: type byte in hex, then the JSON text. */
function show(bytes: Uint8Array): string {
  return `${toHex(bytes.subarray(0, 1))} ${textDecoder.decode(bytes.subarray(1))}`;
}

describe('codec against the ship-go wire recordings', () => {
  const files = listVectors();

  it('finds all seven recordings', () => {
    assert.equal(files.length, 7);
  });

  for (const file of files) {
    it(`${file}: every message decodes and re-encodes to the same bytes`, () => {
      const vector = loadVector(file);
      // The mDNS recording holds no SHIP session; every other one does.
      if (!file.includes('mdns')) assert.ok(vector.messages.length > 0, 'no messages parsed');
      for (const [index, recorded] of vector.messages.entries()) {
        const result = decodeMessage(recorded.bytes);
        assert.ok(
          result.ok,
          `message ${index} (${show(recorded.bytes)}): ${JSON.stringify(result)}`,
        );
        const encoded = encodeMessage(result.message);
        assert.equal(show(encoded), show(recorded.bytes), `message ${index}`);
        assert.deepEqual(encoded, recorded.bytes);
      }
    });
  }

  it('parses identities, timing and events of a recording', () => {
    const vector = loadVector('shipgo-shipgo-untrusted-deny.txt');
    assert.equal(vector.serverSki, 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f');
    assert.equal(vector.clientSki, '264165830e89a16e5b7fc5737f550dab8991b785');
    assert.equal(vector.serverShipId, 'shipgo-peer-server');
    assert.equal(vector.clientShipId, 'shipgo-peer-client');
    assert.match(vector.title, /^SHIP transcript: ship-go/);
    assert.deepEqual(
      vector.messages.map((m) => [m.direction, m.bytes.length]),
      [
        ['C->S', 2],
        ['S->C', 2],
        ['C->S', 58],
        ['S->C', 60],
        ['S->C', 42],
      ],
    );
    assert.deepEqual(vector.messages[0]!.bytes, Uint8Array.of(0x00, 0x00));
    assert.equal(vector.messages[4]!.atMs, 3.192);
    const close = vector.events.find((event) => event.wsCloseCode !== undefined);
    assert.equal(close?.wsCloseCode, 4452);
    assert.equal(close?.atMs, 1003.401);
    assert.match(close?.text ?? '', /^C->S websocket CLOSE frame code=4452/);
  });

  it('reads the identities of the mDNS recording from the node logs', () => {
    const vector = loadVector('shipgo-mdns-netns.txt');
    assert.equal(vector.serverSki, 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f');
    assert.equal(vector.clientShipId, 'shipgo-peer-client');
    assert.deepEqual(vector.messages, []);
  });
});

/** Protocol reference §6.2: exactly what ship-go emits, and the XSD forms we also send. */
const WIRE_EXAMPLES: Array<[ShipMessage, number, string]> = [
  [
    { kind: 'connectionHello', value: { phase: 'ready', waiting: 60000 } },
    0x01,
    '{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}',
  ],
  [
    { kind: 'connectionHello', value: { phase: 'pending', waiting: 60000 } },
    0x01,
    '{"connectionHello":[{"phase":"pending"},{"waiting":60000}]}',
  ],
  [
    { kind: 'connectionHello', value: { phase: 'pending', prolongationRequest: true } },
    0x01,
    '{"connectionHello":[{"phase":"pending"},{"prolongationRequest":true}]}',
  ],
  [
    { kind: 'connectionHello', value: { phase: 'aborted' } },
    0x01,
    '{"connectionHello":[{"phase":"aborted"}]}',
  ],
  [
    {
      kind: 'messageProtocolHandshake',
      value: {
        handshakeType: 'announceMax',
        version: { major: 1, minor: 0 },
        formats: ['JSON-UTF8'],
      },
    },
    0x01,
    '{"messageProtocolHandshake":[{"handshakeType":"announceMax"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
  ],
  [
    {
      kind: 'messageProtocolHandshake',
      value: { handshakeType: 'select', version: { major: 1, minor: 0 }, formats: ['JSON-UTF8'] },
    },
    0x01,
    '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
  ],
  [
    { kind: 'connectionPinState', value: { pinState: 'none' } },
    0x01,
    '{"connectionPinState":[{"pinState":"none"}]}',
  ],
  [{ kind: 'accessMethodsRequest' }, 0x01, '{"accessMethodsRequest":[]}'],
  [
    { kind: 'accessMethods', value: { id: 'Demo-EVSE-234567890' } },
    0x01,
    '{"accessMethods":[{"id":"Demo-EVSE-234567890"}]}',
  ],
  [
    { kind: 'connectionClose', value: { phase: 'announce', maxTime: 500, reason: 'unspecific' } },
    0x03,
    '{"connectionClose":[{"phase":"announce"},{"maxTime":500},{"reason":"unspecific"}]}',
  ],
  [
    { kind: 'connectionClose', value: { phase: 'confirm' } },
    0x03,
    '{"connectionClose":[{"phase":"confirm"}]}',
  ],
  // XSD-conformant forms ship-go does not emit (we send the handshake error in this form).
  [
    { kind: 'messageProtocolHandshakeError', value: { error: 3 } },
    0x01,
    '{"messageProtocolHandshakeError":[{"error":3}]}',
  ],
  [
    { kind: 'connectionPinState', value: { pinState: 'required', inputPermission: 'ok' } },
    0x01,
    '{"connectionPinState":[{"pinState":"required"},{"inputPermission":"ok"}]}',
  ],
  [
    { kind: 'connectionPinInput', value: { pin: '1234ABCD' } },
    0x01,
    '{"connectionPinInput":[{"pin":"1234ABCD"}]}',
  ],
  [
    { kind: 'connectionPinError', value: { error: 1 } },
    0x01,
    '{"connectionPinError":[{"error":1}]}',
  ],
  [
    {
      kind: 'accessMethods',
      value: { id: 'X', dnsSdMdns: true, dnsUri: 'wss://host:4712/ship/' },
    },
    0x01,
    '{"accessMethods":[{"id":"X"},{"dnsSd_mDns":[]},{"dns":[{"uri":"wss://host:4712/ship/"}]}]}',
  ],
];

/** Protocol reference §6.3: a data message wrapping a SPINE datagram. */
const DATAGRAM_JSON =
  '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_i:12345_HEMS"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"device":"d:_i:67890_EVSE"},{"entity":[0]},{"feature":0}]},{"msgCounter":1},{"cmdClassifier":"read"}]},{"payload":[{"cmd":[[{"nodeManagementDetailedDiscoveryData":[]}]]}]}]}';
const DATA_EXAMPLE = `{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":${DATAGRAM_JSON}}]}`;

describe('codec against the wire examples of the protocol reference (§6.2, §6.3)', () => {
  for (const [message, typeByte, json] of WIRE_EXAMPLES) {
    it(`encodes ${json}`, () => {
      const expected = shipBytes(typeByte, json);
      assert.equal(show(encodeMessage(message)), show(expected));
      assert.deepEqual(decodeMessage(expected), { ok: true, message });
    });
  }

  it('encodes the §6.3 data message from the model (checklist 24)', () => {
    const message: ShipMessage = {
      kind: 'data',
      value: { protocolId: 'ee1.0', payload: JSON.parse(DATAGRAM_JSON) },
    };
    assert.equal(show(encodeMessage(message)), show(shipBytes(0x02, DATA_EXAMPLE)));
  });

  it('decodes the §6.3 data message down to the SPINE fields (checklist 25)', () => {
    const result = decodeMessage(shipBytes(0x02, DATA_EXAMPLE));
    assert.ok(result.ok && result.message.kind === 'data');
    assert.equal(result.message.value.protocolId, 'ee1.0');
    const spine = fromEebusJson(result.message.value.payload) as {
      datagram: {
        header: { msgCounter: number; cmdClassifier: string; addressSource: { entity: number[] } };
        payload: { cmd: Array<Record<string, unknown>> };
      };
    };
    assert.equal(spine.datagram.header.msgCounter, 1);
    assert.equal(spine.datagram.header.cmdClassifier, 'read');
    assert.deepEqual(spine.datagram.header.addressSource.entity, [0]);
    assert.ok(Array.isArray(spine.datagram.payload.cmd));
    // The empty element `[]` reads as an empty object, as ship-go reads it (SHIP §11.4.6 rule 4).
    assert.deepEqual(spine.datagram.payload.cmd[0], { nodeManagementDetailedDiscoveryData: {} });
  });

  it('escapes <, >, &, U+2028 and U+2029 as Go does', () => {
    const message: ShipMessage = {
      kind: 'data',
      value: { protocolId: 'ee1.0', payload: { datagram: [{ text: 'a<b>&c\u2028\u2029é' }] } },
    };
    const json = textDecoder.decode(encodeMessage(message).subarray(1));
    assert.equal(
      json,
      '{"data":[{"header":[{"protocolId":"ee1.0"}]},{"payload":{"datagram":[{"text":"a\\u003cb\\u003e\\u0026c\\u2028\\u2029é"}]}}]}',
    );
    assert.deepEqual(decodeMessage(encodeMessage(message)), { ok: true, message });
  });
});
