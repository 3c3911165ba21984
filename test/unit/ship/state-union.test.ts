/**
 * SmeState is a union keyed by sub-state: each member narrows the phase flags. The machine builds
 * the next state in a draft the compiler cannot follow, so this test checks every state the fuzz
 * scripts and a bounded fuzz run reach against what the union allows.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  initialState,
  smeConfig,
  type SmeInput,
  type StepResult,
} from '../../../src/ship/handshake/index.js';
import { arbCommands, FuzzDriver, prefixes } from '../../fuzz/sme-fuzz.js';
import { smeStateProblem } from '../../helpers/sme-state-check.js';

class CheckingDriver extends FuzzDriver {
  readonly reached = new Set<string>();

  override apply(input: SmeInput): StepResult {
    const result = super.apply(input);
    const problem = smeStateProblem(result.state);
    if (problem !== undefined) throw new Error(problem);
    this.reached.add(result.state.sub);
    return result;
  }
}

describe('SmeState union', () => {
  it('accepts the initial states and refuses impossible flag combinations', () => {
    const trusted = initialState(
      smeConfig({ role: 'client', localShipId: 'a', initialTrust: 'trusted' }),
    );
    assert.equal(smeStateProblem(trusted), undefined);
    assert.match(
      smeStateProblem({ ...trusted, sub: 'SME_STATE_COMPLETE', localReady: true } as never) ?? '',
      /remotePinDone/,
    );
    assert.match(
      smeStateProblem({ ...trusted, sub: 'SME_HELLO_STATE_ABORT_DONE' } as never) ?? '',
      /without a failure/,
    );
  });

  it('holds for every state the scripts and a bounded fuzz run reach', () => {
    const reached = new Set<string>();
    for (const prefix of prefixes()) {
      assert.equal(smeStateProblem(prefix.state), undefined, prefix.name);
      reached.add(prefix.state.sub);
    }
    prefixes().forEach((prefix, index) => {
      fc.assert(
        fc.property(arbCommands, (commands) => {
          const driver = new CheckingDriver(prefix);
          for (const command of commands) driver.exec(command);
          for (let i = 0; i < 16 && driver.fireNext(); i++);
          for (const sub of driver.reached) reached.add(sub);
        }),
        { seed: 20261203 + index, numRuns: 8 },
      );
    });
    // Every sub-state was seen, so every member of the union was checked.
    assert.equal(reached.size, 15, [...reached].join(', '));
  });
});
