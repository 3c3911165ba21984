import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildShipTxt,
  parseShipTxt,
  shipQrText,
  shipTxtSize,
  txtToBuffers,
  type ShipTxtInfo,
} from '../../../src/mdns/txt.js';
import { ConfigError } from '../../../src/ship/errors.js';
import { truncateUtf8 } from '../../../src/util/utf8.js';

/**
 * What ship-go (zeroconf provider) put on the wire in ../../shared/vectors/shipgo-mdns-netns.txt,
 * "first announcement/response, decoded", in order.
 */
const SHIPGO_SERVER_TXT = [
  'txtvers=1',
  'path=/ship/',
  'id=shipgo-peer-server',
  'ski=b1afa2cd890fdb82f118e6b29753d0baaf97d12f',
  'brand=shipgo-peer',
  'model=shipgo-peer-server',
  'type=EnergyManagementSystem',
  'register=true',
  'serial=0001',
  'cat=2',
];
/** The TXT length bytes Wireshark showed for the same record. */
const SHIPGO_SERVER_TXT_LENGTHS = [9, 11, 21, 44, 17, 24, 27, 13, 11, 5];

const SHIPGO_SERVER: ShipTxtInfo = {
  shipId: 'shipgo-peer-server',
  ski: 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f',
  brand: 'shipgo-peer',
  model: 'shipgo-peer-server',
  type: 'EnergyManagementSystem',
  register: true,
  serial: '0001',
  categories: [2],
};

const SKI = 'b467a3999eb5efa671de0032f08a9c9e5efda0e1';

describe('buildShipTxt', () => {
  it('matches what ship-go announces, key order included', () => {
    const txt = buildShipTxt(SHIPGO_SERVER);
    assert.deepEqual(txt, SHIPGO_SERVER_TXT);
    assert.deepEqual(
      txtToBuffers(txt).map((b) => b.length),
      SHIPGO_SERVER_TXT_LENGTHS,
    );
    // Wireshark: "Data length: 192" = sum of strings plus one length byte each.
    assert.equal(shipTxtSize(txt), 192);
  });

  it('normalises the SKI to lowercase hex and defaults the path', () => {
    const txt = buildShipTxt({
      ...SHIPGO_SERVER,
      ski: 'B467 A399 9EB5 EFA6 71DE 0032 F08A 9C9E 5EFD A0E1',
      register: false,
      serial: '',
      categories: [],
    });
    assert.deepEqual(txt, [
      'txtvers=1',
      'path=/ship/',
      'id=shipgo-peer-server',
      `ski=${SKI}`,
      'brand=shipgo-peer',
      'model=shipgo-peer-server',
      'type=EnergyManagementSystem',
      'register=false',
    ]);
  });

  it('joins several categories with commas', () => {
    const txt = buildShipTxt({ ...SHIPGO_SERVER, categories: [3, 7] });
    assert.equal(txt.at(-1), 'cat=3,7');
  });

  it('truncates brand, model, type and serial to 32 bytes without splitting characters', () => {
    const long = 'Ä'.repeat(20); // 40 bytes
    const txt = buildShipTxt({
      ...SHIPGO_SERVER,
      brand: 'B'.repeat(40),
      model: long,
      type: 'T'.repeat(33),
      serial: 'S'.repeat(32),
    });
    assert.equal(txt[4], `brand=${'B'.repeat(32)}`);
    assert.equal(txt[5], `model=${'Ä'.repeat(16)}`);
    assert.equal(txt[6], `type=${'T'.repeat(32)}`);
    assert.equal(txt[8], `serial=${'S'.repeat(32)}`);
    assert.equal(truncateUtf8('aÄ', 2), 'a');
  });

  it('throws a clear ConfigError when the record exceeds 400 bytes', () => {
    assert.throws(
      () => buildShipTxt({ ...SHIPGO_SERVER, shipId: 'x'.repeat(240) }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === 'SHIPHUB_ERR_CONFIG' &&
        /SHIP allows 400/.test(error.message),
    );
  });

  it('throws when one string would exceed 255 bytes', () => {
    assert.throws(() => buildShipTxt({ ...SHIPGO_SERVER, shipId: 'x'.repeat(260) }), /255/);
  });

  it('refuses a bad SKI, an empty SHIP ID, a bad path and bad categories', () => {
    assert.throws(() => buildShipTxt({ ...SHIPGO_SERVER, ski: 'abc' }), /not an SKI/);
    assert.throws(() => buildShipTxt({ ...SHIPGO_SERVER, shipId: '' }), /SHIP ID is empty/);
    assert.throws(() => buildShipTxt({ ...SHIPGO_SERVER, path: 'ship' }), /must start with "\/"/);
    assert.throws(() => buildShipTxt({ ...SHIPGO_SERVER, categories: [1.5] }), /category/);
  });

  it('round-trips through parseShipTxt', () => {
    const parsed = parseShipTxt(txtToBuffers(buildShipTxt(SHIPGO_SERVER)));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.record, {
      txtvers: 1,
      shipId: 'shipgo-peer-server',
      path: '/ship/',
      ski: 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f',
      announcedSki: 'b1afa2cd890fdb82f118e6b29753d0baaf97d12f',
      register: true,
      brand: 'shipgo-peer',
      model: 'shipgo-peer-server',
      type: 'EnergyManagementSystem',
      serial: '0001',
      categories: [2],
      extra: {},
    });
  });
});

describe('parseShipTxt leniency (ship-go compatible)', () => {
  const base: Record<string, string> = {
    txtvers: '1',
    id: 'Demo-EVSE-234567890',
    path: '/ship/',
    ski: '41c98b1bbe5fc7657ce311981951f12d304ab419',
    register: 'false',
  };
  const without = (key: string) =>
    Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));

  const table: Array<{
    name: string;
    input: Record<string, string> | string[] | Buffer[];
    ok: boolean;
    reason?: RegExp;
    check?: (record: NonNullable<ReturnType<typeof parseShipTxt> & { ok: true }>['record']) => void;
  }> = [
    { name: 'minimal record', input: base, ok: true },
    { name: 'txtvers=2 ignored', input: { ...base, txtvers: '2' }, ok: false, reason: /txtvers=2/ },
    {
      name: 'register=yes ignored',
      input: { ...base, register: 'yes' },
      ok: false,
      reason: /register/,
    },
    {
      name: 'register=TRUE ignored',
      input: { ...base, register: 'TRUE' },
      ok: false,
      reason: /register/,
    },
    { name: 'txtvers missing', input: without('txtvers'), ok: false, reason: /"txtvers"/ },
    { name: 'id missing', input: without('id'), ok: false, reason: /"id"/ },
    { name: 'path missing', input: without('path'), ok: false, reason: /"path"/ },
    { name: 'ski missing', input: without('ski'), ok: false, reason: /"ski"/ },
    { name: 'register missing', input: without('register'), ok: false, reason: /"register"/ },
    { name: 'ski not hex', input: { ...base, ski: 'zz' }, ok: false, reason: /not an SKI/ },
    {
      name: 'uppercase SKI with separators normalised, announced form kept',
      input: { ...base, ski: '41C9 8B1B BE5F C765 7CE3 1198 1951 F12D 304A B419' },
      ok: true,
      check: (r) => {
        assert.equal(r.ski, '41c98b1bbe5fc7657ce311981951f12d304ab419');
        assert.equal(r.announcedSki, '41C9 8B1B BE5F C765 7CE3 1198 1951 F12D 304A B419');
      },
    },
    {
      name: 'unknown keys kept in extra, keys case-insensitive',
      input: [
        'TXTVERS=1',
        'Id=X',
        'PATH=/ship/',
        `SKI=${SKI}`,
        'Register=true',
        'vendor=acme',
        'flag',
      ],
      ok: true,
      check: (r) => {
        assert.equal(r.shipId, 'X');
        assert.equal(r.register, true);
        assert.deepEqual(r.extra, { vendor: 'acme', flag: '' });
      },
    },
    {
      name: 'first occurrence of a key wins (RFC 6763 §6.4), empty strings skipped',
      input: [
        'txtvers=1',
        'id=first',
        'id=second',
        '',
        '=novalue',
        'path=/',
        `ski=${SKI}`,
        'register=false',
      ],
      ok: true,
      check: (r) => assert.equal(r.shipId, 'first'),
    },
    {
      name: 'byte arrays (Avahi aay, DNS TXT) decoded as UTF-8',
      input: txtToBuffers([
        ...Object.entries(base).map(([k, v]) => `${k}=${v}`),
        'brand=Wärme',
        'cat=3, 7,x',
      ]),
      ok: true,
      check: (r) => {
        assert.equal(r.brand, 'Wärme');
        assert.deepEqual(r.categories, [3, 7]);
      },
    },
  ];

  for (const row of table) {
    it(row.name, () => {
      const result = parseShipTxt(row.input);
      assert.equal(result.ok, row.ok, JSON.stringify(result));
      if (!result.ok && row.reason !== undefined) assert.match(result.reason, row.reason);
      if (result.ok && row.check !== undefined) row.check(result.record);
    });
  }
});

describe('shipQrText', () => {
  it('renders the SRIP QR code text in order and leaves out empty values', () => {
    assert.equal(
      shipQrText({
        ski: SKI.toUpperCase(),
        shipId: 'Demo-EVSE-234567890',
        brand: 'Demo',
        type: 'ChargingStation',
        model: 'EVSE',
        serial: '234567890',
        categories: [3],
      }),
      `SHIP;SKI:${SKI};ID:Demo-EVSE-234567890;BRAND:Demo;TYPE:ChargingStation;MODEL:EVSE;SERIAL:234567890;CAT:3;ENDSHIP;`,
    );
    assert.equal(
      shipQrText({ ski: SKI, shipId: 'a;b', brand: ';', serial: '' }),
      `SHIP;SKI:${SKI};ID:ab;ENDSHIP;`,
    );
  });
});
