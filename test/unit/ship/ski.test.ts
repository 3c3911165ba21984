import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareSki, parseSki, shortSki, skiFromBytes, toSki } from '../../../src/ship/ski.js';

describe('ski', () => {
  it('normalises spaces, dashes, colons, dots and case', () => {
    const want = 'b467a3999eb5efa671de0032f08a9c9e5efda0e1';
    assert.equal(parseSki('B467 A399 9EB5 EFA6 71DE 0032 F08A 9C9E 5EFD A0E1'), want);
    assert.equal(parseSki('b4-67-a3-99-9e-b5-ef-a6-71-de-00-32-f0-8a-9c-9e-5e-fd-a0-e1'), want);
    assert.equal(parseSki('B4:67:A3:99:9E:B5:EF:A6:71:DE:00:32:F0:8A:9C:9E:5E:FD:A0:E1'), want);
    assert.equal(parseSki('b467a399.9eb5efa6.71de0032.f08a9c9e.5efda0e1'), want);
  });

  it('refuses what is not 20 bytes of hex', () => {
    assert.equal(parseSki('b467a3999eb5efa671de0032f08a9c9e5efda0e'), undefined);
    assert.equal(parseSki('g467a3999eb5efa671de0032f08a9c9e5efda0e1'), undefined);
    assert.equal(parseSki(''), undefined);
    assert.throws(() => toSki('nope'), /not an SKI: "nope"/);
  });

  it('orders by the numeric value of the bytes', () => {
    const low = toSki('0'.repeat(39) + '1');
    const high = toSki('F'.repeat(40));
    assert.equal(compareSki(low, high), -1);
    assert.equal(compareSki(high, low), 1);
    assert.equal(compareSki(low, low), 0);
  });

  it('renders bytes and short forms', () => {
    const bytes = new Uint8Array(20).fill(0xab);
    assert.equal(skiFromBytes(bytes), 'ab'.repeat(20));
    assert.throws(() => skiFromBytes(new Uint8Array(8)), /20 bytes, got 8/);
    assert.equal(shortSki('a1b2c3d4e5f60718'), 'a1b2c3d4e5f6...');
  });
});
