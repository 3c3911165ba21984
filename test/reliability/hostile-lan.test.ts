/**
 * A hostile LAN against a hub on 127.0.0.1 (real TLS + WebSocket), one attack after the other,
 * while a paired device is in data exchange and a second paired device joins under each attack:
 *
 * - pending flood: more unknown devices than max_connections ask to pair and stay;
 * - one SKI, many sessions: an unknown device opens ten connections at once;
 * - denied and back: a denied device reconnects again and again;
 * - oversized hellos: unknown peers send a 1 MB hello after CMI;
 * - refused upgrades + malformed frames: upgrades without the `ship` subprotocol, then garbage;
 * - bare TCP: hundreds of connects that never start TLS.
 *
 * What must hold (asserted, by count and by event): the paired device is never disconnected and
 * answers every round trip, the joining device reaches data exchange, unknown devices stay within
 * max_pending_pairings, one request per SKI, no question for a denied device, no process error.
 * Round-trip and join times are measured as figures for docs/reliability.md, never asserted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import type { Hub, PendingPairing } from '../../src/hub/hub.js';
import type { Ski } from '../../src/ship/ski.js';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import { createShipTlsContext, type ShipTlsContext } from '../../src/transport/tls.js';
import { systemClock } from '../../src/util/clock.js';
import { testIdentity } from '../helpers/certs.js';
import { seededRandom } from '../helpers/random.js';
import { recordFigures } from './figures.js';
import {
  CMI,
  HOST,
  rawShipClient,
  rawTcp,
  round,
  ship,
  sprayMalformed,
  startHub,
  trapProcessErrors,
  type ProcessErrorTrap,
} from './helpers.js';

const MAX_CONNECTIONS = 20;
const MAX_PENDING = 5;
const ROUND_TRIPS_PER_ATTACK = 20;

interface Figures {
  attackConnections: number;
  rttP50Ms: number;
  rttMaxMs: number;
  joinMs: number;
}

describe('hostile LAN: a paired device stays undisturbed and a second one joins', () => {
  let hub: Hub;
  let trap: ProcessErrorTrap;
  let port: number;
  let hubSki: Ski;
  let paired: ShipConnection;
  let pairedClosed = false;
  let joinerTls: ShipTlsContext;
  const pending: PendingPairing[] = [];
  const cleanups: Array<() => void> = [];

  const dial = (tls: ShipTlsContext, shipId: string): Promise<ShipConnection> =>
    connectShip({
      host: HOST,
      port,
      expectedSki: hubSki,
      tls,
      localSki: tls.ski,
      localShipId: shipId,
      clock: systemClock,
    });

  const complete = (connection: ShipConnection): Promise<void> =>
    new Promise((resolve, reject) => {
      if (connection.subState === 'SME_STATE_COMPLETE') {
        resolve();
        return;
      }
      connection.once('complete', () => resolve());
      connection.once('closed', (info) =>
        reject(new Error(`closed before data exchange: ${info.failure?.message ?? 'no reason'}`)),
      );
    });

  /** Resolves once at least `count` of `connections` are closed (already closed ones count). */
  async function closedAtLeast(connections: ShipConnection[], count: number): Promise<void> {
    if (count <= 0) return;
    await new Promise<void>((resolve) => {
      let closed = 0;
      for (const connection of connections) {
        void connection.waitClosed().then(() => {
          if (++closed === count) resolve();
        });
      }
    });
  }

  /** Round trips of the paired device (the hub echoes) and one join of the second device. */
  async function measure(name: string, attackConnections: number): Promise<Figures> {
    const rtts: number[] = [];
    for (let i = 0; i < ROUND_TRIPS_PER_ATTACK; i++) {
      const started = performance.now();
      const echoed = new Promise<unknown>((resolve) => paired.once('data', resolve));
      paired.send({ attack: name, i });
      assert.deepEqual(await echoed, { attack: name, i }, `${name}: round trip ${i} answered`);
      rtts.push(performance.now() - started);
    }
    const joinStarted = performance.now();
    const joiner = await dial(joinerTls, 'joiner');
    await complete(joiner);
    const joinMs = performance.now() - joinStarted;
    const joinerClosed = new Promise<void>((resolve) => joiner.once('closed', () => resolve()));
    await joiner.close();
    await joinerClosed;
    assert.equal(pairedClosed, false, `${name}: the paired device was never disconnected`);
    rtts.sort((a, b) => a - b);
    const figures = {
      attackConnections,
      rttP50Ms: round(rtts[Math.floor(rtts.length / 2)] ?? 0, 2),
      rttMaxMs: round(rtts[rtts.length - 1] ?? 0, 2),
      joinMs: round(joinMs, 1),
    };
    recordFigures(`hostile-lan-${name}`, figures);
    return figures;
  }

  before(async () => {
    trap = trapProcessErrors();
    const hubIdentity = await testIdentity('hostile-lan-hub');
    const pairedIdentity = await testIdentity('hostile-lan-paired');
    const joinerIdentity = await testIdentity('hostile-lan-joiner');
    joinerTls = createShipTlsContext(joinerIdentity);
    hub = await startHub({
      tls: createShipTlsContext(hubIdentity),
      shipId: 'hostile-lan-hub',
      hub: {
        trusted: [{ ski: pairedIdentity.ski }, { ski: joinerIdentity.ski }],
        maxConnections: MAX_CONNECTIONS,
        maxPendingPairings: MAX_PENDING,
        // Out of the way: every attack comes from 127.0.0.1, like the paired devices.
        connectionsPerAddressPerMinute: 1_000_000,
        setupRemoteDevice: (device) => ({ onData: (payload) => device.send(payload) }),
      },
    });
    hub.on('pairingRequest', (p) => pending.push(p));
    port = hub.listeningPort!;
    hubSki = hub.localSki;
    paired = await dial(createShipTlsContext(pairedIdentity), 'paired');
    await complete(paired);
    paired.once('closed', () => (pairedClosed = true));
  });

  after(async () => {
    for (const cleanup of cleanups) cleanup();
    await paired?.close();
    await hub?.stop(2_000);
    trap?.dispose();
    assert.deepEqual(trap.errors, [], 'no uncaught exception or unhandled rejection');
  });

  it('pending flood: 30 unknown devices ask to pair and stay', { timeout: 120_000 }, async () => {
    const attackers: ShipConnection[] = [];
    for (let i = 0; i < 30; i++) {
      const identity = await testIdentity(`hostile-lan-pending-${i}`);
      const connection = await dial(createShipTlsContext(identity), `pending-${i}`).catch(
        () => undefined,
      );
      if (connection !== undefined) attackers.push(connection);
    }
    cleanups.push(() => attackers.forEach((a) => void a.terminate(1000, 'test done')));
    // The hub evicts the oldest unknown devices as newer ones arrive: wait for those closes.
    await closedAtLeast(attackers, attackers.length - MAX_PENDING);
    const untrusted = hub.connections().filter((c) => !hub.isTrusted(c.ski)).length;
    await measure('pending-flood', 30);
    assert.ok(untrusted <= MAX_PENDING, `${untrusted} unknown connections ≤ ${MAX_PENDING}`);
    assert.ok(hub.pendingPairings().length <= MAX_PENDING);
    for (const a of attackers) void a.terminate(1000, 'test done');
  });

  it(
    'one SKI, many sessions: ten connections of one unknown device',
    { timeout: 120_000 },
    async () => {
      const identity = await testIdentity('hostile-lan-twin');
      const tls = createShipTlsContext(identity);
      const sessions = await Promise.all(
        Array.from({ length: 10 }, (_, i) => dial(tls, `twin-${i}`).catch(() => undefined)),
      );
      const opened = sessions.filter((s): s is ShipConnection => s !== undefined);
      // All but the newest are closed by the hub: wait for that many closes.
      await closedAtLeast(opened, opened.length - 1);
      await measure('same-ski-sessions', 10);
      const ofSki = hub.connections().filter((c) => c.ski === identity.ski).length;
      assert.ok(ofSki <= 1, `one session for the SKI, found ${ofSki}`);
      assert.ok(hub.pendingPairings().filter((p) => p.ski === identity.ski).length <= 1);
      for (const s of opened) void s.terminate(1000, 'test done');
    },
  );

  it('denied and back: a denied device reconnects 20 times', { timeout: 120_000 }, async () => {
    const identity = await testIdentity('hostile-lan-denied');
    const tls = createShipTlsContext(identity);
    const asked = new Promise<void>((resolve) => {
      const onRequest = (p: PendingPairing) => {
        if (p.ski !== identity.ski) return;
        hub.off('pairingRequest', onRequest);
        resolve();
      };
      hub.on('pairingRequest', onRequest);
    });
    const first = await dial(tls, 'denied');
    await asked;
    const firstClosed = new Promise<void>((resolve) => first.once('closed', () => resolve()));
    assert.equal(hub.deny(identity.ski), true);
    await firstClosed;
    const requestsBefore = pending.filter((p) => p.ski === identity.ski).length;
    for (let i = 0; i < 20; i++) {
      const again = await dial(tls, 'denied').catch(() => undefined);
      if (again === undefined) continue;
      if (again.subState !== 'SME_STATE_COMPLETE') {
        await new Promise<void>((resolve) => again.once('closed', () => resolve()));
      }
    }
    await measure('denied-reconnects', 20);
    assert.equal(
      pending.filter((p) => p.ski === identity.ski).length,
      requestsBefore,
      'no new question during the cool-down',
    );
    assert.equal(hub.deniedPairings()[0]?.ski, identity.ski);
  });

  it('oversized hellos: 8 unknown peers send 1 MB after CMI', { timeout: 120_000 }, async () => {
    const identity = await testIdentity('hostile-lan-oversized');
    const tls = createShipTlsContext(identity);
    const padding = 'x'.repeat(1024 * 1024);
    const hello = ship(
      1,
      `{"connectionHello":[{"phase":"ready"},{"waiting":60000},{"pad":"${padding}"}]}`,
    );
    const outcomes = [];
    for (let i = 0; i < 8; i++) {
      const client = await rawShipClient(port, tls);
      client.sendBinary(CMI);
      await client.received(2);
      client.sendBinary(hello);
      outcomes.push(await client.closed);
    }
    await measure('oversized-hello', 8);
    for (const outcome of outcomes) assert.notEqual(outcome.code, 1000, 'closed as an error');
  });

  it('refused upgrades + malformed frames: 200 peers', { timeout: 180_000 }, async () => {
    const identity = await testIdentity('hostile-lan-refused');
    const tls = createShipTlsContext(identity);
    const random = seededRandom(77);
    for (let i = 0; i < 200; i++) {
      const client = await rawShipClient(port, tls, { protocols: [] }).catch(() => undefined);
      if (client === undefined) continue;
      sprayMalformed(client.socket, random);
      await client.closed;
    }
    await measure('refused-upgrade-garbage', 200);
  });

  it('bare TCP: 500 connects that never start TLS', { timeout: 180_000 }, async () => {
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 500; i++) {
      const tcp = await rawTcp(port).catch(() => undefined);
      if (tcp !== undefined) sockets.push(tcp.socket);
    }
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    await measure('bare-tcp', 500);
    for (const s of sockets) s.destroy();
  });
});
