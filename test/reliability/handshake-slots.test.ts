/**
 * Handshake slots under an idle-connect flood: a slow but honest device that has sent its
 * ClientHello must keep its slot while idle TCP connects from an attacker take all the others
 * (before, the OLDEST handshake in flight was dropped, so 300 idle connects a second made every
 * device with a 150 ms round trip fail).
 *
 * The slow device is simulated without timing: a proxy between it and the server forwards the
 * device's bytes at once but holds the server's answers until the flood has been accepted, so
 * the device is mid-TLS for exactly as long as the flood lasts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ShipServer } from '../../src/transport/ship-server.js';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection } from '../../src/transport/ship-connection.js';
import { createShipTlsContext, type ShipTlsContext } from '../../src/transport/tls.js';
import { systemClock } from '../../src/util/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { testIdentity } from '../helpers/certs.js';
import { HOST, rawTcp } from './helpers.js';

const SLOTS = 8;
const IDLE_CONNECTS = 200;

/** A TCP proxy that forwards client → server at once and server → client only once released. */
async function holdingProxy(target: number): Promise<{
  port: number;
  forwardedUp: Promise<void>;
  release(): void;
  close(): void;
}> {
  const held: Buffer[] = [];
  let released = false;
  let down: net.Socket | undefined;
  let markForwarded: () => void = () => undefined;
  const forwardedUp = new Promise<void>((resolve) => (markForwarded = resolve));
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    down = client;
    const upstream = net.connect({ host: HOST, port: target });
    sockets.push(client, upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk, () => markForwarded());
    });
    upstream.on('data', (chunk: Buffer) => {
      if (released) client.write(chunk);
      else held.push(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    forwardedUp,
    release() {
      released = true;
      for (const chunk of held.splice(0)) down?.write(chunk);
    },
    close() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

describe('handshake slots prefer handshakes that progress', { timeout: 120_000 }, () => {
  let serverTls: ShipTlsContext;
  let deviceTls: ShipTlsContext;
  let server: ShipServer;
  let port: number;
  const refused: string[] = [];
  const accepted: ShipConnection[] = [];
  // The server's clock: time stands still unless a test moves it, so no handshake counts as
  // stalled (nor hits its deadline) however slow this machine is.
  const serverClock = new FakeClock();

  before(async () => {
    serverTls = createShipTlsContext(await testIdentity('slots-server'));
    deviceTls = createShipTlsContext(await testIdentity('slots-device'));
    server = new ShipServer({
      tls: serverTls,
      localSki: serverTls.ski,
      localShipId: 'slots-server',
      port: 0,
      host: HOST,
      clock: serverClock,
      maxHandshakesInFlight: SLOTS,
      decide: () => ({ accept: true, sme: { initialTrust: 'trusted' } }),
      onConnection: (c) => accepted.push(c),
      onRefused: (info) => refused.push(info.reason),
    });
    port = await server.listen();
  });

  after(async () => {
    for (const c of accepted) await c.close();
    await server.close();
  });

  it(`a device mid-TLS survives ${IDLE_CONNECTS} idle connects and completes`, async () => {
    const proxy = await holdingProxy(port);
    const dial = connectShip({
      host: HOST,
      port: proxy.port,
      expectedSki: serverTls.ski,
      tls: deviceTls,
      localSki: deviceTls.ski,
      localShipId: 'slots-device',
      clock: systemClock,
    });
    dial.catch(() => undefined);
    // The device's ClientHello is on its way to the server; its answer is held by the proxy.
    await proxy.forwardedUp;
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < IDLE_CONNECTS; i++) idle.push((await rawTcp(port)).socket);
      // Every connect beyond the free slots dropped one handshake; wait until the server has
      // accepted (and so judged) all of them.
      const expectedDrops = IDLE_CONNECTS + 1 - SLOTS;
      for (let polls = 0; refused.length < expectedDrops && polls < 10_000; polls++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      assert.equal(refused.length, expectedDrops);
      assert.ok(
        refused.every((r) => r.endsWith('that had sent nothing')),
        `only idle sockets were dropped: ${refused.find((r) => !r.endsWith('sent nothing'))}`,
      );
      proxy.release();
      const connection = await dial;
      if (!connection.isDataChannelOpen) {
        await new Promise<void>((resolve) => connection.once('dataChannelOpen', () => resolve()));
      }
      accepted.push(connection);
      assert.equal(connection.isClosed, false);
    } finally {
      for (const s of idle) s.destroy();
      proxy.close();
    }
  });

  it('handshakes in flight for longer than stalledHandshakeMs are dropped before newer ones', async () => {
    refused.length = 0;
    // SLOTS stalled sockets that sent half a TLS record, then aged past the stall bound.
    const stalled: net.Socket[] = [];
    const fresh: net.Socket[] = [];
    try {
      for (let i = 0; i < SLOTS; i++) {
        const { socket } = await rawTcp(port);
        socket.write(Buffer.from('160301', 'hex'));
        stalled.push(socket);
      }
      serverClock.advance(1_000);
      const closed = stalled.map(
        (s) => new Promise<void>((resolve) => s.once('close', () => resolve())),
      );
      for (let i = 0; i < SLOTS; i++) fresh.push((await rawTcp(port)).socket);
      await Promise.all(closed);
      assert.equal(refused.filter((r) => r.endsWith('and stalled')).length, SLOTS);
      assert.ok(
        fresh.every((s) => !s.destroyed),
        'the new connections keep their slots',
      );
    } finally {
      for (const s of [...stalled, ...fresh]) s.destroy();
    }
  });
});
