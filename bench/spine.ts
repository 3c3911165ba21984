/**
 * SPINE figures (issue 13 item 8): how many datagrams per second our energy manager's session
 * takes through decode → dispatch → merge/answer → encode, and how much memory one connected
 * device with its SPINE model costs. No SHIP and no sockets: the SpineDriver as the hub runs it,
 * with the payload text a SHIP data message carries, against a heat pump that offers MPC (the
 * test helper's device, spine-protocol.md §11.2). Time does not move (a clock whose timers never
 * fire), so only the work per datagram is measured.
 */
import { SpineDriver } from '../src/hub/spine-driver.js';
import type { DeviceDataHandler, RemoteDevice } from '../src/hub/types.js';
import { RawJsonPayload } from '../src/ship/codec/data.js';
import type { Ski } from '../src/ship/ski.js';
import { encodeDatagramText } from '../src/spine/codec/datagram.js';
import type { FeatureAddress } from '../src/spine/model/address.js';
import { monitoringApplianceUseCases } from '../src/spine/session/defaults.js';
import type { Clock, PendingTimer, TimerHandle } from '../src/util/clock.js';
import { HEAT_PUMP, HEAT_PUMP_DATA, HEAT_PUMP_USE_CASES } from '../test/helpers/spine-heat-pump.js';
import { localDevice } from '../test/helpers/spine-session.js';
import { now, round, spawnBenchChild } from './common.js';

/** Time stands still and timers never fire: no response deadline or heartbeat interferes. */
const stillClock: Clock = {
  now: () => 0,
  wallNow: () => new Date(Date.UTC(2026, 0, 1)),
  setTimer: (): TimerHandle => ({ cancel: () => undefined }),
  listTimers: (): readonly PendingTimer[] => [],
};

const CEM_SKI = '1111111111111111111111111111111111111111' as Ski;

function skiOf(index: number): Ski {
  return `2${index.toString(16).padStart(39, '0')}` as Ski;
}

function device(ski: Ski, send: (text: string) => void): RemoteDevice {
  return {
    ski,
    direction: 'outbound',
    remoteAddress: '127.0.0.1',
    shipId: ski,
    send: (payload) => {
      if (payload instanceof RawJsonPayload) send(payload.text);
    },
    close: () => Promise.resolve(),
  };
}

/** Our energy manager as the hub builds it: monitoring on, MPC/MGCP announced. */
function energyManager(): SpineDriver {
  return new SpineDriver({
    clock: stillClock,
    session: { localDevice: localDevice(), useCases: monitoringApplianceUseCases() },
    monitoring: true,
  });
}

/**
 * Connects a fresh heat pump to `cem` as device `ski` and runs both sessions until they are quiet
 * (discovery, use cases, subscriptions, descriptions and values read): at most 1,000 datagrams.
 * Returns the energy manager's handler for the device and the pump's driver.
 */
function connectHeatPump(cem: SpineDriver, ski: Ski, sent: { count: number }) {
  const heatPump = new SpineDriver({
    clock: stillClock,
    session: { localDevice: HEAT_PUMP, useCases: HEAT_PUMP_USE_CASES, serverData: HEAT_PUMP_DATA },
  });
  const queue: Array<{ to: 'cem' | 'hp'; text: string }> = [];
  const handlers: { cem?: DeviceDataHandler; hp?: DeviceDataHandler } = {};
  handlers.hp = heatPump.setupRemoteDevice(
    device(CEM_SKI, (text) => queue.push({ to: 'cem', text })),
  );
  handlers.cem = cem.setupRemoteDevice(
    device(ski, (text) => {
      sent.count += 1;
      queue.push({ to: 'hp', text });
    }),
  );
  for (let delivered = 0; queue.length > 0; delivered++) {
    if (delivered >= 1_000) throw new Error('the SPINE sessions did not settle');
    const next = queue.shift();
    if (next !== undefined) handlers[next.to]?.onData(undefined, next.text);
  }
  return { handler: handlers.cem, heatPump };
}

export interface SpineThroughput {
  /** Notifies of measurementListData from the pump's Measurement server, merged and evaluated. */
  readonly notifyPerS: number;
  readonly notifyUsP50: number;
  /** Reads of our DeviceDiagnosis state, each answered with a reply. */
  readonly readPerS: number;
  readonly readUsP50: number;
  readonly datagrams: number;
}

/** µs per datagram: the median of batches of 100, so a GC pause does not set the figure. */
function timeBatches(texts: readonly string[], feed: (text: string) => void) {
  const batch = 100;
  const perDatagramUs: number[] = [];
  const started = now();
  for (let i = 0; i < texts.length; i += batch) {
    const t0 = now();
    for (const text of texts.slice(i, i + batch)) feed(text);
    perDatagramUs.push(((now() - t0) * 1000) / batch);
  }
  const totalMs = now() - started;
  perDatagramUs.sort((a, b) => a - b);
  return {
    perS: Math.round((texts.length * 1000) / totalMs),
    usP50: round(perDatagramUs[Math.floor(perDatagramUs.length / 2)] ?? 0, 1),
  };
}

/**
 * `count` notifies and `count` reads (after `count / 10` of each to warm up), fed as the payload
 * text of SHIP data messages into the energy manager's session of one heat pump.
 */
export function measureSpineThroughput(count: number): SpineThroughput {
  const cem = energyManager();
  const sent = { count: 0 };
  const { handler } = connectHeatPump(cem, skiOf(1), sent);
  const state = cem.state(skiOf(1));
  const measurementClient = state?.remote.relations.find(
    (r) => r.serverFeatureType === 'Measurement',
  )?.client;
  const pump = state?.remote.device?.device;
  if (handler === undefined || state === undefined || pump === undefined || !measurementClient) {
    throw new Error('the heat pump was not set up');
  }
  const measurementServer: FeatureAddress = { device: pump, entity: [1], feature: 6 };
  const pumpNodeManagement: FeatureAddress = { device: pump, entity: [0], feature: 0 };
  const ourDiagnosis: FeatureAddress = {
    device: state.config.deviceAddress,
    entity: [1],
    feature: 1,
  };
  let counter = 10_000n;
  const notify = (i: number) =>
    encodeDatagramText({
      header: {
        specificationVersion: '1.3.0',
        addressSource: measurementServer,
        addressDestination: measurementClient,
        msgCounter: counter++,
        cmdClassifier: 'notify',
      },
      payload: {
        cmd: [
          {
            data: {
              name: 'measurementListData',
              value: {
                measurementData: [
                  {
                    measurementId: 0,
                    valueType: 'value',
                    value: { number: 100_000 + i, scale: -2 },
                  },
                  {
                    measurementId: 1,
                    valueType: 'value',
                    value: { number: 400 + (i % 50), scale: 0 },
                  },
                  { measurementId: 2, valueType: 'value', value: { number: 98_765 + i, scale: 1 } },
                ],
              },
            },
          },
        ],
      },
    });
  const read = () =>
    encodeDatagramText({
      header: {
        specificationVersion: '1.3.0',
        addressSource: pumpNodeManagement,
        addressDestination: ourDiagnosis,
        msgCounter: counter++,
        cmdClassifier: 'read',
      },
      payload: { cmd: [{ data: { name: 'deviceDiagnosisStateData', value: {} } }] },
    });
  const feed = (text: string) => handler.onData(undefined, text);
  const warmup = Math.max(1, Math.floor(count / 10));
  for (let i = 0; i < warmup; i++) {
    feed(notify(i));
    feed(read());
  }
  const notifies = Array.from({ length: count }, (_, i) => notify(i));
  const reads = Array.from({ length: count }, () => read());
  const repliesBefore = sent.count;
  const notifyFigures = timeBatches(notifies, feed);
  const readFigures = timeBatches(reads, feed);
  // Every read was answered, and no notify was (none asked for an acknowledgement).
  if (sent.count - repliesBefore !== count) {
    throw new Error(`expected ${count} replies, got ${sent.count - repliesBefore}`);
  }
  const total = cem.summary(skiOf(1))?.monitoring[0]?.measurements[0]?.value;
  if (typeof total !== 'number' || Math.abs(total - (100_000 + count - 1) / 100) > 1e-6) {
    throw new Error(`the last notify was not applied (total power ${String(total)})`);
  }
  cem.close();
  return {
    notifyPerS: notifyFigures.perS,
    notifyUsP50: notifyFigures.usP50,
    readPerS: readFigures.perS,
    readUsP50: readFigures.usP50,
    datagrams: 2 * count,
  };
}

export interface SpineMemory {
  readonly devices: number;
  /** JS heap per device (heapUsed after full collections), KiB. */
  readonly heapPerDeviceKiB: number;
}

/**
 * Heap of the energy manager's driver with `devices` heat pumps connected and set up (each
 * session holding the pump's device model, use cases, data, relations and monitored values),
 * minus the heap before; the pumps' own drivers are closed and collected first. Needs
 * `--expose-gc`.
 */
export async function measureSpineMemory(devices: number): Promise<SpineMemory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('measureSpineMemory needs node --expose-gc');
  const settle = async () => {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  };
  const cem = energyManager();
  await settle();
  const before = process.memoryUsage().heapUsed;
  const sent = { count: 0 };
  for (let i = 1; i <= devices; i++) {
    connectHeatPump(cem, skiOf(i), sent).heatPump.close();
  }
  await settle();
  const after = process.memoryUsage().heapUsed;
  if (cem.devices().length !== devices) throw new Error('a session was lost');
  const result = { devices, heapPerDeviceKiB: round((after - before) / devices / 1024, 1) };
  cem.close();
  return result;
}

/** {@link measureSpineMemory} in a child process with --expose-gc (bench/spine-child.ts). */
export function measureSpineMemoryInChild(devices: number): Promise<SpineMemory> {
  const child = spawnBenchChild('./spine-child.js', [String(devices)], ['--expose-gc']);
  return new Promise((resolve, reject) => {
    child.once('message', (message: { type: string; result?: SpineMemory; message?: string }) => {
      if (message.type === 'spineMemory' && message.result !== undefined) resolve(message.result);
      else reject(new Error(`SPINE memory child: ${message.message ?? message.type}`));
    });
    child.once('exit', (code) => {
      reject(new Error(`SPINE memory child exited with ${String(code)}`));
    });
  });
}
