/**
 * On-demand fuzzing of the pure SHIP core, longer than CI: `npm run fuzz -- --seconds 600`.
 *
 *   node build/test/fuzz/run.js [--seconds N] [--seed S]
 *
 * Runs rounds of the SME, codec and EEBUS-JSON fuzzers (the same engines and invariants as
 * fuzz.test.ts) with a new seed per round until N seconds (default 300) have passed, then prints
 * one JSON summary on stdout (progress goes to stderr). Exits 1 if any invariant broke; each
 * failure names its round seed, so `--seed <round seed> --seconds 1` reproduces it.
 */
import { parseArgs } from 'node:util';
import { fuzzCodec, newCodecStats } from './codec-fuzz.js';
import { fuzzSme, newStats, prefixes, type FuzzFailure } from './sme-fuzz.js';

/** Per round: about 150,000 SME inputs and 17,000 codec inputs, about 1.5 s. */
const SME_RUNS_PER_PREFIX = 300;
const CODEC_RUNS = 12_000;
const EEBUS_RUNS = 4_000;

export interface FuzzSummary {
  readonly seed: number;
  readonly seconds: number;
  readonly rounds: number;
  readonly inputs: {
    readonly sme: number;
    readonly codec: number;
    readonly eebusJson: number;
    readonly total: number;
  };
  readonly inputsPerSecond: number;
  readonly smeRuns: number;
  readonly prefixes: number;
  readonly subStatesEntered: number;
  readonly transitions: number;
  readonly failures: ReadonlyArray<FuzzFailure & { readonly roundSeed: number }>;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '300' },
      seed: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    console.error(`--seconds must be a positive number, got "${values.seconds}"`);
    process.exit(2);
  }
  const seed = values.seed !== undefined ? Number(values.seed) | 0 : Date.now() | 0;
  console.error(`fuzzing for ${seconds} s, seed ${seed}`);

  const sme = newStats();
  const codec = newCodecStats();
  const failures: Array<FuzzFailure & { roundSeed: number }> = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let rounds = 0;
  // Bounded by time, and by count as a safety net (one round takes about a second).
  while (performance.now() < deadline && rounds < 1_000_000) {
    const roundSeed = rounds === 0 ? seed : (seed + rounds * 1_000_003) | 0;
    for (const f of fuzzSme({ seed: roundSeed, runsPerPrefix: SME_RUNS_PER_PREFIX, stats: sme })) {
      failures.push({ ...f, roundSeed });
    }
    const codecFailures = fuzzCodec({
      seed: roundSeed,
      codecRuns: CODEC_RUNS,
      eebusRuns: EEBUS_RUNS,
      stats: codec,
    });
    for (const f of codecFailures) failures.push({ ...f, roundSeed });
    rounds += 1;
    if (rounds % 10 === 0) {
      const total = sme.inputs + codec.codecInputs + codec.eebusInputs;
      console.error(
        `round ${rounds}: ${total} inputs, ${failures.length} failures, ` +
          `${Math.round((performance.now() - started) / 1000)} s`,
      );
    }
    // A broken invariant usually breaks again in every round: stop after a few.
    if (failures.length >= 20) break;
  }
  const elapsed = (performance.now() - started) / 1000;
  const total = sme.inputs + codec.codecInputs + codec.eebusInputs;
  const summary: FuzzSummary = {
    seed,
    seconds: Math.round(elapsed * 10) / 10,
    rounds,
    inputs: {
      sme: sme.inputs,
      codec: codec.codecInputs,
      eebusJson: codec.eebusInputs,
      total,
    },
    inputsPerSecond: Math.round(total / elapsed),
    smeRuns: sme.runs,
    prefixes: prefixes().length,
    subStatesEntered: sme.visited.size,
    transitions: sme.transitions.size,
    failures,
  };
  console.log(JSON.stringify(summary, null, 2));
  for (const f of failures) {
    console.error(
      `FAILED ${f.target}: ${f.message}\n  reproduce: node build/test/fuzz/run.js --seed ${f.roundSeed} --seconds 1`,
    );
  }
  process.exit(failures.length === 0 ? 0 : 1);
}

main();
