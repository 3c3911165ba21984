// Produces docs/reliability.md: runs the reliability and security tests and benchmarks, collects
// the figures they measure and writes the table of what was tried and what held.
//
// Usage (after `npm run build`):
//   node scripts/reliability.mjs [--fuzz-seconds 120] [--soak-minutes 2] [--soak-connections 1000]
//                                [--out docs/reliability.md] [--quick]
// --quick: 20 s of fuzzing and a 0.5 minute soak with 200 connections (to try the script).
// Exit code 1 if any test failed (the document is still written, with the failure in it).
import { spawnSync } from 'node:child_process';
import { cpus, totalmem, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'fuzz-seconds': { type: 'string', default: '120' },
    'soak-minutes': { type: 'string', default: '2' },
    'soak-connections': { type: 'string', default: '1000' },
    'live-fuzz-total': { type: 'string', default: '10000' },
    out: { type: 'string', default: 'docs/reliability.md' },
    quick: { type: 'boolean', default: false },
  },
});
const fuzzSeconds = values.quick ? 20 : Number(values['fuzz-seconds']);
const soakMinutes = values.quick ? 0.5 : Number(values['soak-minutes']);
const soakConnections = values.quick ? 200 : Number(values['soak-connections']);
const liveFuzzTotal = values.quick ? 1_000 : Number(values['live-fuzz-total']);

if (!existsSync('build/test/fuzz/run.js')) {
  console.error('build/ is missing: run `npm run build` first');
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'ship-hub-reliability-'));
const figuresFile = join(work, 'figures.jsonl');
const log = (m) => console.error(`[reliability] ${m}`);

/** Runs one compiled test file with node's test runner; figures go to figuresFile. */
function runTest(file, env = {}) {
  log(`running ${file}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', file], {
    encoding: 'utf8',
    env: { ...process.env, RELIABILITY_FIGURES: figuresFile, ...env },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 15 * 60_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  const count = (label) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(output)?.[1] ?? 0);
  const entry = {
    file,
    ok: result.status === 0,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    pass: count('pass'),
    fail: count('fail'),
    skipped: count('skipped'),
  };
  if (!entry.ok) {
    log(`FAILED: ${file}`);
    process.stderr.write(output.slice(-4000));
  }
  return entry;
}

/** Runs a benchmark that prints one JSON object on stdout. */
function runJson(args, what) {
  log(`running ${what}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 60 * 60_000,
  });
  let summary;
  try {
    summary = JSON.parse(result.stdout);
  } catch {
    summary = undefined;
  }
  return {
    ok: result.status === 0 && summary !== undefined,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    summary,
  };
}

const tests = {
  fuzz: runTest('build/test/fuzz/fuzz.test.js'),
  // CI runs 600 hostile connections; the evidence run LIVE_FUZZ_TOTAL (10,000 by default).
  liveFuzz: runTest('build/test/reliability/live-fuzz.test.js', {
    LIVE_FUZZ_TOTAL: String(liveFuzzTotal),
  }),
  exhaustion: runTest('build/test/reliability/exhaustion.test.js'),
  // The evidence run checks the trusted peer's reconnection after EVERY restart (CI: every 10th).
  crash: runTest('build/test/reliability/crash.test.js', {
    CRASH_CHECK_EVERY: '1',
    CRASH_TIMEOUT_S: '3600',
  }),
  tlsProbes: runTest('build/test/integration/tls-probes.test.js'),
  // Hostile LAN and operator mistakes (issue: hardening).
  hostileLan: runTest('build/test/reliability/hostile-lan.test.js'),
  refusalFrames: runTest('build/test/reliability/refusal-frames.test.js'),
  handshakeSlots: runTest('build/test/reliability/handshake-slots.test.js'),
  admission: runTest('build/test/unit/hub/admission.test.js'),
  keyPinning: runTest('build/test/integration/key-pinning.test.js'),
  autoAccept: runTest('build/test/integration/daemon-auto-accept.test.js'),
  pairingPrompt: runTest('build/test/unit/ops/pairing-prompt.test.js'),
  refusalLog: runTest('build/test/unit/ops/refusal-log.test.js'),
};
const fuzzRun = runJson(
  ['build/test/fuzz/run.js', '--seconds', String(fuzzSeconds)],
  `fuzzing on demand for ${fuzzSeconds} s`,
);
const soak = runJson(
  [
    'build/test/reliability/soak.js',
    '--minutes',
    String(soakMinutes),
    '--connections',
    String(soakConnections),
  ],
  `soak for ${soakMinutes} min with ${soakConnections} connections`,
);

const figures = {};
if (existsSync(figuresFile)) {
  for (const line of readFileSync(figuresFile, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const entry = JSON.parse(line);
    figures[entry.name] = entry;
  }
}
rmSync(work, { recursive: true, force: true });

// --- the document ------------------------------------------------------------------------------

const n = (v) => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US') : '—');
const held = (ok) => (ok ? '✅ held' : '❌ FAILED');
const f = (name) => figures[name] ?? {};
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], {
  encoding: 'utf8',
}).stdout.trim();
const dirty =
  spawnSync('git', ['status', '--porcelain', 'src'], { encoding: 'utf8' }).stdout.trim() !== ''
    ? ' (src/ with uncommitted changes)'
    : '';
const cpu = cpus();
const mem = (m) => (m ? `RSS ${m.rssMiB} MiB, heap ${m.heapUsedMiB} MiB` : '—');

const fz = f('fuzz');
const lf = f('live-fuzz');
const ef = f('exhaustion-flood');
const eo = f('exhaustion-oversized');
const efl = f('exhaustion-floods');
const ed = f('exhaustion-deaf');
const cr = f('crash');
const fr = fuzzRun.summary ?? {};
const sk = soak.summary ?? {};
const sks = sk.server ?? {};

const rows = [
  [
    'Codec fuzzing: `decodeMessage`/`encodeMessage` with mutated ship-go recordings, mutated valid messages, arbitrary JSON under every type byte, random bytes',
    'never throws; never reaches its internal catch-all; errors have a known code; whatever decodes re-encodes, and the encoding is a fixpoint; `maxBytes` holds',
    `${n(fz.codecInputs)} messages per CI run (${n(fz.decodedOk)} decoded); ${n(fr.inputs?.codec)} more on demand`,
    held(tests.fuzz.ok && fuzzRun.ok),
  ],
  [
    'EEBUS-JSON fuzzing: `fromEebusJson`/`toEebusJson` with arbitrary JSON, `__proto__`/`constructor` keys, nesting up to 40 × the limit',
    'never throws but the documented depth `RangeError` (no stack overflow); no prototype pollution; results are plain JSON; plain data survives a round trip',
    `${n(fz.eebusInputs)} values per CI run (${n(fz.eebusTooDeep)} refused as too deep); ${n(fr.inputs?.eebusJson)} more on demand`,
    held(tests.fuzz.ok && fuzzRun.ok),
  ],
  [
    `SME state-machine fuzzing: ${n(fz.prefixes)} scripted prefixes reach every resting state of both roles (trusted, pending, own PIN, partner PIN, stored SHIP ID, small limits); then 1-40 random or mutated messages, timer expiries (due or stale), trust decisions, sends, closes, transport closes, restarts`,
    'never throws; no data event or data send before data exchange; no data channel without approval (pending) or PIN; every close carries a sendable code; nothing after CLOSED; no timer left after CLOSED; exactly one `closed` event; effects well-formed; input state never mutated',
    `${n(fz.smeInputs)} inputs in ${n(fz.smeRuns)} runs per CI run, ${n(fz.transitions)} transitions; ${n(fr.inputs?.sme)} inputs on demand (${n(fr.seconds)} s)`,
    held(tests.fuzz.ok && fuzzRun.ok),
  ],
  [
    `Live hostile connections against a hub over TLS on 127.0.0.1: ${n(lf.hostile)} connections of ${n(lf.cases)} kinds, ${n(lf.concurrency)} at once, while a trusted device exchanges data`,
    'every hostile connection ends with its expected close code and SHIP messages; the trusted session never closes, never reconnects, every datagram echoed in order; no unhandled rejection or exception',
    `trusted device: ${n(lf.sent)} datagrams, ${n(lf.echoed)} echoed, ${n(lf.outOfOrder)} out of order, longest gap ${n(lf.maxGapMs)} ms; ${n(lf.unhandled)} unhandled errors`,
    held(tests.liveFuzz.ok),
  ],
  [
    'TLS probes with `openssl s_client` (test/integration/tls-probes.test.ts): old protocol versions, non-ECDSA suites, missing and spoofed client certificates',
    'refused before any application byte; a good certificate is answered',
    `${n(tests.tlsProbes.pass)} probes passed, ${n(tests.tlsProbes.skipped)} skipped`,
    held(tests.tlsProbes.ok),
  ],
  [
    `${n(ef.idle)} idle TCP connections + ${n(ef.stalled)} stalled in the middle of a ClientHello, then every dropped one re-opened at once for ${n(ef.churnSeconds)} s (${n(ef.churnReopened)} sockets)`,
    `at most maxHandshakesInFlight = ${n(ef.maxHandshakesInFlight)} held; a trusted device reaches data exchange every time; no descriptor leak`,
    `${n(ef.heldOpen)} held; device in data exchange after ${n(ef.quietMs)} ms with the flood held, ${n(ef.churnConnects)} times under churn in ${n(ef.churnMinMs)}-${n(ef.churnMaxMs)} ms (median ${n(ef.churnMedianMs)} ms)`,
    held(tests.exhaustion.ok),
  ],
  [
    `Messages over maxPayload (${n(eo.refused)} × 1 MiB + 1) and near it (${n(eo.nearLimit)} × 1 MiB − 200)`,
    'over: closed with 1009; near: delivered; memory back after GC',
    `before ${mem(eo.before)}; after ${mem(eo.after)}`,
    held(tests.exhaustion.ok),
  ],
  [
    `Floods from one peer: ${n(efl.data)} data messages; ${n(efl.requests)} accessMethodsRequest without reading the answers; ${n(efl.pings)} pings without reading the pongs`,
    'data: all delivered; requests: closed by the backpressure limit; pings: dropped by ws (maxPendingAutoPongs); memory back after GC',
    `closed with ${n(efl.amplifierBuffered)} bytes buffered; before ${mem(efl.before)}, after ${mem(efl.after)}`,
    held(tests.exhaustion.ok),
  ],
  [
    'A peer that stops reading while the application sends 16 KiB datagrams',
    '`send()` throws SHIPHUB_ERR_TRANSPORT and the connection is closed at the 4 MiB limit',
    `${n(ed.sends)} sends accepted (the rest sits in kernel socket buffers), closed with ${n(ed.buffered)} bytes buffered; after ${mem(ed.after)}`,
    held(tests.exhaustion.ok),
  ],
  [
    `The daemon as a child process, SIGKILLed at random moments during trust add/remove (admin API and CLI) and pairing approvals, restarted after each kill, ${n(cr.lanes)} daemons side by side`,
    "trusted_devices.json always parses, passes the daemon's validation, is canonical, and holds every acknowledged change (changes cut off by a kill: old or new); the daemon always restarts; trusted devices reconnect",
    `${n(cr.kills)} kills (${n(cr.startupKills)} during start-up) in ${n(cr.seconds)} s; ${n(cr.apiChanges)} API + ${n(cr.cliChanges)} CLI trust changes, ${n(cr.pairings)} pairings, ${n(cr.cutOff)} changes cut off; ${n(cr.reconnectChecks)} reconnections checked (${cr.checkEvery === 1 ? 'after every restart' : `every ${n(cr.checkEvery)}th cycle`} and at the end), peer back ${n(cr.reconnectMinMs)}-${n(cr.reconnectMaxMs)} ms after a kill`,
    held(tests.crash.ok),
  ],
  [
    `Soak (benchmark): ${n(sk.connections)} trusted devices exchanging a datagram every ${n(sk.intervalMs)} ms for ${n(sk.minutes)} min, hub in its own process`,
    'no disconnect, every message echoed; memory and handles flat',
    `RSS ${n(sks.rssMiB?.first)} → ${n(sks.rssMiB?.last)} MiB (slope ${n(sks.rssSlopeMiBPerMin)} MiB/min), retained heap ${n(sks.heapRetainedMiB?.first)} → ${n(sks.heapRetainedMiB?.last)} MiB (slope ${n(sks.heapRetainedSlopeMiBPerMin)} MiB/min), handles ${n(sks.activeHandles?.first)} → ${n(sks.activeHandles?.last)}; round trip p50 ${n(sk.latencyMs?.p50)} ms, p99 ${n(sk.latencyMs?.p99)} ms`,
    held(soak.ok),
  ],
];

const table = [
  '| What was tried | What must hold | Figures | Result |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.map((c) => String(c).replaceAll('|', '\\|')).join(' | ')} |`),
].join('\n');

const perCase = Object.entries(lf.perCase ?? {})
  .map(([name, count]) => `\`${name}\` ${count}`)
  .join(', ');

const durations = Object.values(tests)
  .map(
    (t) =>
      `| \`${t.file.replace(/^build\//, '').replace(/\.js$/, '.ts')}\` | ${t.seconds} s | ${t.pass} passed, ${t.fail} failed${t.skipped ? `, ${t.skipped} skipped` : ''} |`,
  )
  .join('\n');

const ATTACKS = [
  ['pending-flood', 'Pending flood: 30 unknown devices (own certificates) ask to pair and stay'],
  [
    'same-ski-sessions',
    'One SKI, many sessions: 10 simultaneous connections of one unknown device',
  ],
  ['denied-reconnects', 'Denied and back: a denied device reconnects 20 times'],
  ['oversized-hello', 'Oversized hellos: 8 unknown peers send a 1 MB hello after CMI'],
  [
    'refused-upgrade-garbage',
    'Refused upgrades + malformed frames: 200 upgrades without `ship`, then garbage frames',
  ],
  ['bare-tcp', 'Bare TCP: 500 connects that never start TLS, held open'],
];
const attackRows = ATTACKS.map(([key, what]) => {
  const a = f(`hostile-lan-${key}`);
  return `| ${what} | ${n(a.rttP50Ms)} / ${n(a.rttMaxMs)} ms | ${n(a.joinMs)} ms | ${held(tests.hostileLan.ok)} |`;
}).join('\n');
const mistakes = [
  [
    'auto_accept_pairing: true and the hub restarted (crash or clean)',
    'no window at the restart; an unknown device gets a question, not trust',
    tests.autoAccept,
  ],
  [
    '"yes" typed at the terminal before any question',
    'discarded; the next device is asked and needs its own answer; a request decided elsewhere leaves the screen',
    tests.pairingPrompt,
  ],
  [
    'accept_legacy_ski: true and a certificate claiming a paired SKI with another key',
    'refused before the handshake, before and after a restart; the paired device stays connected',
    tests.keyPinning,
  ],
  [
    'Unknown devices filling max_connections; one SKI with many sessions; a denied device asking again; tables filled from 1,000 addresses',
    'paired device gets in; one session per SKI; no question during the cool-down; tables bounded without reset',
    tests.admission,
  ],
  [
    '10,000 refusals from one address',
    'one line, then one count line per minute (warn level)',
    tests.refusalLog,
  ],
  [
    'Malformed frames after every refusal path (no subprotocol, legacy duplicate)',
    'no process exit; the refused socket is destroyed within 1 s',
    tests.refusalFrames,
  ],
  [
    '200 idle connects into 8 handshake slots while a device is held mid-TLS',
    'the slow device gets in; stalled sockets go first',
    tests.handshakeSlots,
  ],
]
  .map(
    ([what, holds, t]) =>
      `| ${what} | ${holds} | \`${t.file.replace(/^build\//, '').replace(/\.js$/, '.ts')}\` | ${held(t.ok)} |`,
  )
  .join('\n');

const byMinute = (sk.latencyByMinute ?? [])
  .map((m) => `| ${m.minute} | ${m.p50} | ${m.p99} |`)
  .join('\n');

const doc = `# Reliability and security evidence

Generated by \`node scripts/reliability.mjs --fuzz-seconds ${fuzzSeconds} --soak-minutes ${soakMinutes} --soak-connections ${soakConnections}\`
on ${new Date().toISOString().slice(0, 10)}, commit \`${commit}\`${dirty}, Node ${process.version},
${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB. Do not edit by hand: run the
script again (\`npm run build\` first). Only 127.0.0.1 is used; every loop is bounded in count and time.

${table}

## Hostile LAN and operator mistakes

A hub on 127.0.0.1 (max_connections 20, max_pending_pairings 5) with one paired device in data
exchange; each attack below runs to its end (counts, not time), then the paired device makes
20 round trips through the hub and a second paired device joins (TLS, handshake, data exchange).
Asserted in \`test/reliability/hostile-lan.test.ts\`: the paired device is never disconnected and
every round trip is answered, the second device gets in, unknown devices stay within their
budget, no uncaught error. The times are figures of this run, not thresholds.

| Attack | Paired device round trip p50 / max | Second device joins in | Result |
|---|---|---|---|
${attackRows}

| Operator mistake or attack | What held | Test | Result |
|---|---|---|---|
${mistakes}

## Fuzzing (test/fuzz)

- **CI** (\`test/fuzz/fuzz.test.ts\`): ${n(fz.total)} inputs in ${n(fz.seconds)} s (seed ${fz.seed ?? '—'}): ${n(fz.smeInputs)} state-machine
  inputs from ${n(fz.prefixes)} prefixes (${n(fz.closedRuns)} runs ended CLOSED, ${n(fz.dataRuns)} carried data, ${n(fz.subStates)} sub-states and
  ${n(fz.transitions)} transitions entered by fuzzed input), ${n(fz.codecInputs)} codec messages, ${n(fz.eebusInputs)} EEBUS-JSON values. A
  self-test shows the invariant checker rejects a data event before data exchange, a close without a
  sendable code and a send after CLOSED.
- **On demand** (\`npm run fuzz -- --seconds N\`, here ${n(fr.seconds)} s): ${n(fr.inputs?.total)} inputs (${n(fr.inputsPerSecond)} per second) in
  ${n(fr.rounds)} rounds, ${(fr.failures ?? []).length} failures.
- The seed is printed; \`FUZZ_SEED=<seed> node --test build/test/fuzz/fuzz.test.js\` or
  \`node build/test/fuzz/run.js --seed <seed> --seconds 1\` replays a failure, with fast-check's shrunk counterexample.

## Live fuzzing (test/reliability/live-fuzz.test.ts)

Hostile connections per case (seed ${lf.seed ?? '—'}): ${perCase || '—'}. Expected outcomes: garbage, invalid JSON, data or a
never-finished hello during the hello → \`aborted\` then 4452; text frame → 1003; over maxPayload (whole or in
fragments) → 1009; wrong CMI → \`00 00\` then 4001; no CMI → 4001 after the CMI timeout; wrong version → error 3
then 4001; announceMax twice → error 2 then 4001; close announce → confirm then 4001; invalid-message flood in
data exchange → 4001 "too many invalid messages"; unmasked frame or reserved opcode → 1002; no subprotocol → 1002; CMI and then silence → \`aborted\` then 4452 after Wait-For-Ready;
after a refusal (no subprotocol, text frame, over maxPayload, wrong CMI, untrusted and aborted) 1-3 malformed frames
(reserved opcode, continuation first, unmasked, RSV1, 2^63-1 length, random bytes) → still the refusal's code (untrusted: 4452, or
1002/1009 when the frames arrive before the delayed close), and no uncaught error in the process;
untrusted SKI → \`pending\`, \`aborted\`, 4452 (or 4001 when more unknown devices than max_pending_pairings are connected and the hub evicts the oldest); random bytes instead of TLS → dropped; idle TCP → dropped at the
handshake deadline; garbage HTTP after TLS → 400, a plain GET → 426.

## Test durations (this run)

| Test file | Duration | Result |
|---|---|---|
${durations}

## Soak, latency per minute (round trip device → hub → device, ms)

| Minute | p50 | p99 |
|---|---|---|
${byMinute || '| — | — | — |'}

Server: ${n(sks.samples)} samples, RSS max ${n(sks.rssMiB?.max)} MiB, retained heap max ${n(sks.heapRetainedMiB?.max)} MiB, handles slope
${n(sks.handlesSlopePerMin)} per minute, open descriptors ${n(sks.openFds?.first)} → ${n(sks.openFds?.last)}, event-loop delay p99 at most
${n(sks.eventLoopDelayP99MsMax)} ms, CPU ${n(sks.cpuPercent)} % of one core; ${n(sk.connections)} devices connected in ${n(sk.connectSeconds)} s,
${n(sk.messagesSent)} sent, ${n(sk.messagesEchoed)} echoed, ${n(sk.disconnects)} disconnects. Slopes are fitted after the first fifth
of the run (at most one minute) as warm-up; the retained heap is read after a forced full GC every 30 s
(whose pause is part of the latency figures), RSS and handles every 5 s. Longer: \`node build/test/reliability/soak.js --minutes 10 --connections 1000\`.

## Found and fixed while building this evidence

- **Receive-path backpressure** (src/transport/ship-connection.ts): only the application's \`send()\`
  checked the 4 MiB buffer limit. A peer that sent \`accessMethodsRequest\` without ever reading the
  \`accessMethods\` answers made the hub buffer without bound (RSS 75 → 283 MiB with 400,000 requests,
  connection still open). Now every inbound message checks the limit first and the peer is closed.
- **Admin API acknowledged before the trust file was written** (src/ops/daemon.ts): \`DELETE /api/trust\`
  (\`ship-hub trust remove\`) answered once the hub had dropped the device, while the file write that
  the hub's \`trustChanged\` handler had started was still in flight (the second \`remove()\` found
  nothing and resolved at once); \`POST /api/pairing/:ski/approve\` did not wait for the write at all.
  Killed right after the answer, the daemon came back trusting a removed device (more than 30 cases
  in one run of the crash test before the fix). Both now wait for \`flush()\`.

## Reproduce

\`\`\`
npm run build
node scripts/reliability.mjs                      # this document (about ${Math.round((fuzzSeconds + soakMinutes * 60 + 240) / 60)} minutes)
node scripts/run-tests.mjs fuzz reliability       # the CI part only
npm run fuzz -- --seconds 300                     # longer fuzzing
node build/test/reliability/soak.js --minutes 10 --connections 1000
\`\`\`
`;

writeFileSync(values.out, doc);
log(`wrote ${values.out}`);
const allOk = Object.values(tests).every((t) => t.ok) && fuzzRun.ok && soak.ok;
process.exit(allOk ? 0 : 1);
