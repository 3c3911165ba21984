/**
 * Refused connections are logged per source and interval, at warn: a flood from one address
 * gives one line now and one count line per interval, not one line per connection.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REFUSAL_SOURCES, RefusalLog } from '../../../src/ops/refusal-log.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function sink() {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return {
    lines,
    warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
  };
}

describe('refusal log', () => {
  it('10,000 refusals from one address give one line, then one count per interval', () => {
    const clock = new FakeClock();
    const log = sink();
    const refusals = new RefusalLog(log, clock, 60_000);
    for (let i = 0; i < 10_000; i++) refusals.record('192.0.2.7', 'connection limit reached (20)');
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]?.message ?? '', /Refused a connection from 192\.0\.2\.7/);
    clock.advance(60_000);
    assert.equal(log.lines.length, 2);
    assert.equal(log.lines[1]?.fields.count, 9_999);
    assert.match(
      log.lines[1]?.message ?? '',
      /Refused 9999 more connections from 192\.0\.2\.7 in the last 60 s/,
    );
    // A quiet interval ends the aggregation: the next refusal is logged at once again.
    clock.advance(60_000);
    assert.equal(log.lines.length, 2);
    assert.equal(refusals.trackedSources, 0);
    refusals.record('192.0.2.7', 'again');
    assert.equal(log.lines.length, 3);
    refusals.close();
  });

  it('sources are bounded; the rest is summed under "other addresses"', () => {
    const clock = new FakeClock();
    const log = sink();
    const refusals = new RefusalLog(log, clock, 60_000);
    for (let i = 0; i < MAX_REFUSAL_SOURCES + 500; i++)
      refusals.record(`10.0.${i >> 8}.${i & 255}`, 'x');
    assert.equal(refusals.trackedSources, MAX_REFUSAL_SOURCES + 1);
    assert.equal(log.lines.length, MAX_REFUSAL_SOURCES, 'one line per tracked source');
    refusals.close();
    const others = log.lines.find((l) => l.fields.remote_address === 'other addresses');
    assert.equal(others?.fields.count, 500);
  });

  it('escapes control characters of the reason and address', () => {
    const clock = new FakeClock();
    const log = sink();
    const refusals = new RefusalLog(log, clock);
    refusals.record('192.0.2.1', 'bad\u001b[2Jreason');
    assert.ok(!(log.lines[0]?.message ?? '').includes('\u001b'), 'no raw ESC');
    assert.match(log.lines[0]?.message ?? '', /bad\\x1b\[2Jreason/);
    refusals.close();
  });
});
