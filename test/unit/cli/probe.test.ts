import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeFailure, explain } from '../../../src/cli/commands/probe.js';
import { TransportError } from '../../../src/ship/errors.js';

describe('probe failure texts', () => {
  it("a peer's close reason is shown escaped, the hint on its own line", () => {
    assert.equal(
      describeFailure({
        code: 'SHIPHUB_ERR_CONNECTION_LOST',
        phase: 'hello',
        message: 'the device dropped the connection (close code 4000: \x1b[2J\rSKI: 0000)',
        hint: 'check \x1b]0;x\x07',
      }),
      'failed in hello (trust): the device dropped the connection ' +
        '(close code 4000: \\x1b[2J\\x0dSKI: 0000)\n    what to do: check \\x1b]0;x\\x07',
    );
  });

  it('a TLS error quoting the certificate is shown escaped', () => {
    const err = new TransportError(
      'SHIPHUB_ERR_TRANSPORT',
      'the certificate could not be read: unreadable time "20\x1b[2J"',
      { hint: 'a\u202eb' },
    );
    assert.equal(
      explain(err),
      'the certificate could not be read: unreadable time "20\\x1b[2J"\n    what to do: a\\u202eb',
    );
    assert.equal(explain(new Error('x\x9by')), 'x\\x9by');
  });
});
