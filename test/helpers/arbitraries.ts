/**
 * fast-check arbitraries for SHIP messages (SHIP §13.4), shared by the property tests and fuzzers.
 *
 * - {@link arbShipMessage}: valid messages of every kind, i.e. models the codec must encode and
 *   decode back unchanged. Optional fields are either present or absent (never `undefined`), as
 *   `exactOptionalPropertyTypes` and the decoder want; `dnsSdMdns` is only ever `true` because
 *   an empty element cannot say false on the wire.
 * - {@link arbShipBytes}: hostile input for `decodeMessage`: mutated encodings of valid messages,
 *   arbitrary JSON under every type byte, and random bytes.
 */
import fc from 'fast-check';
import { encodeMessage } from '../../src/ship/codec/index.js';
import type {
  AccessMethods,
  ConnectionClose,
  ConnectionHello,
  ConnectionPinState,
  DataExtension,
  DataMessage,
  MessageProtocolHandshake,
  ShipMessage,
} from '../../src/ship/messages.js';

const UINT32_MAX = 0xffff_ffff;

/**
 * Strings for free-text fields: mostly printable ASCII, sometimes any Unicode code point, and
 * sometimes the characters the encoder must escape like Go (`<`, `>`, `&`, U+2028, U+2029) or
 * that ship-go v0.6's text-substitution decoder trips over (`[{`, `},{`, `}]`, `[]`).
 */
export const arbText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc
      .array(
        fc.constantFrom('<', '>', '&', '\u2028', '\u2029', '"', '\\', '[{', '},{', '}]', '[]', 'é'),
        { maxLength: 6 },
      )
      .map((parts) => parts.join('')),
  },
);

const arbHex = (minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc
    .array(fc.constantFrom(...Array.from('0123456789abcdefABCDEF')), { minLength, maxLength })
    .map((digits) => digits.join(''));

const arbHello: fc.Arbitrary<ConnectionHello> = fc.record(
  {
    phase: fc.constantFrom('pending' as const, 'ready' as const, 'aborted' as const),
    waiting: fc.integer({ min: 0, max: UINT32_MAX }),
    prolongationRequest: fc.boolean(),
  },
  { requiredKeys: ['phase'], noNullPrototype: true },
);

const arbHandshake: fc.Arbitrary<MessageProtocolHandshake> = fc.record(
  {
    handshakeType: fc.constantFrom('announceMax' as const, 'select' as const),
    version: fc.record(
      {
        major: fc.integer({ min: 0, max: 0xffff }),
        minor: fc.integer({ min: 0, max: 0xffff }),
      },
      { noNullPrototype: true },
    ),
    formats: fc.array(fc.oneof(fc.constantFrom('JSON-UTF8', 'JSON-UTF16'), arbText), {
      minLength: 1,
      maxLength: 4,
    }),
  },
  { noNullPrototype: true },
);

const arbPinState: fc.Arbitrary<ConnectionPinState> = fc.record(
  {
    pinState: fc.constantFrom(
      'required' as const,
      'optional' as const,
      'pinOk' as const,
      'none' as const,
    ),
    inputPermission: fc.constantFrom('busy' as const, 'ok' as const),
  },
  { requiredKeys: ['pinState'], noNullPrototype: true },
);

const arbAccessMethods: fc.Arbitrary<AccessMethods> = fc.record(
  {
    id: arbText,
    dnsSdMdns: fc.constant(true),
    dnsUri: fc.oneof(fc.constant('wss://host.local:4712/ship/'), arbText),
  },
  { requiredKeys: ['id'], noNullPrototype: true },
);

const arbExtension: fc.Arbitrary<DataExtension> = fc.record(
  {
    extensionId: arbText,
    binary: arbHex(0, 8).map((hex) => (hex.length % 2 === 0 ? hex : `${hex}0`)),
    string: arbText,
  },
  { requiredKeys: [], noNullPrototype: true },
);

/** A small SPINE-like datagram in EEBUS-JSON, as the payload of real data messages. */
const arbDatagram: fc.Arbitrary<unknown> = fc
  .record(
    { msgCounter: fc.nat(), classifier: fc.constantFrom('read', 'reply', 'notify') },
    { noNullPrototype: true },
  )
  .map(({ msgCounter, classifier }) => ({
    datagram: [
      {
        header: [{ specificationVersion: '1.3.0' }, { msgCounter }, { cmdClassifier: classifier }],
      },
      { payload: [{ cmd: [[{ nodeManagementDetailedDiscoveryData: [] }]] }] },
    ],
  }));

const arbData: fc.Arbitrary<DataMessage> = fc.record(
  {
    protocolId: fc.oneof({ weight: 3, arbitrary: fc.constant('ee1.0') }, arbText),
    // xs:anyType: any JSON value survives the codec unchanged. fast-check's jsonValue can yield
    // -0, which JSON text cannot carry (it reads back as 0), so it goes through JSON once.
    payload: fc.oneof(
      arbDatagram,
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
    ),
    extension: arbExtension,
  },
  { requiredKeys: ['protocolId', 'payload'], noNullPrototype: true },
);

const arbClose: fc.Arbitrary<ConnectionClose> = fc.record(
  {
    phase: fc.constantFrom('announce' as const, 'confirm' as const),
    maxTime: fc.integer({ min: 0, max: UINT32_MAX }),
    reason: fc.oneof(fc.constantFrom('unspecific', 'removedConnection', 'User close'), arbText),
  },
  { requiredKeys: ['phase'], noNullPrototype: true },
);

/** Valid SHIP messages of every kind (SHIP §13.4): `decodeMessage(encodeMessage(m))` gives m. */
export const arbShipMessage: fc.Arbitrary<ShipMessage> = fc.oneof(
  fc.integer({ min: 0, max: 0xff }).map((cmiHead): ShipMessage => ({ kind: 'init', cmiHead })),
  arbHello.map((value): ShipMessage => ({ kind: 'connectionHello', value })),
  arbHandshake.map((value): ShipMessage => ({ kind: 'messageProtocolHandshake', value })),
  fc
    .integer({ min: 0, max: 0xff })
    .map((error): ShipMessage => ({ kind: 'messageProtocolHandshakeError', value: { error } })),
  arbPinState.map((value): ShipMessage => ({ kind: 'connectionPinState', value })),
  arbHex(8, 16).map((pin): ShipMessage => ({ kind: 'connectionPinInput', value: { pin } })),
  fc
    .integer({ min: 0, max: 0xff })
    .map((error): ShipMessage => ({ kind: 'connectionPinError', value: { error } })),
  fc.constant<ShipMessage>({ kind: 'accessMethodsRequest' }),
  arbAccessMethods.map((value): ShipMessage => ({ kind: 'accessMethods', value })),
  arbData.map((value): ShipMessage => ({ kind: 'data', value })),
  arbClose.map((value): ShipMessage => ({ kind: 'connectionClose', value })),
);

/** One edit of a byte array: what a broken or hostile peer (or a bad link) could turn it into. */
const arbMutation: fc.Arbitrary<(bytes: Uint8Array) => Uint8Array> = fc.oneof(
  // flip one byte
  fc
    .tuple(fc.nat(), fc.integer({ min: 0, max: 0xff }))
    .map(([at, value]) => (bytes: Uint8Array) => {
      const out = bytes.slice();
      if (out.length > 0) out[at % out.length] = value;
      return out;
    }),
  // truncate
  fc.nat().map((at) => (bytes: Uint8Array) => bytes.slice(0, at % (bytes.length + 1))),
  // insert bytes
  fc
    .tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }))
    .map(([at, extra]) => (bytes: Uint8Array) => {
      const cut = at % (bytes.length + 1);
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes.subarray(0, cut));
      out.set(extra, cut);
      out.set(bytes.subarray(cut), cut + extra.length);
      return out;
    }),
  // another type byte (SHIP §13.4.2: type and root element must agree)
  fc
    .oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 0xff }))
    .map((type) => (bytes: Uint8Array) => {
      const out = bytes.slice();
      if (out.length > 0) out[0] = type;
      return out;
    }),
  // trailing NUL bytes (Porsche PMCC) or whitespace
  fc.constantFrom(0x00, 0x20, 0x0a).map((pad) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes.length + 2).fill(pad);
    out.set(bytes);
    return out;
  }),
);

const utf8 = new TextEncoder();

/** `type byte + text` as one message. */
function frame(typeByte: number, text: string): Uint8Array {
  const body = utf8.encode(text);
  const out = new Uint8Array(body.length + 1);
  out[0] = typeByte;
  out.set(body, 1);
  return out;
}

/** Hostile input for `decodeMessage`: anything the transport could hand over. */
export const arbShipBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  // valid encodings with one to three edits
  {
    weight: 3,
    arbitrary: fc
      .tuple(arbShipMessage, fc.array(arbMutation, { minLength: 1, maxLength: 3 }))
      .map(([message, edits]) =>
        edits.reduce((bytes, edit) => edit(bytes), encodeMessage(message)),
      ),
  },
  // arbitrary JSON under every type byte and one unknown one
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 4 }), fc.jsonValue({ maxDepth: 4 }))
      .map(([type, value]) => frame(type, JSON.stringify(value))),
  },
  // a known root element with an arbitrary value
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(
          'connectionHello',
          'messageProtocolHandshake',
          'messageProtocolHandshakeError',
          'connectionPinState',
          'connectionPinInput',
          'connectionPinError',
          'accessMethodsRequest',
          'accessMethods',
          'data',
          'connectionClose',
          'error',
          '__proto__',
          'constructor',
        ),
        fc.jsonValue({ maxDepth: 3 }),
      )
      .map(([type, root, value]) => frame(type, JSON.stringify({ [root]: value }))),
  },
  // random bytes, mostly under a known type byte
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.uint8Array({ maxLength: 64 }))
      .map(([type, rest]) => Uint8Array.of(type, ...rest)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);
