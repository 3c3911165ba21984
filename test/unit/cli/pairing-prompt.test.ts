/**
 * The terminal pairing question: input typed while no question is shown is never an answer, an
 * answer applies only to the request on screen, questions come one at a time, and a request
 * decided elsewhere or withdrawn takes its question with it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { PendingPairing } from '../../../src/hub/hub.js';
import { PairingPrompt } from '../../../src/cli/pairing-prompt.js';
import { toSki, type Ski } from '../../../src/ship/ski.js';

const A = toSki('a'.repeat(40));
const B = toSki('b'.repeat(40));

function request(ski: Ski): PendingPairing {
  return { ski, remoteAddress: '192.0.2.1', since: new Date(0), expiresAt: new Date(600_000) };
}

function setup() {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => (shown += chunk.toString()));
  const pending = new Set<Ski>();
  const decisions: string[] = [];
  const failing = { approve: false };
  const prompt = new PairingPrompt({
    input,
    output,
    format: (r) => `Trust ${r.ski.slice(0, 4)}? (yes/no): `,
    target: {
      isPending: (ski) => pending.has(ski),
      approve: (ski) => {
        decisions.push(`approve ${ski.slice(0, 4)}`);
        // A full disk: the trust cannot be saved and the request stays pending.
        if (failing.approve) return Promise.reject(new Error('ENOSPC: no space left'));
        pending.delete(ski);
        return Promise.resolve();
      },
      deny: (ski) => {
        decisions.push(`deny ${ski.slice(0, 4)}`);
        return pending.delete(ski);
      },
    },
  });
  /** Types one line and waits until readline has handed it to the prompt. */
  const type = async (line: string): Promise<void> => {
    const before = prompt.ignoredLines + decisions.length + shown.length;
    input.write(`${line}\n`);
    for (let turns = 0; turns < 100; turns++) {
      if (prompt.ignoredLines + decisions.length + shown.length !== before) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  return { prompt, pending, decisions, failing, type, shown: () => shown };
}

describe('terminal pairing prompt', () => {
  it('discards "yes" typed before a question: it does not approve the next device', async () => {
    const t = setup();
    await t.type('yes');
    assert.equal(t.prompt.ignoredLines, 1);
    assert.match(t.shown(), /ignored: no pairing question is open/);
    t.pending.add(A);
    t.prompt.ask(request(A));
    // Give readline every chance to deliver anything it kept.
    for (let turns = 0; turns < 20; turns++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(t.decisions, [], 'nothing decided without an answer to the question shown');
    assert.equal(t.prompt.showing, A);
    await t.type('yes');
    assert.deepEqual(t.decisions, [`approve aaaa`]);
    t.prompt.close();
  });

  it('an approval that cannot be saved says so, and the request stays pending', async () => {
    const t = setup();
    t.failing.approve = true;
    t.pending.add(A);
    t.prompt.ask(request(A));
    await t.type('yes');
    for (let turns = 0; turns < 20 && !t.shown().includes('could not save'); turns++) {
      await new Promise((r) => setImmediate(r));
    }
    assert.match(
      t.shown(),
      /could not save the approval \(ENOSPC: no space left\); the request stays pending/,
    );
    assert.equal(t.pending.has(A), true);
    t.prompt.close();
  });

  it('one question at a time; each answer goes to the request on screen', async () => {
    const t = setup();
    t.pending.add(A);
    t.pending.add(B);
    t.prompt.ask(request(A));
    t.prompt.ask(request(B));
    assert.equal(t.prompt.showing, A);
    assert.equal((t.shown().match(/Trust /g) ?? []).length, 1, 'only the first question shown');
    await t.type('maybe');
    assert.equal((t.shown().match(/Trust aaaa/g) ?? []).length, 2, 'an unclear answer asks again');
    await t.type('no');
    assert.equal(t.prompt.showing, B);
    await t.type('yes');
    assert.deepEqual(t.decisions, ['deny aaaa', 'approve bbbb']);
    assert.equal(t.prompt.showing, undefined);
    t.prompt.close();
  });

  it('a request decided elsewhere is withdrawn from screen and the next is shown', async () => {
    const t = setup();
    t.pending.add(A);
    t.pending.add(B);
    t.prompt.ask(request(A));
    t.prompt.ask(request(B));
    // Approved through the CLI meanwhile.
    t.pending.delete(A);
    t.prompt.withdraw(A, 'aaaa was approved meanwhile');
    assert.match(t.shown(), /\(aaaa was approved meanwhile: question withdrawn\)/);
    assert.equal(t.prompt.showing, B);
    await t.type('yes');
    assert.deepEqual(t.decisions, ['approve bbbb'], 'the answer went to B, not to A');
    t.prompt.close();
  });

  it('a queued request that ended is skipped; a repeated request is asked once', async () => {
    const t = setup();
    t.pending.add(A);
    t.pending.add(B);
    t.prompt.ask(request(A));
    t.prompt.ask(request(B));
    t.prompt.ask(request(B));
    t.prompt.ask(request(A));
    t.pending.delete(B);
    t.prompt.withdraw(B, 'bbbb left');
    assert.doesNotMatch(t.shown(), /bbbb left/, 'B was only queued: nothing to withdraw on screen');
    await t.type('no');
    assert.equal(t.prompt.showing, undefined, 'B is not asked: it is no longer pending');
    assert.deepEqual(t.decisions, ['deny aaaa']);
    assert.equal((t.shown().match(/Trust aaaa/g) ?? []).length, 1);
    t.prompt.close();
  });
});
