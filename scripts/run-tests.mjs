// Runs the compiled *.test.js under build/test with node's built-in runner.
// Node 20's --test does not expand globs, so the list is built here.
//
// Usage: node scripts/run-tests.mjs [--coverage] [--tier unit|integration|reliability]
//                                   [substring-filter ...]
//
// Tiers are folders, so a new test file lands in its tier by where it is written:
//   unit         build/test/{unit,golden,property,fuzz}: pure code, no sockets, seconds
//   integration  build/test/integration: real TLS/WebSocket on loopback, child processes,
//                network namespaces (root)
//   reliability  build/test/reliability: kill loops, exhaustion, live fuzzing (count-bounded)
//
// Skipped tests are listed after the run with their reason. With SHIPHUB_REQUIRE_NETNS=1 (CI as
// root sets it) a skipped mDNS/Avahi namespace test fails the run: CI must not hide it.
//
// --coverage collects V8 coverage of build/src (child processes included: daemons the tests start
// inherit NODE_V8_COVERAGE), reports it per source file through the source maps with c8 into
// coverage/, and fails the run below the thresholds in COVERAGE_THRESHOLDS. npm test uses it for
// the machine's Node (20 in CI); the other majors run without it.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const TIERS = {
  unit: ['build/test/unit/', 'build/test/golden/', 'build/test/property/', 'build/test/fuzz/'],
  integration: ['build/test/integration/'],
  reliability: ['build/test/reliability/'],
};

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

/** Percentages the suite must hold; `prefix` is matched against the source path under src/. */
const COVERAGE_THRESHOLDS = [
  { prefix: 'src/', metric: 'lines', min: 90 },
  { prefix: 'src/ship/', metric: 'branches', min: 95 },
];

const args = process.argv.slice(2);
const coverageAt = args.indexOf('--coverage');
const coverage = coverageAt >= 0;
if (coverage) args.splice(coverageAt, 1);
let tier;
const tierAt = args.indexOf('--tier');
if (tierAt >= 0) {
  tier = args[tierAt + 1];
  args.splice(tierAt, 2);
  if (!(tier in TIERS)) {
    console.error(`unknown tier "${tier}": one of ${Object.keys(TIERS).join(', ')}`);
    process.exit(2);
  }
}
const filters = args;
const files = walk('build/test', [])
  .filter((f) => tier === undefined || TIERS[tier].some((prefix) => f.startsWith(prefix)))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under build/test');
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'ship-hub-tests-'));
const tap = join(work, 'results.tap');
const v8Coverage = join(work, 'v8-coverage');
const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  {
    stdio: 'inherit',
    env: coverage ? { ...process.env, NODE_V8_COVERAGE: v8Coverage } : process.env,
  },
);

// Every skipped test, with the file it is in (TAP: "ok N - name # SKIP reason").
const skipped = [];
let file = '';
for (const line of readFileSync(tap, 'utf8').split('\n')) {
  const test = /^# Subtest: (.*)$/.exec(line);
  if (test !== null && test[1].endsWith('.test.js')) file = test[1];
  const skip = /^\s*ok \d+ - (.*) # SKIP\s*(.*)$/.exec(line);
  if (skip !== null) skipped.push({ file, name: skip[1], reason: skip[2] });
}
const coverageFailures = coverage ? reportCoverage() : [];
rmSync(work, { recursive: true, force: true });
if (skipped.length > 0) {
  console.log(`\nskipped: ${skipped.length}`);
  for (const s of skipped) console.log(`  - ${s.name}${s.reason ? ` (${s.reason})` : ''}`);
}
let status = result.status ?? 1;
if (process.env.SHIPHUB_REQUIRE_NETNS === '1') {
  const netns = skipped.filter((s) => /mdns|avahi|namespace/i.test(`${s.file} ${s.name}`));
  if (netns.length > 0) {
    console.error(
      `\nSHIPHUB_REQUIRE_NETNS=1 but the network-namespace interop test was skipped: ` +
        netns.map((s) => `${s.name} (${s.reason})`).join('; '),
    );
    status = 1;
  }
}
if (coverageFailures.length > 0) {
  console.error(`\ncoverage below threshold:\n  ${coverageFailures.join('\n  ')}`);
  status = 1;
}
process.exit(status);

/** Writes coverage/ (text summary to stdout) and returns the thresholds that were missed. */
function reportCoverage() {
  const report = spawnSync(
    process.execPath,
    [
      'node_modules/c8/bin/c8.js',
      'report',
      `--temp-directory=${v8Coverage}`,
      '--report-dir=coverage',
      '--all',
      '--include=build/src/**',
      '--reporter=text-summary',
      '--reporter=json-summary',
      '--reporter=html',
    ],
    { stdio: 'inherit' },
  );
  if (report.status !== 0) return ['c8 report failed'];
  const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8'));
  const failures = [];
  for (const { prefix, metric, min } of COVERAGE_THRESHOLDS) {
    let covered = 0;
    let total = 0;
    for (const [path, counts] of Object.entries(summary)) {
      if (path === 'total') continue;
      if (!relative(process.cwd(), path).startsWith(prefix)) continue;
      covered += counts[metric].covered;
      total += counts[metric].total;
    }
    const pct = total === 0 ? 0 : (100 * covered) / total;
    const line = `${prefix} ${metric}: ${pct.toFixed(2)} % (${covered}/${total}), threshold ${min} %`;
    console.log(line);
    if (pct < min) failures.push(line);
  }
  return failures;
}
