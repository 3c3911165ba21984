/**
 * `npm run bench`: handshake latency and throughput, idle memory per connection and a reconnect
 * storm against the hub, all on 127.0.0.1. Prints ONE JSON object on stdout; progress goes to
 * stderr. Missing a target is reported in `pass`, never as a failure; the exit code is non-zero
 * only when the benchmark itself fails. See docs/performance.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import { measureLatency, measureThroughputSameProcess } from './handshake.js';
import { measureServerProcess } from './memory.js';
import { runStormInFreshHub } from './storm.js';
import type { StormMode } from './storm-client.js';
import { killChildren, loadIdentities, log, now, round } from './common.js';
import { measureXproc, type XprocOptions, type XprocSeries } from './xproc.js';
import { measureSpineMemoryInChild, measureSpineThroughput } from './spine.js';

/** `--quick`: only the cross-process handshake figures (ours and the floor), fewer of them. */
const QUICK = process.argv.includes('--quick');
/** `--spine`: only the SPINE figures. */
const SPINE_ONLY = process.argv.includes('--spine');
/** `--fleet[=N]`: N (10,000) trusted devices held on one hub, then a reconnect storm on top. */
const FLEET_ARG = process.argv.find((a) => a === '--fleet' || a.startsWith('--fleet='));
const FLEET_DEVICES =
  FLEET_ARG === undefined ? undefined : Number(FLEET_ARG.split('=')[1] ?? 10_000);

const TARGETS = {
  handshake_p50_ms: 1.7,
  idle_conn_kib: 56,
  handshakes_per_s: 500,
  storm_all_back_s: 25,
} as const;

/** What the reference measured on this machine (shared/docs/performance-notes.md). */
const REFERENCE = {
  ship_go_handshake_tcp_connected_to_both_data_p50_ms: 2.1,
  ship_go_handshake_dial_start_to_ready_ms: '2.4-2.6',
  ship_go_idle_conn_kib: '63-74',
  ship_go_1000_handshakes_50_in_flight_s: 0.93,
  plain_node_tls_ws_roundtrip_p50_ms: 2.3,
  plain_node_idle_conn_kib: '53-58',
  plain_node_1000_handshakes_50_in_flight_s: 2.1,
} as const;

const CONFIG = {
  latencyWarmup: 20,
  latencyCount: 300,
  /** Further unmeasured handshakes before the warm (JIT-optimised) series. */
  latencyJitWarmup: 1_000,
  throughputTotal: 1_000,
  throughputInFlight: 50,
  throughputWarmup: 100,
  stormDevices: 500,
  stormWindowMs: 25_000,
  /** Enough for every device at once; the transport's default is 64. */
  stormMaxHandshakesInFlight: 600,
  /** Cross-process: sequential with an idle gap like reconnecting devices, then back to back. */
  xprocWarmup: 20,
  xprocCount: QUICK ? 20 : 30,
  xprocGapMs: 500,
  xprocB2bCount: QUICK ? 100 : 200,
  /** SPINE: notifies and reads each, fed into one session; devices held for the memory figure. */
  spineDatagrams: 20_000,
  spineDevices: 200,
  /** Fleet mode: connect window, idle hold (covers one 50 s ping round), devices dropped. */
  fleetWindowMs: 180_000,
  fleetIdleMs: 60_000,
  fleetReconnect: 1_000,
} as const;

/** The whole run must end well within 5 minutes (the fleet mode: 15), whatever happens. */
const WATCHDOG_MS = FLEET_DEVICES === undefined ? 290_000 : 900_000;

/** Identity indices in the cache: 0 server/hub, 1 client, 2.. storm devices. */
const SERVER = 0;
const CLIENT = 1;
const FIRST_DEVICE = 2;

function fdLimit(): number | undefined {
  try {
    const text = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text);
  } catch {
    return undefined;
  }
}

const loadAverage = () => os.loadavg().map((l) => round(l, 2));

/** Cross-process figures: ShipServer and the plain-Node floor, each in its own process. */
async function crossProcess(): Promise<Record<string, unknown>> {
  const runs: XprocOptions[] = [
    { warmup: CONFIG.xprocWarmup, count: CONFIG.xprocCount, gapMs: CONFIG.xprocGapMs },
    { warmup: 0, count: CONFIG.xprocB2bCount, gapMs: 0 },
  ];
  const names = { ship: 'ShipServer', floor: 'the floor', daemon: 'the daemon' } as const;
  const measure = async (kind: keyof typeof names) => {
    log(`cross-process handshakes against ${names[kind]}`);
    const [gap, b2b] = (await measureXproc(kind, SERVER, CLIENT, runs)) as [
      XprocSeries,
      XprocSeries,
    ];
    log(`  p50 ${gap.latency.p50} ms (gap), ${b2b.latency.p50} ms (back to back)`);
    return { gap, b2b };
  };
  const ship = await measure('ship');
  const floor = await measure('floor');
  // The daemon refuses more than 120 connections a minute from one address (its admission
  // rule against floods), so it gets the series a reconnecting device causes: the idle-gap one.
  log('cross-process handshakes against the daemon (idle-gap series)');
  const [daemonGap] = (await measureXproc('daemon', SERVER, CLIENT, [runs[0]!])) as [XprocSeries];
  log(`  p50 ${daemonGap.latency.p50} ms (gap)`);
  const ratio = (a: number, b: number) => round(a / b, 2);
  const cpuPerHandshake = (s: { gap: XprocSeries; b2b: XprocSeries }) =>
    round(
      (s.gap.serverCpuMsPerHandshake * CONFIG.xprocCount +
        s.b2b.serverCpuMsPerHandshake * CONFIG.xprocB2bCount) /
        (CONFIG.xprocCount + CONFIG.xprocB2bCount),
      3,
    );
  return {
    handshake_xproc_p50_ms: ship.gap.latency.p50,
    handshake_xproc_p99_ms: ship.gap.latency.p99,
    handshake_xproc_b2b_p50_ms: ship.b2b.latency.p50,
    server_cpu_ms_per_handshake: cpuPerHandshake(ship),
    handshake_xproc_phases_p50_ms: ship.gap.phasesP50,
    floor_handshake_xproc_p50_ms: floor.gap.latency.p50,
    floor_handshake_xproc_p99_ms: floor.gap.latency.p99,
    floor_handshake_xproc_b2b_p50_ms: floor.b2b.latency.p50,
    floor_server_cpu_ms_per_handshake: cpuPerHandshake(floor),
    handshake_xproc_over_floor: ratio(ship.gap.latency.p50, floor.gap.latency.p50),
    handshake_xproc_b2b_over_floor: ratio(ship.b2b.latency.p50, floor.b2b.latency.p50),
    server_cpu_over_floor: ratio(cpuPerHandshake(ship), cpuPerHandshake(floor)),
    daemon_handshake_xproc_p50_ms: daemonGap.latency.p50,
    daemon_handshake_xproc_p99_ms: daemonGap.latency.p99,
    daemon_server_cpu_ms_per_handshake: daemonGap.serverCpuMsPerHandshake,
    daemon_over_ship_server: ratio(daemonGap.latency.p50, ship.gap.latency.p50),
    daemon_cpu_over_ship_server: ratio(
      daemonGap.serverCpuMsPerHandshake,
      ship.gap.serverCpuMsPerHandshake,
    ),
    handshake_xproc_measures: {
      handshake_xproc_p50_ms:
        `server (our ShipServer, trusted peer) and client (our connectShip) in two separate ` +
        `Node processes on 127.0.0.1; ${CONFIG.xprocCount} sequential handshakes after ` +
        `${CONFIG.xprocWarmup} warm-up ones, ${CONFIG.xprocGapMs} ms idle between them (as ` +
        "devices reconnect); from the client's TCP connection established until the client's " +
        "'dataChannelOpen'. p99 of so few samples is close to the maximum.",
      handshake_xproc_b2b_p50_ms: `the same, ${CONFIG.xprocB2bCount} handshakes back to back.`,
      server_cpu_ms_per_handshake:
        'process.cpuUsage() (user + system, all threads) of the server process over both ' +
        'series divided by the handshakes that reached data exchange; includes the access ' +
        'methods exchange and the teardown of each connection.',
      handshake_xproc_phases_p50_ms:
        'server view, p50 per phase (idle-gap series), ms: tls = TCP accepted (admit) until ' +
        'the peer is identified after TLS (decide); upgrade = until the WebSocket is upgraded ' +
        '(onConnection); cmi/hello/protocol = until the state machine enters the next phase; ' +
        "data = PIN state until 'dataChannelOpen'; total = TCP accepted until data exchange.",
      floor_:
        'the same client and series against a plain Node server (node:tls + http + ws, the same ' +
        'SecureContext: certificate, curves, ciphers and mutual TLS as src/transport/tls.ts) ' +
        'that answers the same SHIP bytes (CMI, hello, protocol select, PIN state, access ' +
        'methods) from a fixed script, without our state machine, SKI checks or trust decision.',
      _over_floor: 'ours divided by the floor: the overhead that is ours (target ≤ 1.2).',
      daemon_:
        'the same client and series against the ship-hub Daemon as it runs in production (hub, ' +
        'trust store file, JSON logs at info level into /dev/null, metrics; SPINE off so that ' +
        'the work is SHIP, as for the bare ShipServer), the idle-gap series only (the daemon ' +
        'admits at most 120 connections a minute from one address); _over_ship_server: the ' +
        "daemon's p50 and server CPU divided by the bare ShipServer's in the same series " +
        '(target ≤ 1.1).',
    },
    details_xproc: { ship, floor, daemon: daemonGap },
  };
}

/** SPINE figures: datagrams per second through one session, heap per connected device. */
async function spineFigures(): Promise<Record<string, unknown>> {
  log(`SPINE: ${CONFIG.spineDatagrams} notifies and ${CONFIG.spineDatagrams} reads, one session`);
  const throughput = measureSpineThroughput(CONFIG.spineDatagrams);
  log(`  ${throughput.notifyPerS} notifies/s, ${throughput.readPerS} reads/s`);
  log(`SPINE: memory of ${CONFIG.spineDevices} connected heat pumps (child process)`);
  const memory = await measureSpineMemoryInChild(CONFIG.spineDevices);
  log(`  ${memory.heapPerDeviceKiB} KiB heap per device`);
  return {
    spine_notify_per_s: throughput.notifyPerS,
    spine_notify_us_p50: throughput.notifyUsP50,
    spine_read_reply_per_s: throughput.readPerS,
    spine_read_reply_us_p50: throughput.readUsP50,
    spine_device_heap_kib: memory.heapPerDeviceKiB,
    spine_measures: {
      spine_notify_per_s:
        `${CONFIG.spineDatagrams} measurementListData notifies (three values) from a heat pump ` +
        "offering MPC, fed as SHIP payload text into our energy manager's SpineDriver session: " +
        'lossless decode, correlation, merge into the stored data, the dataUpdated event and ' +
        'the monitored values recomputed; _us_p50: median µs per datagram over batches of 100.',
      spine_read_reply_per_s:
        `${CONFIG.spineDatagrams} reads of our deviceDiagnosisStateData: decode, dispatch to ` +
        'our feature, the reply built, encoded to EEBUS-JSON text and handed to the device.',
      spine_device_heap_kib:
        `JS heap after full collections of one energy-manager driver with ` +
        `${CONFIG.spineDevices} heat pumps connected and set up (discovery, use cases, ` +
        'subscriptions, descriptions, values, monitoring), minus the heap before, per device; ' +
        'in its own process. The SHIP connection under it is idle_conn_kib.',
    },
  };
}

/** A partial run (`--spine`, `--quick`): its figures with the machine's context, as JSON. */
async function partialRun(mode: string, figures: () => Promise<Record<string, unknown>>) {
  const started = now();
  const loadAtStart = loadAverage();
  const measured = await figures();
  const result = {
    mode,
    node_version: process.version,
    cpus: os.cpus().length,
    load_average_at_start: loadAtStart,
    load_average_at_end: loadAverage(),
    ...measured,
    details: { config: CONFIG },
    bench_duration_s: round((now() - started) / 1000, 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/**
 * Raises the soft file-descriptor limit to `needed` by running this bench again under
 * `ulimit -n` (Node cannot change its own limit); true when the child ran instead.
 */
function runWithFdLimit(needed: number): boolean {
  const limit = fdLimit();
  if (limit === undefined || limit >= needed || process.env.SHIPHUB_BENCH_FD_RAISED === '1') {
    return false;
  }
  log(`ulimit -n is ${limit}; running again with ${needed}`);
  const result = spawnSync(
    'sh',
    ['-c', `ulimit -n ${needed} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, SHIPHUB_BENCH_FD_RAISED: '1' } },
  );
  process.exitCode = result.status ?? 1;
  return true;
}

/** The fleet mode: `devices` trusted connections on one hub, idle, then 1,000 reconnecting. */
async function fleetFigures(devices: number): Promise<Record<string, unknown>> {
  await loadIdentities(FIRST_DEVICE + devices);
  log(`fleet: ${devices} devices dial a fresh hub (all at once), then hold and reconnect`);
  const storm = await runStormInFreshHub(SERVER, FIRST_DEVICE, devices, {
    mode: 'all',
    windowMs: CONFIG.fleetWindowMs,
    maxHandshakesInFlight: CONFIG.stormMaxHandshakesInFlight,
    hold: { idleMs: CONFIG.fleetIdleMs, reconnect: Math.min(CONFIG.fleetReconnect, devices) },
  });
  const hold = storm.hold;
  return {
    fleet_devices: devices,
    fleet_all_connected_s: storm.allBackS,
    fleet_lost: storm.lost,
    fleet_rss_per_conn_kib: hold?.rssPerConnKiB ?? null,
    fleet_idle_cpu_percent: hold?.idleCpuPercent ?? null,
    fleet_open_after_idle: hold?.openAfterIdle ?? null,
    fleet_reconnect_devices: hold?.reconnect ?? null,
    fleet_reconnect_all_back_s: hold?.reconnectAllBackS ?? null,
    fleet_reconnect_lost: hold?.reconnectLost ?? null,
    fleet_measures: {
      fleet_all_connected_s:
        `a hub in a fresh process trusting ${devices} SKIs (TlsTransport on 127.0.0.1, ` +
        `maxHandshakesInFlight ${CONFIG.stormMaxHandshakesInFlight}); the devices run in two ` +
        'client processes and all dial at once, retrying as devices do; from the signal until ' +
        'the hub had every SKI in data exchange. _lost: devices not back within ' +
        `${CONFIG.fleetWindowMs / 1000} s.`,
      fleet_rss_per_conn_kib:
        'hub RSS 2 s after the last device was back minus its RSS before the first dial, per ' +
        'connection (no forced GC: what the operator sees).',
      fleet_idle_cpu_percent:
        `hub process CPU (user + system) over ${CONFIG.fleetIdleMs / 1000} s with every ` +
        'connection idle and WebSocket pings running (every 50 s on each side), in % of one core.',
      fleet_reconnect_all_back_s:
        `${CONFIG.fleetReconnect} devices drop their connection at once (abruptly, as on a ` +
        'reboot) and redial after 0-3 s while the rest stay connected; until the hub had every ' +
        'one in data exchange again. _lost: not back within 60 s.',
    },
    details_fleet: storm,
  };
}

async function main(): Promise<void> {
  if (FLEET_DEVICES !== undefined) {
    if (!Number.isInteger(FLEET_DEVICES) || FLEET_DEVICES < 2) {
      throw new Error(`--fleet=N: N must be a whole number of at least 2, got ${FLEET_ARG}`);
    }
    // The hub holds one socket per device, each client process half of them.
    if (runWithFdLimit(FLEET_DEVICES + 1_000)) return;
    return partialRun('fleet', () => fleetFigures(FLEET_DEVICES));
  }
  if (SPINE_ONLY) return partialRun('spine', spineFigures);
  if (QUICK) {
    return partialRun('quick', async () => {
      await loadIdentities(FIRST_DEVICE);
      return crossProcess();
    });
  }
  const started = now();
  const loadAtStart = loadAverage();
  const limit = fdLimit();
  // The same-process throughput run holds 1,000 connections with both ends in this process.
  const fdsNeeded = 2 * CONFIG.throughputTotal + 200;
  if (limit !== undefined && limit < fdsNeeded) {
    throw new Error(`ulimit -n is ${limit}; the bench needs ${fdsNeeded}: run "ulimit -n 4096"`);
  }
  log(`load average ${loadAtStart.join(' ')} (other processes on the machine skew the numbers)`);

  const identities = await loadIdentities(FIRST_DEVICE + CONFIG.stormDevices);
  const server = identities[SERVER]!;
  const client = identities[CLIENT]!;
  const throughputOptions = {
    total: CONFIG.throughputTotal,
    inFlight: CONFIG.throughputInFlight,
    warmup: CONFIG.throughputWarmup,
  };

  log(`handshake latency, sequential, server and client in this process`);
  const latency = await measureLatency(server, client, {
    warmup: CONFIG.latencyWarmup,
    count: CONFIG.latencyCount,
    jitWarmup: CONFIG.latencyJitWarmup,
  });

  log(
    `throughput, same process: ${CONFIG.throughputTotal}, ${CONFIG.throughputInFlight} in flight`,
  );
  const sameProcess = await measureThroughputSameProcess(server, client, throughputOptions);
  log(`  ${sameProcess.perSecond} handshakes/s`);

  log(`server in a child process: throughput, then idle memory`);
  const serverProcess = await measureServerProcess(SERVER, server.ski, client, throughputOptions);
  const { memory, throughput } = serverProcess;
  log(`  ${memory.rssPerConnKiB} KiB per idle connection`);

  const storm = (mode: StormMode, maxHandshakesInFlight: number | null) => {
    const limitText = maxHandshakesInFlight ?? 'default';
    log(`reconnect storm: ${CONFIG.stormDevices} devices, ${mode}, hub limit ${limitText}`);
    return runStormInFreshHub(SERVER, FIRST_DEVICE, CONFIG.stormDevices, {
      mode,
      windowMs: CONFIG.stormWindowMs,
      maxHandshakesInFlight,
    });
  };
  const stormAll = await storm('all', CONFIG.stormMaxHandshakesInFlight);
  const stormDefault = await storm('all', null);
  const stormSpread = await storm('spread', CONFIG.stormMaxHandshakesInFlight);
  const xproc = await crossProcess();
  const spine = await spineFigures();

  const result = {
    node_version: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    platform: `${os.platform()} ${os.release()}`,
    fd_limit: limit ?? null,
    load_average_at_start: loadAtStart,
    load_average_at_end: loadAverage(),

    handshake_p50_ms: latency.cold.both.p50,
    handshake_p99_ms: latency.cold.both.p99,
    handshake_dial_p50_ms: latency.cold.dial.p50,
    handshake_dial_p99_ms: latency.cold.dial.p99,
    handshake_client_side_p50_ms: latency.cold.clientSide.p50,
    handshake_server_side_p50_ms: latency.cold.serverSide.p50,
    handshake_warm_p50_ms: latency.warm.both.p50,
    handshake_warm_p99_ms: latency.warm.both.p99,
    handshake_warm_dial_p50_ms: latency.warm.dial.p50,
    handshake_measures:
      "from the client's TCP connection established (its 'connect' event, before the " +
      "ClientHello) until both the client and the server connection emitted 'dataChannelOpen', " +
      'as the reference figure was measured (ship-go: TCP connected until both in data ' +
      'exchange): TLS 1.3 with mutual authentication + SKI checks + WebSocket upgrade + SHIP ' +
      'CMI/hello/protocol/PIN, not the access methods exchange. handshake_dial_*: the same ' +
      'handshakes from just before connectShip() (TCP connect included). Server and client in ' +
      'the same process, sharing one event loop; sequential on 127.0.0.1, each starting once ' +
      `both sockets of the previous one are closed. handshake_*: after ${CONFIG.latencyWarmup} ` +
      'warm-up handshakes; handshake_warm_*: after ' +
      `${CONFIG.latencyWarmup + CONFIG.latencyCount + CONFIG.latencyJitWarmup} (JIT-optimised).`,
    handshakes_per_s: throughput.perSecond,
    handshakes_per_s_same_process: sameProcess.perSecond,
    handshakes_per_s_measures:
      `${CONFIG.throughputTotal} handshakes, ${CONFIG.throughputInFlight} dials in flight, ` +
      `after ${CONFIG.throughputWarmup} warm-up ones, until the server has the last one in data ` +
      'exchange. handshakes_per_s: server in its own process, clients in another (like two ' +
      'nodes sharing the 2 cores); _same_process: both in one event loop.',
    idle_conn_kib: memory.rssPerConnKiB,
    idle_conn_kib_transient: memory.transientPerConnKiB,
    idle_conn_measures:
      `server RSS after GC, alone in a child process, with ${memory.connections} idle SHIP ` +
      `connections minus without any, both read after ${memory.settleS} s idle; _transient: ` +
      'read 0.5 s after the last handshake, before V8 gave back the heap it grew.',
    storm_all_back_s: stormAll.allBackS,
    storm_lost: stormAll.lost,
    storm_mode:
      `all ${stormAll.devices} devices dial at once (worst case) a hub just started in a fresh ` +
      `process, maxHandshakesInFlight ${CONFIG.stormMaxHandshakesInFlight}; failed dials retried ` +
      'after 0-3 s, 3-10 s, 10-20 s. _default_limits: the same with the transport default (64); ' +
      '_spread: each device dials after a random 0-3 s.',
    storm_default_limits_all_back_s: stormDefault.allBackS,
    storm_default_limits_lost: stormDefault.lost,
    storm_spread_all_back_s: stormSpread.allBackS,
    storm_spread_lost: stormSpread.lost,
    ...xproc,
    ...spine,

    targets: TARGETS,
    pass: {
      handshake_p50_ms: latency.cold.both.p50 <= TARGETS.handshake_p50_ms,
      idle_conn_kib: memory.rssPerConnKiB <= TARGETS.idle_conn_kib,
      handshakes_per_s: throughput.perSecond >= TARGETS.handshakes_per_s,
      storm_all_back_s:
        stormAll.lost === 0 &&
        stormAll.allBackS !== null &&
        stormAll.allBackS <= TARGETS.storm_all_back_s,
    },
    reference: REFERENCE,
    details: {
      config: CONFIG,
      latency,
      throughput,
      throughputSameProcess: sameProcess,
      memory,
      storm: stormAll,
      stormDefaultLimits: stormDefault,
      stormSpread,
    },
    bench_duration_s: round((now() - started) / 1000, 1),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(signal, () => {
    log(`interrupted (${signal})`);
    killChildren();
    process.exit(code);
  });
}

const watchdog = setTimeout(() => {
  log(`error: the benchmark did not finish within ${WATCHDOG_MS / 1000} s`);
  killChildren();
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();

main().then(
  () => {
    clearTimeout(watchdog);
    killChildren();
    // Unref'd timers and closing sockets of the last run must not keep us alive; the exit code
    // of a re-run under a raised fd limit is passed on.
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  },
  (err: unknown) => {
    log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    killChildren();
    process.exit(1);
  },
);
