/**
 * Reconnect storm: one Hub (TlsTransport, real sockets on 127.0.0.1) trusts `devices` SKIs; the
 * devices run in two child processes (bench/storm-client.ts) and, on one signal, all dial the
 * hub at once (mode 'all', the worst case) or each after 0-3 s (mode 'spread'). Failed dials are
 * retried with a device's backoff. The clock runs on the hub side, from the signal until every
 * SKI has been in data exchange on the hub ('connected' event). {@link runStormInFreshHub} runs
 * the hub in a new process (bench/storm-hub.ts), as after a hub restart.
 */
import type { ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Hub } from '../src/hub/hub.js';
import { TlsTransport } from '../src/hub/transport.js';
import type { Ski } from '../src/ship/ski.js';
import { createShipTlsContext } from '../src/transport/tls.js';
import { systemClock } from '../src/util/clock.js';
import {
  exitOf,
  log,
  nextMessage,
  now,
  round,
  sleep,
  spawnBenchChild,
  summarize,
  type BenchIdentity,
  type Summary,
} from './common.js';
import type { StormClientCommand, StormClientReport, StormMode } from './storm-client.js';
import type { StormHubRequest, StormHubResult } from './storm-hub.js';

export interface StormOptions {
  readonly mode: StormMode;
  /** How long the devices have to get back. */
  readonly windowMs: number;
  /** The hub's TLS/upgrade limit; null = the transport's default. */
  readonly maxHandshakesInFlight: number | null;
  /**
   * The fleet mode: once every device is back, hold the connections idle for `idleMs` (pings
   * running) and measure, then drop `reconnect` of them at once and time their return.
   */
  readonly hold?: { readonly idleMs: number; readonly reconnect: number };
}

/** What the fleet mode measured on the hub (see {@link StormOptions.hold}). */
export interface HoldResult {
  readonly connections: number;
  /** Hub RSS with every connection open and settled, minus before the first one, per connection. */
  readonly rssPerConnKiB: number;
  readonly idleS: number;
  /** Hub CPU over the idle window (WebSocket pings every 50 s on each side), % of one core. */
  readonly idleCpuPercent: number;
  /** Connections still open on the hub at the end of the idle window. */
  readonly openAfterIdle: number;
  readonly reconnect: number;
  /** Drop signal until the hub had every dropped device in data exchange again; null if not. */
  readonly reconnectAllBackS: number | null;
  readonly reconnectLost: number;
}

export interface StormResult {
  readonly devices: number;
  readonly mode: StormMode;
  /** The hub's limit; null = the transport's default. */
  readonly maxHandshakesInFlight: number | null;
  readonly clientProcesses: number;
  readonly windowS: number;
  /** Signal until the last device was in data exchange on the hub; null if some never were. */
  readonly allBackS: number | null;
  /** Devices never in data exchange on the hub within the window. */
  readonly lost: number;
  /** Per device, hub side: signal until its first data exchange (ms). */
  readonly backAfterMs: Summary;
  /** Dials the devices started (first ones included). */
  readonly dials: number;
  /** Failed dials and handshakes seen by the devices, by message. */
  readonly clientFailures: Record<string, number>;
  /** 'connectionFailed' events of the hub, by reason. */
  readonly hubFailures: Record<string, number>;
  /** Hub process CPU time (user + system, all threads: JIT, GC) until all were back, per device. */
  readonly hubCpuMsPerDevice: number;
  /** Hub event-loop delay during the storm. */
  readonly hubLoopDelayMaxMs: number;
  readonly hubLoopDelayP99Ms: number;
  /** Hub process RSS before the storm and with every device back (or at the window's end). */
  readonly hubRssBeforeMiB: number;
  readonly hubRssAfterMiB: number;
  readonly hold?: HoldResult;
}

const CLIENT_PROCESSES = 2;

/** Waits until `done` resolves or `ms` have passed, whichever is first (a window, not an error). */
async function settledOrAfter(done: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function countInto(map: Map<string, number>, key: string): void {
  const shape = key.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<addr>').slice(0, 160);
  map.set(shape, (map.get(shape) ?? 0) + 1);
}

export async function runStorm(
  hubIdentity: BenchIdentity,
  deviceIdentities: readonly BenchIdentity[],
  firstDeviceIndex: number,
  options: StormOptions,
): Promise<StormResult> {
  const { mode, windowMs, maxHandshakesInFlight } = options;
  const devices = deviceIdentities.length;
  const tls = createShipTlsContext(hubIdentity);
  const hub = new Hub({
    localSki: hubIdentity.ski,
    localShipId: 'bench-hub',
    clock: systemClock,
    transport: new TlsTransport({
      tls,
      localSki: hubIdentity.ski,
      localShipId: 'bench-hub',
      port: 0,
      host: '127.0.0.1',
      clock: systemClock,
      ...(maxHandshakesInFlight !== null ? { maxHandshakesInFlight } : {}),
    }),
    trusted: deviceIdentities.map((d) => ({ ski: d.ski })),
    maxConnections: 2 * devices,
    connectionsPerAddressPerMinute: 1_000_000,
  });
  const backAt = new Map<Ski, number>();
  const hubFailures = new Map<string, number>();
  let goAt = Number.POSITIVE_INFINITY;
  let allBack: () => void = () => undefined;
  const allBackPromise = new Promise<void>((resolve) => (allBack = resolve));
  let onConnected: ((ski: Ski) => void) | undefined;
  hub.on('connected', (device) => {
    onConnected?.(device.ski);
    if (backAt.has(device.ski)) return;
    backAt.set(device.ski, now() - goAt);
    if (backAt.size === devices) allBack();
  });
  hub.on('connectionFailed', ({ reason }) => countInto(hubFailures, reason));

  const port = await hub.start();
  const children: ChildProcess[] = [];
  const loop = monitorEventLoopDelay({ resolution: 5 });
  try {
    const share = Math.ceil(devices / CLIENT_PROCESSES);
    for (let p = 0; p < CLIENT_PROCESSES; p++) {
      const first = p * share;
      const count = Math.min(share, devices - first);
      children.push(
        spawnBenchChild('./storm-client.js', [
          String(port),
          hubIdentity.ski,
          String(firstDeviceIndex + first),
          String(count),
          mode,
        ]),
      );
    }
    await Promise.all(children.map((c) => nextMessage(c, 'ready', 60_000)));
    await sleep(200);

    log(`  ${devices} devices ready in ${CLIENT_PROCESSES} processes, mode ${mode}: go`);
    const rssBefore = process.memoryUsage().rss;
    loop.enable();
    const cpuBefore = process.cpuUsage();
    goAt = now();
    const go: StormClientCommand = { type: 'go' };
    for (const child of children) child.send(go);
    await settledOrAfter(allBackPromise, windowMs);
    const endedAt = now();
    const cpu = process.cpuUsage(cpuBefore);
    const rssAfter = process.memoryUsage().rss;
    loop.disable();
    const lost = devices - backAt.size;
    const allBackS = lost === 0 ? round(Math.max(...backAt.values()) / 1000, 3) : null;
    log(
      `  ${backAt.size}/${devices} back after ${round((endedAt - goAt) / 1000, 2)} s` +
        (lost > 0 ? `, ${lost} lost` : ''),
    );

    const hold =
      options.hold !== undefined && lost === 0
        ? await holdAndReconnect(hub, children, devices, rssBefore, options.hold, (listener) => {
            onConnected = listener;
          })
        : undefined;

    const reports = await Promise.all(
      children.map((c) => {
        const report = nextMessage<StormClientReport>(c, 'report', 10_000);
        const stop: StormClientCommand = { type: 'stop' };
        c.send(stop);
        return report;
      }),
    );
    const clientFailures = new Map<string, number>();
    for (const r of reports) {
      for (const [k, v] of Object.entries(r.failures)) {
        clientFailures.set(k, (clientFailures.get(k) ?? 0) + v);
      }
    }
    return {
      devices,
      mode,
      maxHandshakesInFlight,
      clientProcesses: CLIENT_PROCESSES,
      windowS: windowMs / 1000,
      allBackS,
      lost,
      backAfterMs: summarize([...backAt.values()], 1),
      dials: reports.reduce((a, r) => a + r.dials, 0),
      clientFailures: Object.fromEntries(clientFailures),
      hubFailures: Object.fromEntries(hubFailures),
      hubCpuMsPerDevice: round((cpu.user + cpu.system) / 1000 / Math.max(1, backAt.size), 2),
      hubLoopDelayMaxMs: round(loop.max / 1e6, 1),
      hubLoopDelayP99Ms: round(loop.percentile(99) / 1e6, 1),
      hubRssBeforeMiB: round(rssBefore / 2 ** 20, 1),
      hubRssAfterMiB: round(rssAfter / 2 ** 20, 1),
      ...(hold === undefined ? {} : { hold }),
    };
  } finally {
    loop.disable();
    for (const child of children) {
      if (child.connected) child.send({ type: 'stop' } satisfies StormClientCommand);
    }
    await Promise.all(children.map((c) => exitOf(c, 3_000)));
    await hub.stop(2_000);
  }
}

/**
 * The fleet mode after every device is back: settle, hub RSS per connection, hub CPU over an idle
 * window, then `reconnect` devices (split over the client processes) drop their connection at
 * once and redial as devices do (0-3 s); timed until the hub has them all in data exchange again.
 */
async function holdAndReconnect(
  hub: Hub,
  children: readonly ChildProcess[],
  devices: number,
  rssBefore: number,
  hold: NonNullable<StormOptions['hold']>,
  watchConnected: (listener: (ski: Ski) => void) => void,
): Promise<HoldResult> {
  log(`  holding ${devices} connections idle for ${hold.idleMs / 1000} s`);
  await sleep(2_000);
  const rssSettled = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const idleStarted = now();
  await sleep(hold.idleMs);
  const cpu = process.cpuUsage(cpuBefore);
  const idleMs = now() - idleStarted;
  const openAfterIdle = hub.openConnectionCount;

  log(`  dropping ${hold.reconnect} connections at once`);
  const perChild = Math.ceil(hold.reconnect / children.length);
  // Watched from before the drop: a device may be back before its process's list arrives.
  const dropped = new Set<Ski>();
  const connectedAgain = new Set<Ski>();
  const back = new Set<Ski>();
  let allBack: () => void = () => undefined;
  const allBackPromise = new Promise<void>((resolve) => (allBack = resolve));
  const countBack = (ski: Ski) => {
    if (dropped.has(ski)) back.add(ski);
    if (dropped.size > 0 && back.size === dropped.size) allBack();
  };
  watchConnected((ski) => {
    connectedAgain.add(ski);
    countBack(ski);
  });
  const dropAt = now();
  const droppedLists = await Promise.all(
    children.map((child, i) => {
      const count = Math.min(perChild, hold.reconnect - i * perChild);
      const reply = nextMessage<{ type: 'dropped'; skis: Ski[] }>(child, 'dropped', 10_000);
      child.send({ type: 'drop', count } satisfies StormClientCommand);
      return reply;
    }),
  );
  for (const list of droppedLists) for (const ski of list.skis) dropped.add(ski);
  for (const ski of connectedAgain) countBack(ski);
  await settledOrAfter(allBackPromise, 60_000);
  const reconnectLost = dropped.size - back.size;
  const result: HoldResult = {
    connections: devices,
    rssPerConnKiB: round((rssSettled - rssBefore) / devices / 1024, 1),
    idleS: round(idleMs / 1000, 1),
    idleCpuPercent: round(((cpu.user + cpu.system) / 1000 / idleMs) * 100, 2),
    openAfterIdle,
    reconnect: dropped.size,
    reconnectAllBackS: reconnectLost === 0 ? round((now() - dropAt) / 1000, 3) : null,
    reconnectLost,
  };
  log(
    `  ${result.rssPerConnKiB} KiB per connection, idle CPU ${result.idleCpuPercent} %, ` +
      `${back.size}/${dropped.size} back after the drop`,
  );
  return result;
}

/** Runs {@link runStorm} with the hub in a new process (bench/storm-hub.ts). */
export async function runStormInFreshHub(
  hubIndex: number,
  firstDeviceIndex: number,
  devices: number,
  options: StormOptions,
): Promise<StormResult> {
  const hub = spawnBenchChild('./storm-hub.js', []);
  try {
    await nextMessage(hub, 'ready', 30_000);
    const holdMs = options.hold === undefined ? 0 : options.hold.idleMs + 75_000;
    const reply = nextMessage<StormHubResult>(hub, 'result', options.windowMs + holdMs + 90_000);
    const request: StormHubRequest = {
      type: 'run',
      hubIndex,
      firstDeviceIndex,
      devices,
      ...options,
    };
    hub.send(request);
    return (await reply).result;
  } finally {
    await exitOf(hub, 5_000);
  }
}
