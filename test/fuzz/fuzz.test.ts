/**
 * CI fuzzing of the pure SHIP core: the codec, the EEBUS-JSON converters and the SME state
 * machine in every resting state of both roles (see sme-fuzz.ts and codec-fuzz.ts for the
 * inputs and the invariants). More than 100,000 inputs per run, well under a minute.
 *
 * The seed is random per run and printed; reproduce a failure with
 *   FUZZ_SEED=<seed> node --test build/test/fuzz/fuzz.test.js
 * or fuzz longer with `npm run fuzz -- --seconds 600 [--seed <seed>]`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage } from '../../src/ship/codec/index.js';
import { recordFigures } from '../reliability/figures.js';
import { fuzzCodec, newCodecStats } from './codec-fuzz.js';
import {
  FuzzDriver,
  FuzzInvariantError,
  MSG,
  fuzzSme,
  newStats,
  prefixes,
  uncoveredStates,
  type FuzzFailure,
} from './sme-fuzz.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Date.now() | 0;
/** Inputs per CI run, in total (the brief: at least 100,000). */
const MIN_INPUTS = 100_000;
const SME_RUNS_PER_PREFIX = 1_500;
const CODEC_RUNS = 50_000;
const EEBUS_RUNS = 15_000;

function report(failures: readonly FuzzFailure[]): string {
  return failures
    .map(
      (f) =>
        `${f.target}: ${f.message}\n  reproduce: FUZZ_SEED=${SEED} (fast-check seed ${f.seed}, path ${f.path ?? '-'})`,
    )
    .join('\n');
}

describe(`fuzzing the pure SHIP core (FUZZ_SEED=${SEED})`, () => {
  const sme = newStats();
  const codec = newCodecStats();
  let smeSeconds = 0;
  let codecSeconds = 0;

  it('the scripted prefixes reach every resting state of both roles', () => {
    assert.deepEqual(uncoveredStates(), []);
    assert.ok(prefixes().length >= 26, `${prefixes().length} prefixes`);
  });

  it('the invariant checker rejects bad steps (it can fail)', () => {
    const at = (sub: string) => {
      const prefix = prefixes().find((p) => p.state.sub === sub);
      assert.ok(prefix, sub);
      return new FuzzDriver(prefix);
    };
    const pin = at('SME_PIN_STATE_LISTEN');
    const data = encodeMessage({ kind: 'data', value: { protocolId: 'ee1.0', payload: 1 } });
    // a data event before data exchange
    assert.throws(
      () =>
        pin.checkResult(
          { kind: 'message', now: pin.now, bytes: data },
          {
            state: pin.state,
            effects: [{ kind: 'event', event: { type: 'data', payload: 1, protocolId: 'ee1.0' } }],
          },
        ),
      (e: unknown) =>
        e instanceof FuzzInvariantError && e.invariant === 'no data before data exchange',
    );
    // a close without a usable code
    assert.throws(
      () =>
        pin.checkResult(
          { kind: 'timer', now: pin.now, id: 'pinWait' },
          {
            state: { ...pin.state, sub: 'CLOSED' },
            effects: [{ kind: 'closeTransport', code: 1006, reason: 'x' }],
          },
        ),
      (e: unknown) =>
        e instanceof FuzzInvariantError && e.invariant === 'every close carries a code',
    );
    // something sent after CLOSED
    const closed = at('CLOSED');
    assert.throws(
      () =>
        closed.checkResult(
          { kind: 'message', now: closed.now, bytes: MSG.cmi },
          { state: closed.state, effects: [{ kind: 'send', bytes: MSG.cmi, message: 'init' }] },
        ),
      (e: unknown) =>
        e instanceof FuzzInvariantError && e.invariant === 'after CLOSED nothing is emitted',
    );
  });

  it('SME: random and mutated inputs in every state never break an invariant', () => {
    const started = performance.now();
    const failures = fuzzSme({ seed: SEED, runsPerPrefix: SME_RUNS_PER_PREFIX, stats: sme });
    const seconds = (performance.now() - started) / 1000;
    smeSeconds = seconds;
    console.log(
      `SME fuzz: ${sme.inputs} inputs in ${sme.runs} runs from ${prefixes().length} prefixes, ` +
        `${seconds.toFixed(1)} s; ${sme.visited.size} sub-states and ${sme.transitions.size} ` +
        `transitions entered; ${sme.closedRuns} runs ended CLOSED, ${sme.dataRuns} carried data`,
    );
    assert.equal(failures.length, 0, report(failures));
    // The fuzzer must really get around: data exchange and closing are reached by fuzzed input.
    for (const sub of [
      'SME_STATE_COMPLETE',
      'CLOSING_ANNOUNCED',
      'CLOSED',
      'SME_PIN_STATE_LISTEN',
    ]) {
      assert.ok(sme.visited.has(sub as never), `the fuzzer never entered ${sub}`);
    }
    assert.ok(sme.dataRuns > 0, 'no run carried data');
  });

  it('codec and EEBUS-JSON: hostile bytes and JSON never break an invariant', () => {
    const started = performance.now();
    const failures = fuzzCodec({
      seed: SEED,
      codecRuns: CODEC_RUNS,
      eebusRuns: EEBUS_RUNS,
      stats: codec,
    });
    const seconds = (performance.now() - started) / 1000;
    codecSeconds = seconds;
    console.log(
      `codec fuzz: ${codec.codecInputs} messages (${codec.decodedOk} decoded), ` +
        `${codec.eebusInputs} EEBUS-JSON values (${codec.eebusTooDeep} refused as too deep), ` +
        `${seconds.toFixed(1)} s`,
    );
    assert.equal(failures.length, 0, report(failures));
    assert.ok(codec.decodedOk > 100, 'hardly anything decoded: the inputs are too broken');
    assert.ok(codec.eebusTooDeep > 0, 'the nesting limit was never reached');
  });

  it(`at least ${MIN_INPUTS} inputs in total`, () => {
    const total = sme.inputs + codec.codecInputs + codec.eebusInputs;
    console.log(`fuzz total: ${total} inputs (seed ${SEED})`);
    recordFigures('fuzz', {
      seed: SEED,
      total,
      smeInputs: sme.inputs,
      smeRuns: sme.runs,
      prefixes: prefixes().length,
      subStates: sme.visited.size,
      transitions: sme.transitions.size,
      closedRuns: sme.closedRuns,
      dataRuns: sme.dataRuns,
      codecInputs: codec.codecInputs,
      decodedOk: codec.decodedOk,
      eebusInputs: codec.eebusInputs,
      eebusTooDeep: codec.eebusTooDeep,
      seconds: Math.round((smeSeconds + codecSeconds) * 10) / 10,
    });
    assert.ok(total >= MIN_INPUTS, `only ${total} inputs`);
  });
});
