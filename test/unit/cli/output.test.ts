import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCliError, formatTable } from '../../../src/cli/output.js';
import { ConfigError, ShipHubError } from '../../../src/ship/errors.js';

// eslint-disable-next-line no-control-regex -- the tests look for control characters
const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';

describe('CLI tables (pairing list, trust list)', () => {
  it('escapes what the device sent and keeps the columns aligned', () => {
    const lines = formatTable(
      [
        { ski: SKI, brand: 'Evil\x1b[2JCorp', model: 'M\r', device_type: 'T\u202e', n: 3 },
        { ski: SKI, brand: 'Viessmann', model: 'Vitocal', device_type: 'HeatPump', n: 12 },
      ],
      ['ski', 'brand', 'model', 'device_type', 'n'],
    );
    assert.deepEqual(lines, [
      // Every column is padded, the last one too (as before).
      `SKI${' '.repeat(39)}BRAND            MODEL    DEVICE_TYPE  N `,
      `${SKI}  Evil\\x1b[2JCorp  M\\x0d    T\\u202e      3 `,
      `${SKI}  Viessmann        Vitocal  HeatPump     12`,
    ]);
    for (const line of lines) assert.doesNotMatch(line, CONTROL_OR_BIDI);
  });

  it('bounds a long cell and escapes objects rendered as JSON', () => {
    const [, row] = formatTable(
      [{ brand: 'B'.repeat(255), extra: { x: 'a\u202eb' } }],
      ['brand', 'extra'],
    );
    assert.equal(row, `${'B'.repeat(63)}…  {"x":"a\\u202eb"}`);
  });

  it('prints "(none)" for no rows', () => {
    assert.deepEqual(formatTable([], ['ski']), ['(none)']);
  });
});

describe('CLI error lines', () => {
  it('escape a quoted device value and keep the message on one line', () => {
    const err = new ShipHubError('SHIPHUB_ERR_TRANSPORT', 'closed: Evil\x1b[2J\nship-hub: fake', {
      hint: 'approve \x1b[8mhidden',
    });
    assert.deepEqual(formatCliError(err), [
      'ship-hub: closed: Evil\\x1b[2J\\x0aship-hub: fake',
      '  what to do: approve \\x1b[8mhidden',
    ]);
    assert.deepEqual(formatCliError(new TypeError('not an SKI: "\r"')), [
      'ship-hub: not an SKI: "\\x0d"',
    ]);
  });

  it('a configuration error keeps one problem a line', () => {
    const err = new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      'config.json: port: bad\nconfig.json: x\x1b',
      {
        hint: 'fix it',
      },
    );
    assert.deepEqual(formatCliError(err), [
      'ship-hub: config.json: port: bad',
      'config.json: x\\x1b',
      '  what to do: fix it',
    ]);
  });
});
