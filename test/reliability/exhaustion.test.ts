/**
 * Resource exhaustion against a Hub over real TLS + WebSocket on 127.0.0.1:
 * - 1,000 idle TCP connections that never start TLS and 200 that stall in the middle of a TLS
 *   ClientHello, held open and then re-opened as fast as the server drops them: a trusted device
 *   still reaches data exchange, every time (maxHandshakesInFlight = 64 is the protection tested;
 *   the per-address rate limit is set out of the way);
 * - messages over maxPayload and floods of messages from one peer leave memory where it was
 *   (RSS and heap after garbage collection, before and after, with a generous bound);
 * - a peer that stops reading cannot make us buffer without bound: application sends, replies
 *   the protocol sends on its own (an accessMethodsRequest flood) and pongs (a ping flood) all
 *   end with the connection closed, with at most about the 4 MiB limit buffered.
 *
 * The test checks the file-descriptor limit first and raises it with prlimit if it is too low
 * (CI runs as root), or sizes the flood to the limit it has.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { ConnectionClosedInfo } from '../../src/transport/ship-connection.js';
import type { Hub, RemoteDevice } from '../../src/hub/hub.js';
import type { Ski } from '../../src/ship/ski.js';
import { connectShip } from '../../src/transport/ship-client.js';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../src/transport/ship-connection.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../../src/transport/ship-server.js';
import {
  connectShipTls,
  createShipTlsContext,
  type ShipTlsContext,
} from '../../src/transport/tls.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import {
  ACCESS_METHODS_REQUEST,
  HOST,
  dataMessage,
  fdLimits,
  openFdCount,
  rawHandshake,
  rawShipClient,
  raiseFdLimit,
  settledMemory,
  startHub,
  trapProcessErrors,
  waitFor,
  type MemorySample,
  type ProcessErrorTrap,
} from './helpers.js';
import { recordFigures } from './figures.js';

const IDLE_CONNECTIONS = 1_000;
const STALLED_HANDSHAKES = 200;
const MAX_HANDSHAKES_IN_FLIGHT = 64;
/** Re-opening dropped attacker sockets stops after this many, or after the churn phase. */
const MAX_REOPENS = 20_000;
/** Trusted connects under churn, each after this many more re-opened attacker sockets. */
const CHURN_CONNECTS = 20;
const REOPENS_BETWEEN_CONNECTS = 100;
/** Generous bounds of memory growth after everything is closed and collected. */
const MAX_HEAP_GROWTH_MIB = 48;
const MAX_RSS_GROWTH_MIB = 160;

interface DeviceState {
  device: RemoteDevice | undefined;
  received: number;
  receivedBytes: number;
  closed: ConnectionClosedInfo[];
}

describe('resource exhaustion against a hub on 127.0.0.1', () => {
  let hub: Hub;
  let trap: ProcessErrorTrap;
  let port: number;
  let fdSoftLimit: number;
  let scale = 1;
  const devices = new Map<Ski, DeviceState>();
  const contexts: Record<string, ShipTlsContext> = {};
  const attackers = new Set<net.Socket>();

  const state = (ski: Ski): DeviceState => {
    let s = devices.get(ski);
    if (s === undefined) {
      s = { device: undefined, received: 0, receivedBytes: 0, closed: [] };
      devices.set(ski, s);
    }
    return s;
  };

  before(async () => {
    trap = trapProcessErrors();
    // Every attacker connection costs two descriptors here (client and server side).
    const wanted = 2 * (IDLE_CONNECTIONS + STALLED_HANDSHAKES) + 1_024;
    fdSoftLimit = raiseFdLimit(wanted);
    if (fdSoftLimit < wanted) scale = Math.max(0.05, (fdSoftLimit - 1_024) / (wanted - 1_024));
    console.log(
      `file descriptors: soft limit ${fdSoftLimit} (hard ${fdLimits().hard}), wanted ${wanted}` +
        (scale < 1 ? `, flood scaled to ${Math.round(scale * 100)} %` : ''),
    );
    for (const name of [
      'ex-hub',
      'ex-device',
      'ex-flooder',
      'ex-big',
      'ex-deaf',
      'ex-amplifier',
      'ex-pinger',
    ]) {
      contexts[name] = createShipTlsContext(await testIdentity(name));
    }
    hub = await startHub({
      tls: contexts['ex-hub']!,
      shipId: 'ex-hub',
      transport: { maxHandshakesInFlight: MAX_HANDSHAKES_IN_FLIGHT },
      hub: {
        trusted: Object.entries(contexts)
          .filter(([name]) => name !== 'ex-hub')
          .map(([, ctx]) => ({ ski: ctx.ski })),
        maxConnections: 200,
        // Out of the way: maxHandshakesInFlight is the protection under test.
        connectionsPerAddressPerMinute: 1_000_000,
        setupRemoteDevice: (device) => {
          const s = state(device.ski);
          s.device = device;
          return {
            onData: (payload) => {
              s.received += 1;
              s.receivedBytes += typeof payload === 'string' ? payload.length : 1;
            },
            onClose: (info) => s.closed.push(info),
          };
        },
      },
    });
    port = hub.listeningPort!;
  });

  after(async () => {
    for (const socket of attackers) socket.destroy();
    await hub?.stop(2_000);
    trap?.dispose();
  });

  async function trustedDeviceConnects(): Promise<number> {
    const ctx = contexts['ex-device']!;
    const started = performance.now();
    let complete!: Promise<void>;
    const connection = await connectShip({
      host: HOST,
      port,
      expectedSki: hub.localSki,
      tls: ctx,
      localSki: ctx.ski,
      localShipId: 'ex-device',
      clock: systemClock,
      onConnection: (c) => {
        complete = new Promise((resolve, reject) => {
          c.once('dataChannelOpen', () => resolve());
          c.once('closed', (info) => reject(new Error(`closed: ${info.failure?.message ?? ''}`)));
        });
      },
    });
    await complete;
    const ms = performance.now() - started;
    await connection.close();
    await waitFor(() => hub.openConnectionCount === 0, 'the trusted connection to close');
    return ms;
  }

  it(
    `${IDLE_CONNECTIONS} idle TCP + ${STALLED_HANDSHAKES} stalled TLS handshakes: a trusted device gets in`,
    { timeout: 120_000 },
    async () => {
      const idleCount = Math.round(IDLE_CONNECTIONS * scale);
      const stalledCount = Math.round(STALLED_HANDSHAKES * scale);
      // A real ClientHello of ours, cut in half: the server waits for the rest.
      const hello = await captureClientHello(contexts['ex-device']!);
      const partial = hello.subarray(0, Math.floor(hello.length / 2));
      const fdBefore = openFdCount();
      let droppedByServer = 0;
      let reopening = false;
      let reopened = 0;

      const open = (stall: boolean): Promise<void> =>
        new Promise((resolve) => {
          const socket = net.connect({ host: HOST, port });
          attackers.add(socket);
          socket.on('error', () => undefined);
          socket.once('connect', () => {
            if (stall) socket.write(partial);
            resolve();
          });
          socket.once('close', () => {
            attackers.delete(socket);
            droppedByServer += 1;
            resolve();
            if (reopening && reopened < MAX_REOPENS) {
              reopened += 1;
              void open(stall);
            }
          });
        });

      // Phase 1: open the flood in batches (the listen backlog is finite) and hold it.
      const plan = [
        ...Array.from({ length: idleCount }, () => false),
        ...Array.from({ length: stalledCount }, () => true),
      ];
      for (let i = 0; i < plan.length; i += 50) {
        await Promise.all(plan.slice(i, i + 50).map((stall) => open(stall)));
      }
      // The server drops every socket beyond maxHandshakesInFlight as the next one arrives.
      await waitFor(
        () => droppedByServer >= plan.length - MAX_HANDSHAKES_IN_FLIGHT,
        'the server to drop the sockets beyond its handshake slots',
      );
      const heldOpen = attackers.size;
      console.log(
        `flood: ${plan.length} attacker sockets opened, ${droppedByServer} dropped by the server, ` +
          `${heldOpen} still open (maxHandshakesInFlight ${MAX_HANDSHAKES_IN_FLIGHT})`,
      );
      // The server keeps at most maxHandshakesInFlight sockets before the upgrade: it dropped
      // the oldest of the rest.
      assert.ok(
        heldOpen <= MAX_HANDSHAKES_IN_FLIGHT + 2,
        `${heldOpen} attacker sockets still open`,
      );
      assert.ok(droppedByServer >= plan.length - MAX_HANDSHAKES_IN_FLIGHT - 2);

      const quietMs = await trustedDeviceConnects();

      // Phase 2: every dropped attacker socket is re-opened at once (idle and stalled alike),
      // so the server is under a constant stream of new sockets while the device connects.
      reopening = true;
      for (const _ of Array.from({ length: MAX_HANDSHAKES_IN_FLIGHT })) void open(false);
      const churnStarted = performance.now();
      const churnTimes: number[] = [];
      for (let i = 1; i <= CHURN_CONNECTS; i++) {
        churnTimes.push(await trustedDeviceConnects());
        await waitFor(
          () => reopened >= Math.min(MAX_REOPENS, i * REOPENS_BETWEEN_CONNECTS),
          'attacker sockets to be re-opened',
        );
      }
      reopening = false;
      const churnMs = performance.now() - churnStarted;
      for (const socket of attackers) socket.destroy();
      await waitFor(() => attackers.size === 0, 'the attackers to be gone');
      console.log(
        `trusted device in data exchange after ${Math.round(quietMs)} ms with the flood held; ` +
          `under churn (${reopened} attacker sockets re-opened in ${(churnMs / 1000).toFixed(1)} s) ` +
          `${churnTimes.length} times, after ${Math.round(Math.min(...churnTimes))}-` +
          `${Math.round(Math.max(...churnTimes))} ms (median ${Math.round(median(churnTimes))} ms)`,
      );
      recordFigures('exhaustion-flood', {
        fdSoftLimit,
        idle: idleCount,
        stalled: stalledCount,
        droppedWhileOpening: plan.length - heldOpen,
        heldOpen,
        maxHandshakesInFlight: MAX_HANDSHAKES_IN_FLIGHT,
        quietMs: Math.round(quietMs),
        churnReopened: reopened,
        churnSeconds: Math.round(churnMs / 100) / 10,
        churnConnects: churnTimes.length,
        churnMinMs: Math.round(Math.min(...churnTimes)),
        churnMedianMs: Math.round(median(churnTimes)),
        churnMaxMs: Math.round(Math.max(...churnTimes)),
      });
      assert.equal(churnTimes.length, CHURN_CONNECTS);
      assert.ok(
        reopened >= CHURN_CONNECTS * REOPENS_BETWEEN_CONNECTS,
        `only ${reopened} re-opened attacker sockets: no real churn`,
      );
      // Descriptors come back: no socket of the flood leaks on the server side.
      await waitFor(
        () => openFdCount() <= fdBefore + 20,
        `file descriptors back to ${fdBefore} (now ${openFdCount()})`,
        15_000,
      );
    },
  );

  it(
    'messages over maxPayload and near it leave memory where it was',
    { timeout: 120_000 },
    async () => {
      const before = await settledMemory();
      const ctx = contexts['ex-big']!;
      // 40 connections each ending with a message one byte over maxPayload (1009).
      let refused = 0;
      for (let i = 0; i < 40; i++) {
        await waitFor(() => !hub.connections().some((c) => c.ski === ctx.ski), 'previous closed');
        const c = await rawShipClient(port, ctx);
        await rawHandshake(c, 'ex-big');
        const huge = Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES + 1, 0x20);
        huge[0] = 2;
        c.sendBinary(huge);
        const outcome = await c.closed;
        assert.equal(outcome.code, 1009);
        refused += 1;
      }
      // 60 valid data messages just under maxPayload on one connection: all delivered.
      await waitFor(() => !hub.connections().some((c) => c.ski === ctx.ski), 'previous closed');
      const s = state(ctx.ski);
      s.received = 0;
      const c = await rawShipClient(port, ctx);
      await rawHandshake(c, 'ex-big');
      await waitFor(
        () =>
          s.device !== undefined &&
          hub.connections().some((x) => x.ski === ctx.ski && x.state === 'SME_STATE_COMPLETE'),
        'complete',
      );
      const filler = 'x'.repeat(DEFAULT_MAX_PAYLOAD_BYTES - 200);
      for (let i = 0; i < 60; i++) c.sendBinary(dataMessage(filler));
      await waitFor(
        () => s.received === 60,
        `60 near-limit messages delivered (got ${s.received})`,
        30_000,
      );
      c.ws.close();
      await c.closed;
      const afterMemory = await settledMemory();
      reportMemory(
        'oversized (40 × 1 MiB + 1) and near-limit (60 × 1 MiB − 200) messages',
        before,
        afterMemory,
      );
      recordFigures('exhaustion-oversized', { refused, nearLimit: 60, before, after: afterMemory });
      assert.equal(refused, 40);
      assertBounded(before, afterMemory);
    },
  );

  it(
    'floods from one peer (data, accessMethodsRequest without reading, pings without reading) stay bounded',
    { timeout: 120_000 },
    async () => {
      const before = await settledMemory();
      // 1. 50,000 data messages as fast as the socket takes them: all delivered, nothing kept.
      const flooder = contexts['ex-flooder']!;
      const s = state(flooder.ski);
      s.received = 0;
      const c = await rawShipClient(port, flooder);
      await rawHandshake(c, 'ex-flooder');
      await waitFor(
        () =>
          hub.connections().some((x) => x.ski === flooder.ski && x.state === 'SME_STATE_COMPLETE'),
        'complete',
      );
      const FLOOD = 50_000;
      const message = dataMessage({
        datagram: [{ header: [{ msgCounter: 1 }] }, { payload: 'flood' }],
      });
      for (let i = 0; i < FLOOD; i++) {
        c.sendBinary(message);
        if (i % 5_000 === 4_999) await new Promise((resolve) => setImmediate(resolve));
      }
      await waitFor(
        () => s.received === FLOOD,
        `${FLOOD} flood messages delivered (got ${s.received})`,
        60_000,
      );
      c.ws.close();
      await c.closed;

      // 2. accessMethodsRequest without ever reading the accessMethods answers: the replies pile
      // up on our side until the backpressure limit closes the connection.
      const amplifier = contexts['ex-amplifier']!;
      const a = await rawShipClient(port, amplifier);
      await rawHandshake(a, 'ex-amplifier');
      await waitFor(
        () =>
          hub
            .connections()
            .some((x) => x.ski === amplifier.ski && x.state === 'SME_STATE_COMPLETE'),
        'complete',
      );
      const amplifierClosed = new Promise<ConnectionClosedInfo>((resolve) =>
        hub.on('disconnected', (ski, info) => {
          if (ski === amplifier.ski) resolve(info);
        }),
      );
      a.socket.pause();
      let requests = 0;
      let ended: ConnectionClosedInfo | undefined;
      void amplifierClosed.then((info) => (ended = info));
      while (ended === undefined && requests < 2_000_000) {
        for (let i = 0; i < 2_000; i++) a.sendBinary(ACCESS_METHODS_REQUEST);
        requests += 2_000;
        // Let the sockets move the bytes before the next batch.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const info = await amplifierClosed;
      assert.equal(info.failure?.code, 'SHIPHUB_ERR_TRANSPORT', info.failure?.message);
      const buffered = Number(/(\d+) bytes are waiting/.exec(info.failure.message)?.[1]);
      console.log(
        `accessMethodsRequest flood: closed after ${requests} requests with ${buffered} bytes buffered`,
      );
      assert.ok(buffered <= DEFAULT_MAX_BUFFERED_BYTES + 64 * 1024, `${buffered} bytes buffered`);
      a.socket.destroy();

      // 3. Pings without reading the pongs: ws drops the peer (maxPendingAutoPongs).
      const pinger = contexts['ex-pinger']!;
      const p = await rawShipClient(port, pinger);
      await rawHandshake(p, 'ex-pinger');
      await waitFor(
        () =>
          hub.connections().some((x) => x.ski === pinger.ski && x.state === 'SME_STATE_COMPLETE'),
        'complete',
      );
      p.socket.pause();
      let pings = 0;
      while (hub.connections().some((x) => x.ski === pinger.ski) && pings < 2_000_000) {
        for (let i = 0; i < 2_000; i++) p.ws.ping();
        pings += 2_000;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await waitFor(
        () => !hub.connections().some((x) => x.ski === pinger.ski),
        'the pinger is dropped',
        10_000,
      );
      console.log(`ping flood without reading: dropped after ${pings} pings`);
      p.socket.destroy();
      await waitFor(() => hub.openConnectionCount === 0, 'nothing left open');

      const afterMemory = await settledMemory();
      reportMemory(
        `floods (${FLOOD} data, ${requests} accessMethodsRequest, ${pings} pings)`,
        before,
        afterMemory,
      );
      recordFigures('exhaustion-floods', {
        data: FLOOD,
        requests,
        amplifierBuffered: buffered,
        pings,
        before,
        after: afterMemory,
      });
      assertBounded(before, afterMemory);
    },
  );

  it(
    'a peer that stops reading: our sends end with a close at the buffer limit',
    { timeout: 60_000 },
    async () => {
      const before = await settledMemory();
      const deaf = contexts['ex-deaf']!;
      const s = state(deaf.ski);
      const c = await rawShipClient(port, deaf);
      await rawHandshake(c, 'ex-deaf');
      await waitFor(
        () =>
          s.device !== undefined &&
          hub.connections().some((x) => x.ski === deaf.ski && x.state === 'SME_STATE_COMPLETE'),
        'complete',
      );
      c.socket.pause();
      const chunk = { datagram: [{ payload: 'y'.repeat(16 * 1024) }] };
      let sends = 0;
      let thrown: (Error & { code?: string }) | undefined;
      while (thrown === undefined && sends < 100_000) {
        try {
          s.device!.send(chunk);
          sends += 1;
        } catch (err) {
          thrown = err as Error & { code?: string };
        }
        if (sends % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(thrown, `${sends} sends of 16 KiB to a peer that does not read, and no error`);
      assert.equal(thrown.code, 'SHIPHUB_ERR_TRANSPORT');
      await waitFor(() => s.closed.length > 0, 'the hub closed the deaf connection', 10_000);
      const info = s.closed.at(-1)!;
      assert.equal(info.failure?.code, 'SHIPHUB_ERR_TRANSPORT');
      const buffered = Number(/(\d+) bytes are waiting/.exec(info.failure.message)?.[1]);
      console.log(
        `deaf peer: ${sends} sends of 16 KiB accepted (${((sends * 16) / 1024).toFixed(1)} MiB, the rest in ` +
          `kernel socket buffers), then closed with ${buffered} bytes buffered`,
      );
      assert.ok(buffered <= DEFAULT_MAX_BUFFERED_BYTES + 20 * 1024, `${buffered} bytes buffered`);
      c.socket.destroy();
      await waitFor(() => hub.openConnectionCount === 0, 'nothing left open');
      const afterMemory = await settledMemory();
      reportMemory('deaf peer', before, afterMemory);
      recordFigures('exhaustion-deaf', {
        sends,
        sendKiB: 16,
        buffered,
        before,
        after: afterMemory,
      });
      assertBounded(before, afterMemory);
      assert.deepEqual(trap.errors, [], 'unhandled rejections or exceptions');
    },
  );
});

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function reportMemory(what: string, before: MemorySample, afterMemory: MemorySample): void {
  console.log(
    `memory ${what}: RSS ${before.rssMiB} → ${afterMemory.rssMiB} MiB, heap ${before.heapUsedMiB} → ` +
      `${afterMemory.heapUsedMiB} MiB, external ${before.externalMiB} → ${afterMemory.externalMiB} MiB`,
  );
}

function assertBounded(before: MemorySample, afterMemory: MemorySample): void {
  assert.ok(
    afterMemory.heapUsedMiB - before.heapUsedMiB < MAX_HEAP_GROWTH_MIB,
    `heap grew from ${before.heapUsedMiB} to ${afterMemory.heapUsedMiB} MiB`,
  );
  assert.ok(
    afterMemory.rssMiB - before.rssMiB < MAX_RSS_GROWTH_MIB,
    `RSS grew from ${before.rssMiB} to ${afterMemory.rssMiB} MiB`,
  );
}

/** The first bytes our TLS client sends (its ClientHello), caught by a plain TCP server. */
async function captureClientHello(ctx: ShipTlsContext): Promise<Buffer> {
  const server = net.createServer();
  const captured = new Promise<Buffer>((resolve) =>
    server.once('connection', (socket) => {
      socket.once('data', (data: Buffer) => {
        resolve(data);
        socket.destroy();
      });
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
  const address = server.address() as net.AddressInfo;
  const client = connectShipTls({ host: HOST, port: address.port, ctx }).catch(() => undefined);
  const hello = await captured;
  await client;
  server.close();
  assert.equal(hello[0], 0x16, 'a TLS handshake record');
  return hello;
}
