/**
 * Table tests of the SPINE datagram codec: the wire examples of spine-protocol.md (§2.5, §3.5,
 * §5.5, §8.1, §11.4) byte for byte (conformance checklist items 1 and 2), unknown elements
 * (item 3), 64-bit counters (item 8), several cmds (item 9), and every way a datagram is refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeDatagram,
  decodeDatagramText,
  encodeDatagram,
  encodeDatagramText,
  type DatagramErrorCode,
} from '../../../src/spine/codec/datagram.js';
import { parseJsonLossless, stringifyJson } from '../../../src/spine/codec/json-lossless.js';
import { MSG_COUNTER_MAX } from '../../../src/spine/model/datagram.js';

/** Wire examples of spine-protocol.md, exactly as printed there. */
const DOC_WIRE_EXAMPLES: Array<[section: string, text: string]> = [
  [
    '§2.5 first discovery read',
    '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"entity":[0]},{"feature":0}]},{"msgCounter":1},{"cmdClassifier":"read"}]},{"payload":[{"cmd":[[{"nodeManagementDetailedDiscoveryData":[]}]]}]}]}',
  ],
  [
    '§5.5 subscription call',
    '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[0]},{"feature":0}]},{"msgCounter":8},{"cmdClassifier":"call"},{"ackRequest":true}]},{"payload":[{"cmd":[[{"nodeManagementSubscriptionRequestCall":[{"subscriptionRequest":[{"clientAddress":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[1]},{"feature":3}]},{"serverAddress":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[1]},{"feature":4}]},{"serverFeatureType":"Measurement"}]}]}]]}]}]}',
  ],
  [
    '§5.5 result',
    '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[0]},{"feature":0}]},{"addressDestination":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[0]},{"feature":0}]},{"msgCounter":31},{"msgCounterReference":8},{"cmdClassifier":"result"}]},{"payload":[{"cmd":[[{"resultData":[{"errorNumber":0}]}]]}]}]}',
  ],
  [
    '§8.1 heartbeat notify',
    '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[1]},{"feature":1}]},{"addressDestination":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[1]},{"feature":8}]},{"msgCounter":23},{"cmdClassifier":"notify"}]},{"payload":[{"cmd":[[{"deviceDiagnosisHeartbeatData":[{"timestamp":"2025-01-15T10:00:00Z"},{"heartbeatCounter":17},{"heartbeatTimeout":"PT4S"}]}]]}]}]}',
  ],
  [
    '§11.4 LPC limit write',
    '{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[1]},{"feature":5}]},{"addressDestination":[{"device":"d:_i:12345_HeatPump-42"},{"entity":[1]},{"feature":2}]},{"msgCounter":20},{"cmdClassifier":"write"},{"ackRequest":true}]},{"payload":[{"cmd":[[{"function":"loadControlLimitListData"},{"filter":[[{"cmdControl":[{"partial":[]}]}]]},{"loadControlLimitListData":[{"loadControlLimitData":[[{"limitId":0},{"isLimitActive":true},{"timePeriod":[{"endTime":"PT2H"}]},{"value":[{"number":4200},{"scale":0}]}]]}]}]]}]}]}',
  ],
];

/** A datagram around one wire cmd (for the cmd-level examples of §3.5 and §11.4). */
function withCmd(cmdWire: string, classifier = 'notify'): string {
  return `{"datagram":[{"header":[{"specificationVersion":"1.3.0"},{"addressSource":[{"device":"d:_i:1_A"},{"entity":[1]},{"feature":4}]},{"addressDestination":[{"device":"d:_n:ShipHub_HEMS-0001"},{"entity":[1]},{"feature":3}]},{"msgCounter":5},{"cmdClassifier":"${classifier}"}]},{"payload":[{"cmd":[${cmdWire}]}]}]}`;
}

DOC_WIRE_EXAMPLES.push(
  [
    '§3.5 partial notify of two measurements',
    withCmd(
      '[{"function":"measurementListData"},{"filter":[[{"cmdControl":[{"partial":[]}]}]]},{"measurementListData":[{"measurementData":[[{"measurementId":0},{"valueType":"value"},{"timestamp":"2025-01-15T10:00:05Z"},{"value":[{"number":1234},{"scale":0}]},{"valueSource":"measuredValue"}],[{"measurementId":4},{"valueType":"value"},{"value":[{"number":1578231},{"scale":-1}]},{"valueSource":"measuredValue"},{"valueState":"normal"}]]}]}]',
    ),
  ],
  [
    '§3.5 delete one entry',
    withCmd(
      '[{"function":"measurementListData"},{"filter":[[{"cmdControl":[{"delete":[]}]},{"measurementListDataSelectors":[{"measurementId":4}]}]]},{"measurementListData":[]}]',
    ),
  ],
  [
    '§11.4 delete timePeriod + partial (E8c)',
    withCmd(
      '[{"function":"loadControlLimitListData"},{"filter":[[{"cmdControl":[{"delete":[]}]},{"loadControlLimitListDataSelectors":[{"limitId":0}]},{"loadControlLimitDataElements":[{"timePeriod":[]}]}],[{"cmdControl":[{"partial":[]}]}]]},{"loadControlLimitListData":[{"loadControlLimitData":[[{"limitId":0},{"isLimitActive":true},{"value":[{"number":4200},{"scale":0}]}]]}]}]',
      'write',
    ),
  ],
);

describe('SPINE datagram codec: wire examples of the protocol reference', () => {
  for (const [section, text] of DOC_WIRE_EXAMPLES) {
    it(`${section}: decodes and re-encodes byte for byte`, () => {
      const result = decodeDatagramText(text);
      assert.ok(result.ok, JSON.stringify(result.ok ? '' : result.error));
      assert.equal(encodeDatagramText(result.datagram), text);
    });
  }

  it('§2.5: the plain form of the first read encodes to the quoted wire form', () => {
    const plain = {
      datagram: {
        header: {
          specificationVersion: '1.3.0',
          addressSource: { device: 'd:_n:ShipHub_HEMS-0001', entity: [0], feature: 0 },
          addressDestination: { entity: [0], feature: 0 },
          msgCounter: 1,
          cmdClassifier: 'read',
        },
        payload: { cmd: [{ nodeManagementDetailedDiscoveryData: {} }] },
      },
    };
    const result = decodeDatagram(plain);
    assert.ok(result.ok);
    assert.equal(encodeDatagramText(result.datagram), DOC_WIRE_EXAMPLES[0]![1]);
    assert.deepEqual(encodeDatagram(result.datagram, 'plain'), plain);
  });

  it('§11.4 E8c: filters are read in order with selectors and elements', () => {
    const result = decodeDatagramText(DOC_WIRE_EXAMPLES[7]![1]);
    assert.ok(result.ok);
    const cmd = result.datagram.payload.cmd[0]!;
    assert.equal(cmd.data?.name, 'loadControlLimitListData');
    assert.deepEqual(cmd.filter, [
      {
        cmdControl: 'delete',
        selectors: { name: 'loadControlLimitListDataSelectors', value: { limitId: 0 } },
        elements: { name: 'loadControlLimitDataElements', value: { timePeriod: {} } },
      },
      { cmdControl: 'partial' },
    ]);
  });
});

/** A minimal valid datagram in plain form, to be broken by the tests. */
function plainRead(header: Record<string, unknown> = {}, payload?: unknown): unknown {
  return {
    datagram: {
      header: {
        addressSource: { device: 'd:_i:1_A', entity: [0], feature: 0 },
        addressDestination: { entity: [0], feature: 0 },
        msgCounter: 7,
        cmdClassifier: 'read',
        ...header,
      },
      payload: payload ?? { cmd: [{ nodeManagementDetailedDiscoveryData: {} }] },
    },
  };
}

describe('SPINE datagram codec: what real peers send that must be accepted', () => {
  it('64-bit counters are exact (checklist item 8)', () => {
    const text =
      '{"datagram":[{"header":[{"addressSource":[{"entity":[0]},{"feature":0}]},{"addressDestination":[{"entity":[0]},{"feature":0}]},{"msgCounter":18446744073709551615},{"msgCounterReference":9007199254740993},{"cmdClassifier":"reply"}]},{"payload":[{"cmd":[[{"resultData":[{"errorNumber":0}]}]]}]}]}';
    const result = decodeDatagramText(text);
    assert.ok(result.ok);
    assert.equal(result.datagram.header.msgCounter, MSG_COUNTER_MAX);
    assert.equal(result.datagram.header.msgCounterReference, 9007199254740993n);
    assert.equal(encodeDatagramText(result.datagram), text);
  });

  it('unknown elements in header, cmd and function data are ignored or kept (checklist item 3)', () => {
    const result = decodeDatagram(
      plainRead(
        { futureElement: 1 },
        {
          cmd: [
            {
              measurementListData: { measurementData: [{ measurementId: 0, futureElement: 1 }] },
              futureCmdElement: { x: 1 },
            },
          ],
        },
      ),
    );
    assert.ok(result.ok);
    const cmd = result.datagram.payload.cmd[0]!;
    assert.equal(cmd.data?.name, 'measurementListData');
    assert.deepEqual(cmd.unknown, { futureCmdElement: { x: 1 } });
    assert.ok(!('futureElement' in result.datagram.header));
  });

  it('cmd.function names the data element among several candidates', () => {
    const result = decodeDatagram(
      plainRead(
        {},
        { cmd: [{ function: 'b', filter: [{ cmdControl: { partial: {} } }], a: {}, b: {} }] },
      ),
    );
    assert.ok(result.ok);
    assert.equal(result.datagram.payload.cmd[0]?.data?.name, 'b');
    assert.deepEqual(result.datagram.payload.cmd[0]?.unknown, { a: {} });
  });

  it('a cmd with only frame elements has no data (the dispatcher answers error 6)', () => {
    const result = decodeDatagram(plainRead({}, { cmd: [{ function: 'x' }] }));
    assert.ok(result.ok);
    assert.equal(result.datagram.payload.cmd[0]?.data, undefined);
  });

  it('several cmds are kept in order (checklist item 9)', () => {
    const result = decodeDatagram(plainRead({}, { cmd: [{ a: {} }, { b: {} }, { c: {} }] }));
    assert.ok(result.ok);
    assert.deepEqual(
      result.datagram.payload.cmd.map((c) => c.data?.name),
      ['a', 'b', 'c'],
    );
  });

  it('a higher minor version and odd version strings are accepted (checklist item 5)', () => {
    for (const version of ['1.999.0', '1.0.0 draft3', 'v1.3.0']) {
      const result = decodeDatagram(plainRead({ specificationVersion: version }));
      assert.ok(result.ok);
      assert.equal(result.datagram.header.specificationVersion, version);
    }
  });

  it('the datagram content without the {"datagram":…} wrapper, and a `__proto__` key, decode', () => {
    const inner = (plainRead() as { datagram: unknown }).datagram;
    assert.ok(decodeDatagram(inner).ok);
    const hostile = decodeDatagramText(
      '{"datagram":{"header":{"addressSource":{},"addressDestination":{},"msgCounter":1,"cmdClassifier":"notify"},"payload":{"cmd":[{"x":{"__proto__":{"polluted":true}}}]}}}',
    );
    assert.ok(hostile.ok);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('SPINE datagram codec: refused input, with a typed error and the readable header', () => {
  const REFUSED: Array<[name: string, input: unknown, code: DatagramErrorCode, path: string]> = [
    ['not an object', 42, 'notDatagram', 'datagram'],
    ['no header', { datagram: { payload: { cmd: [] } } }, 'notDatagram', 'datagram.header'],
    [
      'header not an element',
      { datagram: { header: 5, payload: {} } },
      'notDatagram',
      'datagram.header',
    ],
    [
      'no cmdClassifier (spine-go answers 4)',
      plainRead({ cmdClassifier: undefined }),
      'missingField',
      'datagram.header.cmdClassifier',
    ],
    [
      'unknown cmdClassifier',
      plainRead({ cmdClassifier: 'shout' }),
      'invalidField',
      'datagram.header.cmdClassifier',
    ],
    [
      'no msgCounter',
      plainRead({ msgCounter: undefined }),
      'missingField',
      'datagram.header.msgCounter',
    ],
    [
      'negative msgCounter',
      plainRead({ msgCounter: -1 }),
      'invalidField',
      'datagram.header.msgCounter',
    ],
    [
      'fractional msgCounter',
      plainRead({ msgCounter: 1.5 }),
      'invalidField',
      'datagram.header.msgCounter',
    ],
    [
      'msgCounter rounded by JSON.parse',
      plainRead({ msgCounter: 2 ** 60 }),
      'invalidField',
      'datagram.header.msgCounter',
    ],
    [
      'msgCounter above uint64',
      plainRead({ msgCounter: 1n << 64n }),
      'invalidField',
      'datagram.header.msgCounter',
    ],
    [
      'string msgCounterReference',
      plainRead({ msgCounterReference: '1' }),
      'invalidField',
      'datagram.header.msgCounterReference',
    ],
    [
      'no addressSource',
      plainRead({ addressSource: undefined }),
      'missingField',
      'datagram.header.addressSource',
    ],
    [
      'address not an element',
      plainRead({ addressSource: 'x' }),
      'invalidField',
      'datagram.header.addressSource',
    ],
    [
      'entity with a negative item',
      plainRead({ addressDestination: { entity: [-1] } }),
      'invalidField',
      'datagram.header.addressDestination.entity',
    ],
    [
      'feature a string',
      plainRead({ addressDestination: { feature: '0' } }),
      'invalidField',
      'datagram.header.addressDestination.feature',
    ],
    [
      'device a number',
      plainRead({ addressSource: { device: 1 } }),
      'invalidField',
      'datagram.header.addressSource.device',
    ],
    [
      'ackRequest a string',
      plainRead({ ackRequest: 'true' }),
      'invalidField',
      'datagram.header.ackRequest',
    ],
    [
      'specificationVersion a number',
      plainRead({ specificationVersion: 1.3 }),
      'invalidField',
      'datagram.header.specificationVersion',
    ],
    [
      'timestamp a number',
      plainRead({ timestamp: 0 }),
      'invalidField',
      'datagram.header.timestamp',
    ],
    [
      'originator not an element',
      plainRead({ addressOriginator: 3 }),
      'invalidField',
      'datagram.header.addressOriginator',
    ],
    [
      'no payload',
      { datagram: { header: (plainRead() as { datagram: { header: unknown } }).datagram.header } },
      'missingField',
      'datagram.payload',
    ],
    ['no cmd', plainRead({}, {}), 'missingField', 'datagram.payload.cmd'],
    ['cmd a number', plainRead({}, { cmd: [1] }), 'invalidField', 'datagram.payload.cmd[0]'],
    [
      'function a number',
      plainRead({}, { cmd: [{ function: 1 }] }),
      'invalidField',
      'datagram.payload.cmd[0].function',
    ],
    [
      'filter without cmdControl',
      plainRead({}, { cmd: [{ filter: [{}], a: {} }] }),
      'missingField',
      'datagram.payload.cmd[0].filter[0].cmdControl',
    ],
    [
      'cmdControl with both',
      plainRead({}, { cmd: [{ filter: [{ cmdControl: { delete: {}, partial: {} } }] }] }),
      'invalidField',
      'datagram.payload.cmd[0].filter[0].cmdControl',
    ],
    [
      'cmdControl a string',
      plainRead({}, { cmd: [{ filter: [{ cmdControl: 'partial' }] }] }),
      'invalidField',
      'datagram.payload.cmd[0].filter[0].cmdControl',
    ],
    [
      'filter a string',
      plainRead({}, { cmd: [{ filter: ['x'] }] }),
      'invalidField',
      'datagram.payload.cmd[0].filter[0]',
    ],
    [
      'filterId negative',
      plainRead({}, { cmd: [{ filter: [{ filterId: -1, cmdControl: { partial: {} } }] }] }),
      'invalidField',
      'datagram.payload.cmd[0].filter[0].filterId',
    ],
    [
      'manufacturerSpecificExtension a number',
      plainRead({}, { cmd: [{ manufacturerSpecificExtension: 1 }] }),
      'invalidField',
      'datagram.payload.cmd[0].manufacturerSpecificExtension',
    ],
    [
      'lastUpdateAt a number',
      plainRead({}, { cmd: [{ lastUpdateAt: 1 }] }),
      'invalidField',
      'datagram.payload.cmd[0].lastUpdateAt',
    ],
    [
      'too many cmds',
      plainRead({}, { cmd: Array.from({ length: 33 }, () => ({ a: {} })) }),
      'tooLarge',
      'datagram.payload.cmd',
    ],
    [
      'too many filters',
      plainRead(
        {},
        { cmd: [{ filter: Array.from({ length: 9 }, () => ({ cmdControl: { partial: {} } })) }] },
      ),
      'tooLarge',
      'datagram.payload.cmd[0].filter',
    ],
  ];
  for (const [name, input, code, path] of REFUSED) {
    it(`${name} → ${code} at ${path}`, () => {
      const result = decodeDatagram(input);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.error.code, code, result.error.detail);
      assert.equal(result.error.path, path);
    });
  }

  it('an error after the header carries the sender and counter for the error result (§6.3)', () => {
    const result = decodeDatagram(plainRead({ ackRequest: true }, { cmd: [{ filter: ['x'] }] }));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.error.header?.addressSource, {
      device: 'd:_i:1_A',
      entity: [0],
      feature: 0,
    });
    assert.equal(result.error.header?.msgCounter, 7n);
    assert.equal(result.error.header?.cmdClassifier, 'read');
  });

  it('too deep, too many values, too long, not JSON', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const tooDeep = decodeDatagram(deep);
    assert.ok(!tooDeep.ok && tooDeep.error.code === 'tooDeep');
    const wide = decodeDatagram(
      plainRead({}, { cmd: [{ a: { list: new Array(300_000).fill(0) } }] }),
    );
    assert.ok(!wide.ok && wide.error.code === 'tooLarge');
    const long = decodeDatagramText(' '.repeat(2 * 1024 * 1024));
    assert.ok(!long.ok && long.error.code === 'tooLarge');
    const deepText = decodeDatagramText('['.repeat(10_000));
    assert.ok(!deepText.ok && deepText.error.code === 'tooDeep');
    const broken = decodeDatagramText('{"datagram":');
    assert.ok(!broken.ok && broken.error.code === 'invalidJson');
  });
});

describe('lossless JSON', () => {
  it('reads big integers as bigint and everything else like JSON.parse', () => {
    const text =
      '{"a":[1,-2,3.5,1e3,-0,9007199254740991,9007199254740992,-9223372036854775808,"x\\u0041\\n",true,false,null,{}]," ":{}}';
    const parsed = parseJsonLossless(text);
    assert.ok(parsed.ok);
    const expected = JSON.parse(text) as { a: unknown[] };
    expected.a[6] = 9007199254740992n;
    expected.a[7] = -9223372036854775808n;
    assert.deepEqual(parsed.value, expected);
    assert.equal(
      stringifyJson(parsed.value),
      '{"a":[1,-2,3.5,1000,0,9007199254740991,9007199254740992,-9223372036854775808,"xA\\n",true,false,null,{}]," ":{}}',
    );
  });

  it('refuses what JSON.parse refuses', () => {
    for (const bad of [
      '',
      '{',
      '[1,]',
      '{"a"1}',
      '01',
      '"\\x"',
      '"\n"',
      'tru',
      '{} x',
      '[1 2]',
      '{"a":1,}',
      '-',
    ]) {
      const parsed = parseJsonLossless(bad);
      assert.equal(parsed.ok, false, bad);
      assert.throws(() => JSON.parse(bad), SyntaxError);
    }
  });

  it('stringifyJson behaves like JSON.stringify for undefined, functions and non-finite numbers', () => {
    const value = { a: undefined, b: () => 1, c: [undefined, NaN, Infinity], d: 'x' };
    assert.equal(stringifyJson(value), JSON.stringify(value));
    assert.equal(stringifyJson(undefined), 'null');
  });

  it('keeps a string that looks like a marker a string', () => {
    const text = '{"s":"\\u0000bigint:5"}';
    const parsed = parseJsonLossless(text);
    assert.ok(parsed.ok);
    assert.equal(stringifyJson(parsed.value), text);
  });
});
