import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { safeTerminalText, terminalJson } from '../../../src/util/terminal-text.js';

/** Every character the helper must never let through. */
// eslint-disable-next-line no-control-regex -- the test looks for control characters
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** Strings built mostly from the dangerous characters, with some text around them. */
const hostile = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
      fc.constantFrom('\u061c', '\u200e', '\u200f', '\u2028'),
      fc.integer({ min: 0x202a, max: 0x202e }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0x2066, max: 0x2069 }).map((c) => String.fromCharCode(c)),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('\\', '\\x1b', '…', '🔒', 'é'),
    ),
  )
  .map((parts) => parts.join(''));

describe('safeTerminalText', () => {
  it('golden cases: controls and bidi characters become visible escapes', () => {
    const cases: Array<[string, string]> = [
      ['Evil\x1b[2JCorp', 'Evil\\x1b[2JCorp'],
      ['a1b2c3\rSKI: 0000', 'a1b2c3\\x0dSKI: 0000'],
      ['line1\nline2\ttab', 'line1\\x0aline2\\x09tab'],
      ['nul\0bel\x07del\x7f', 'nul\\x00bel\\x07del\\x7f'],
      ['c1 csi \u009b2J nel \u0085', 'c1 csi \\x9b2J nel \\x85'],
      ['abc\u202edcba', 'abc\\u202edcba'],
      ['\u2066isolate\u2069 \u202aembed\u202c', '\\u2066isolate\\u2069 \\u202aembed\\u202c'],
      ['mark\u200e\u200f\u061c', 'mark\\u200e\\u200f\\u061c'],
      ['Viessmann Vitocal 250-A', 'Viessmann Vitocal 250-A'],
      ['Wärmepumpe 🔒 …', 'Wärmepumpe 🔒 …'],
      ['C:\\path\\x1b', 'C:\\path\\x1b'],
      ['', ''],
    ];
    for (const [input, expected] of cases) {
      assert.equal(safeTerminalText(input), expected, JSON.stringify(input));
    }
  });

  it('truncates long values with an ellipsis, never splitting an escape or a surrogate pair', () => {
    assert.equal(safeTerminalText('abcdefghij', 10), 'abcdefghij');
    assert.equal(safeTerminalText('abcdefghijk', 10), 'abcdefghi…');
    assert.equal(safeTerminalText('a'.repeat(300), 64).length, 64);
    // 'abc' + '\x1b' (4 units) does not fit in 9 units with the ellipsis: the escape is left out.
    assert.equal(safeTerminalText('abcde\x1bfghij', 9), 'abcde…');
    assert.equal(safeTerminalText('abcd\x1bfghij', 9), 'abcd\\x1b…');
    assert.equal(safeTerminalText('ab🔒cdef', 4), 'ab…');
    assert.equal(safeTerminalText('\x1b[2J', 2), '…');
  });

  it('property: the output never contains a control or bidi formatting character', () => {
    fc.assert(
      fc.property(
        hostile,
        fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }),
        (s, n) => {
          const out = safeTerminalText(s, n);
          assert.doesNotMatch(out, FORBIDDEN);
          if (n !== undefined) assert.ok(out.length <= n, `${out.length} > ${n}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: printable ASCII comes out unchanged', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode) }),
        (s) => {
          assert.equal(safeTerminalText(s), s);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('terminalJson', () => {
  it('property: parses back to the same value and holds no control or bidi character', () => {
    fc.assert(
      fc.property(fc.dictionary(hostile, hostile, { noNullPrototype: true }), (record) => {
        const line = terminalJson(record);
        assert.doesNotMatch(line, FORBIDDEN);
        assert.deepEqual(JSON.parse(line), record);
      }),
      { numRuns: 1000 },
    );
  });

  it('escapes C1 and bidi characters that JSON.stringify leaves raw', () => {
    assert.equal(
      terminalJson({ brand: 'a\u009bb\u202ec\x1b' }),
      '{"brand":"a\\u009bb\\u202ec\\u001b"}',
    );
  });
});
