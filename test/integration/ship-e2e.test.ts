/**
 * Our nodes end to end over real TLS + WebSocket on 127.0.0.1 (port 0), in both roles: trusted,
 * pending then approved, denied, timeouts (fake clock), bad certificates, bad frames.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { ShipServer, type PeerDecision } from '../../src/transport/ship-server.js';
import { connectShip } from '../../src/transport/ship-client.js';
import type { ShipConnection, ConnectionClosedInfo } from '../../src/transport/ship-connection.js';
import {
  connectShipTls,
  createShipTlsContext,
  wrapServerSocket,
  type ShipTlsContext,
} from '../../src/transport/tls.js';
import { TimeoutError, TransportError } from '../../src/ship/errors.js';
import { toSki, type Ski } from '../../src/ship/ski.js';
import { systemClock, type Clock } from '../../src/util/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startSilentServer } from '../helpers/silent-server.js';
import { testCertificate, testIdentity } from '../helpers/certs.js';

let serverTls: ShipTlsContext;
let clientTls: ShipTlsContext;
let serverSki: Ski;
let clientSki: Ski;

before(async () => {
  const a = await testIdentity('a');
  const b = await testIdentity('b');
  serverTls = createShipTlsContext(a);
  clientTls = createShipTlsContext(b);
  serverSki = a.ski;
  clientSki = b.ski;
});

interface Started {
  server: ShipServer;
  port: number;
  connections: ShipConnection[];
  refused: string[];
}

const servers: ShipServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function startServer(
  decide: () => PeerDecision,
  clock: Clock = systemClock,
  onConnection: (c: ShipConnection) => void = () => undefined,
): Promise<Started> {
  const connections: ShipConnection[] = [];
  const refused: string[] = [];
  const server = new ShipServer({
    tls: serverTls,
    localSki: serverSki,
    localShipId: 'server-ship-id',
    port: 0,
    host: '127.0.0.1',
    clock,
    decide,
    onConnection: (c) => {
      connections.push(c);
      onConnection(c);
    },
    onRefused: (info) => refused.push(info.reason),
  });
  servers.push(server);
  const port = await server.listen();
  return { server, port, connections, refused };
}

function dial(port: number, expectedSki: Ski = serverSki, tlsContext = clientTls) {
  return connectShip({
    host: '127.0.0.1',
    port,
    expectedSki,
    tls: tlsContext,
    localSki: tlsContext.ski,
    localShipId: 'client-ship-id',
    clock: systemClock,
  });
}

function once<T>(emitter: ShipConnection, event: 'complete' | 'dataChannelOpen'): Promise<T> {
  return new Promise((resolve) => emitter.once(event, () => resolve(undefined as T)));
}

/** Polls `predicate` every 5 ms, at most `maxPolls` times (a count, not a time bound). */
function waitFor(predicate: () => boolean, maxPolls = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let polls = 0;
    const tick = () => {
      if (predicate()) resolve();
      else if (++polls > maxPolls) reject(new Error(`condition not met after ${maxPolls} polls`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

/** A raw WebSocket client with our certificate, to send what our ShipConnection never would. */
async function rawClient(port: number, protocols: string[] = ['ship']): Promise<WebSocket> {
  const socket = await connectShipTls({ host: '127.0.0.1', port, ctx: clientTls });
  const ws = new WebSocket(`wss://127.0.0.1:${port}/ship/`, protocols, {
    createConnection: () => socket,
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

function closeOf(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

const trusted = (): PeerDecision => ({ accept: true, sme: { initialTrust: 'trusted' } });
const pending = (): PeerDecision => ({ accept: true, sme: { initialTrust: 'pending' } });

describe('SHIP over TLS + WebSocket on 127.0.0.1', () => {
  it('trusted both ways: data both directions, then a SHIP close', async () => {
    const s = await startServer(trusted);
    const client = await dial(s.port);
    await once(client, 'complete');
    await waitFor(() => s.connections[0]?.subState === 'SME_STATE_COMPLETE');
    const server = s.connections[0]!;
    assert.equal(server.remoteSki, clientSki);
    assert.equal(client.remoteSki, serverSki);
    assert.equal(client.remoteShipId, 'server-ship-id');
    assert.equal(server.remoteShipId, 'client-ship-id');
    const atServer: unknown[] = [];
    const atClient: unknown[] = [];
    server.on('data', (p) => atServer.push(p));
    client.on('data', (p) => atClient.push(p));
    const big = { datagram: [{ payload: 'x'.repeat(90 * 1024) }] };
    client.send({ datagram: [{ n: 1 }] });
    client.send(big);
    server.send({ datagram: [{ n: 2 }] });
    await waitFor(() => atServer.length === 2 && atClient.length === 1);
    assert.deepEqual(atServer, [{ datagram: [{ n: 1 }] }, big], '90 KiB message accepted');
    assert.deepEqual(atClient, [{ datagram: [{ n: 2 }] }]);
    const serverClosed = server.waitClosed();
    const info = await client.close();
    assert.equal(info.failure, undefined);
    assert.equal(info.closeCode, 4001);
    const serverInfo = await serverClosed;
    assert.equal(serverInfo.failure, undefined);
    assert.equal(serverInfo.byPeer, true);
    // Then the sockets themselves close; afterwards waitSocketClosed() resolves at once.
    let socketsClosed = false;
    const sockets = Promise.all([client.waitSocketClosed(), server.waitSocketClosed()]).then(
      () => (socketsClosed = true),
    );
    await waitFor(() => socketsClosed);
    await sockets;
    let again = false;
    void client.waitSocketClosed().then(() => (again = true));
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(again, true, 'resolves immediately once closed');
  });

  it('dials an IPv6 address with a zone id (link-local addresses from mDNS carry one)', async () => {
    const connections: ShipConnection[] = [];
    const server = new ShipServer({
      tls: serverTls,
      localSki: serverSki,
      localShipId: 'server-ship-id',
      port: 0,
      host: '::1',
      clock: systemClock,
      decide: trusted,
      onConnection: (c) => connections.push(c),
    });
    servers.push(server);
    const port = await server.listen();
    const client = await connectShip({
      host: '::1%lo',
      port,
      expectedSki: serverSki,
      tls: clientTls,
      localSki: clientTls.ski,
      localShipId: 'client-ship-id',
      clock: systemClock,
    });
    await once(client, 'complete');
    assert.equal(connections[0]?.remoteSki, clientSki);
    await client.close();
  });

  it('pending, then approved by a person: the handshake completes', async () => {
    const s = await startServer(pending, systemClock, (c) => {
      c.once('trustRequired', () => setTimeout(() => c.approve(), 50));
    });
    const client = await dial(s.port);
    const peerPending = new Promise((resolve) => client.once('peerPending', resolve));
    await peerPending;
    await once(client, 'complete');
    assert.equal(client.subState, 'SME_STATE_COMPLETE');
    await client.close();
  });

  it('denied: the client learns the device refused trust (4452)', async () => {
    const s = await startServer(pending, systemClock, (c) =>
      c.once('trustRequired', () => c.deny()),
    );
    const client = await dial(s.port);
    const info: ConnectionClosedInfo = await client.waitClosed();
    assert.equal(info.remoteDeniedTrust, true);
    assert.equal(info.failure?.code, 'SHIPHUB_ERR_REMOTE_DENIED_TRUST');
    assert.match(info.failure?.hint ?? '', /approve this node/);
    const serverInfo = await s.connections[0]!.waitClosed();
    assert.equal(serverInfo.failure?.code, 'SHIPHUB_ERR_TRUST_DENIED');
  });

  it('refuses a server whose SKI is not the expected one, before any SHIP byte', async () => {
    const s = await startServer(trusted);
    await assert.rejects(dial(s.port, toSki('0'.repeat(40))), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SHIPHUB_ERR_SKI_MISMATCH');
      return true;
    });
    // A good dial afterwards: the server handles connections in order, so had the refused one
    // become a SHIP connection, it would be there before this one.
    const good = await dial(s.port);
    assert.equal(s.connections.length, 1);
    await good.close();
  });

  for (const kind of ['wrong', 'missing', 'short', 'rsa', 'p384'] as const) {
    it(`refuses a client certificate of kind "${kind}" before the WebSocket upgrade`, async () => {
      const s = await startServer(trusted);
      const cert = await testCertificate(kind);
      const ctx = createShipTlsContext({ ...cert, ski: cert.ski });
      await assert.rejects(dial(s.port, serverSki, ctx));
      await waitFor(() => s.refused.length === 1);
      assert.equal(s.connections.length, 0);
    });
  }

  it('a text frame is refused with 1003', async () => {
    const s = await startServer(trusted);
    const ws = await rawClient(s.port);
    const closed = closeOf(ws);
    ws.send('{"connectionHello":[{"phase":"ready"}]}');
    assert.equal(await closed, 1003);
    const info = await s.connections[0]!.waitClosed();
    assert.equal(info.failure?.code, 'SHIPHUB_ERR_FRAME_INVALID');
  });

  it('a missing subprotocol is refused with 1002 and no SHIP connection', async () => {
    const s = await startServer(trusted);
    const socket = await connectShipTls({ host: '127.0.0.1', port: s.port, ctx: clientTls });
    const ws = new WebSocket(`wss://127.0.0.1:${s.port}/`, { createConnection: () => socket });
    assert.equal(await closeOf(ws), 1002);
    assert.equal(s.connections.length, 0);
    assert.match(s.refused[0] ?? '', /subprotocol/);
  });

  it('any path is accepted, and a message split over 3 continuation frames is reassembled', async () => {
    const s = await startServer(trusted);
    const ws = await rawClient(s.port);
    const received: Buffer[] = [];
    ws.on('message', (d: Buffer) => received.push(d));
    ws.send(Buffer.from([0, 0]));
    await waitFor(() => received.length >= 1);
    const hello = Buffer.from('\x01{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}');
    ws.send(hello.subarray(0, 10), { binary: true, fin: false });
    ws.send(hello.subarray(10, 30), { binary: true, fin: false });
    ws.send(hello.subarray(30), { binary: true, fin: true });
    await waitFor(
      () => s.connections[0]?.subState === 'SME_PROT_H_STATE_SERVER_LISTEN_PROPOSAL',
      2_000,
    ).catch(() => assert.fail(`server is in ${s.connections[0]?.subState}`));
    ws.terminate();
  });

  it('CMI timeout with a fake clock: a silent client is closed after 10 s, not before', async () => {
    const clock = new FakeClock();
    const s = await startServer(trusted, clock);
    const ws = await rawClient(s.port);
    const closed = closeOf(ws);
    await waitFor(() => s.connections.length === 1);
    clock.advance(9_999);
    assert.equal(s.connections[0]!.isClosed, false);
    clock.advance(1);
    assert.equal(await closed, 4001);
    const info = await s.connections[0]!.waitClosed();
    assert.equal(info.failure?.code, 'SHIPHUB_ERR_CMI_TIMEOUT');
  });

  it('hello timeout with a fake clock: aborted, then 4452', async () => {
    const clock = new FakeClock();
    const s = await startServer(trusted, clock);
    const ws = await rawClient(s.port);
    const messages: string[] = [];
    ws.on('message', (d: Buffer) => messages.push(d.subarray(1).toString()));
    const closed = closeOf(ws);
    ws.send(Buffer.from([0, 0]));
    await waitFor(() => messages.length === 2);
    // The keep-alive ping goes out at 50 s: let the pong arrive before time moves on.
    clock.advance(50_000);
    await waitFor(() => !clock.pendingTimers().includes('wsPong'));
    clock.advance(10_000);
    await waitFor(() => messages.length === 3);
    assert.equal(messages[2], '{"connectionHello":[{"phase":"aborted"}]}');
    clock.advance(1_000);
    assert.equal(await closed, 4452);
  });

  it('a peer that never answers pings is dropped after the pong timeout (fake clock)', async () => {
    const clock = new FakeClock();
    const s = await startServer(trusted, clock);
    const ws = await rawClient(s.port);
    // Stop the automatic pong by replacing the socket's pong sender.
    (ws as unknown as { pong: () => void }).pong = () => undefined;
    // Walk the handshake to completion so only the keep-alive timers are left.
    const control = (json: string) => Buffer.concat([Buffer.from([1]), Buffer.from(json)]);
    ws.send(Buffer.from([0, 0]));
    ws.send(control('{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}'));
    ws.send(
      control(
        '{"messageProtocolHandshake":[{"handshakeType":"announceMax"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
      ),
    );
    ws.send(
      control(
        '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
      ),
    );
    ws.send(control('{"connectionPinState":[{"pinState":"none"}]}'));
    ws.send(control('{"accessMethods":[{"id":"raw"}]}'));
    await waitFor(() => s.connections[0]?.subState === 'SME_STATE_COMPLETE');
    const closed = closeOf(ws);
    clock.advance(50_000);
    assert.ok(clock.pendingTimers().includes('wsPong'), 'the ping went out, the pong is awaited');
    clock.advance(10_000);
    assert.equal(await closed, 4001);
    const info = await s.connections[0]!.waitClosed();
    assert.equal(info.failure?.code, 'SHIPHUB_ERR_PONG_TIMEOUT');
  });
});

describe('connectShip: deadline and cancellation in every step', () => {
  const silentServer = () => startSilentServer();

  /** Our TLS with a real certificate, then silence: the dial hangs in the WebSocket upgrade. */
  async function tlsOnlyServer() {
    let requests = 0;
    const server = await startSilentServer((raw) => {
      const secure = wrapServerSocket(raw, serverTls);
      secure.on('error', () => undefined);
      secure.on('data', () => (requests += 1));
    });
    return { port: server.port, upgradesAsked: () => requests, stop: () => server.stop() };
  }

  function dialWith(
    port: number,
    extra: { clock?: Clock; signal?: AbortSignal; timeoutMs?: number },
  ) {
    return connectShip({
      host: '127.0.0.1',
      port,
      expectedSki: serverSki,
      tls: clientTls,
      localSki: clientSki,
      localShipId: 'client-ship-id',
      clock: extra.clock ?? systemClock,
      ...(extra.signal ? { signal: extra.signal } : {}),
      ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}),
    });
  }

  it('gives up after timeoutMs during TLS (fake clock), with the target named', async () => {
    const silent = await silentServer();
    try {
      const clock = new FakeClock();
      const pending = dialWith(silent.port, { clock, timeoutMs: 3_000 });
      await waitFor(() => silent.held.size === 1);
      clock.advance(2_999);
      assert.ok(
        clock.pendingTimers().includes('dialTimeout'),
        'still dialling just before the deadline',
      );
      assert.equal(silent.held.size, 1);
      clock.advance(1);
      await assert.rejects(
        pending,
        (error: unknown) =>
          error instanceof TimeoutError &&
          error.code === 'SHIPHUB_ERR_CONNECT_TIMEOUT' &&
          error.message.includes(`127.0.0.1:${silent.port} within 3 s`),
      );
      await waitFor(() => silent.held.size === 0);
    } finally {
      await silent.stop();
    }
  });

  it('gives up after timeoutMs during the WebSocket upgrade and drops the socket', async () => {
    const server = await tlsOnlyServer();
    try {
      const clock = new FakeClock();
      const pending = dialWith(server.port, { clock, timeoutMs: 5_000 });
      await waitFor(() => server.upgradesAsked() > 0);
      clock.advance(5_000);
      await assert.rejects(
        pending,
        (error: unknown) =>
          error instanceof TimeoutError && error.code === 'SHIPHUB_ERR_CONNECT_TIMEOUT',
      );
    } finally {
      await server.stop();
    }
  });

  it("rejects with the caller's ShipHubError reason, in TLS and in the upgrade", async () => {
    const silent = await silentServer();
    const upgrade = await tlsOnlyServer();
    try {
      const reason = new TransportError('SHIPHUB_ERR_CLOSED', 'hub stopping');
      const inTls = new AbortController();
      const pendingTls = dialWith(silent.port, { signal: inTls.signal });
      await waitFor(() => silent.held.size === 1);
      inTls.abort(reason);
      await assert.rejects(pendingTls, (error: unknown) => error === reason);
      await waitFor(() => silent.held.size === 0);

      const inUpgrade = new AbortController();
      const pendingUpgrade = dialWith(upgrade.port, { signal: inUpgrade.signal });
      await waitFor(() => upgrade.upgradesAsked() > 0);
      inUpgrade.abort(reason);
      await assert.rejects(pendingUpgrade, (error: unknown) => error === reason);
    } finally {
      await silent.stop();
      await upgrade.stop();
    }
  });

  it('a plain abort() or an already aborted signal becomes a TransportError "cancelled"', async () => {
    const silent = await silentServer();
    try {
      const controller = new AbortController();
      const pending = dialWith(silent.port, { signal: controller.signal });
      await waitFor(() => silent.held.size === 1);
      controller.abort();
      const cancelled = (error: unknown) =>
        error instanceof TransportError &&
        error.code === 'SHIPHUB_ERR_TRANSPORT' &&
        error.message.includes('was cancelled');
      await assert.rejects(pending, cancelled);
      await waitFor(() => silent.held.size === 0);
      await assert.rejects(dialWith(silent.port, { signal: controller.signal }), cancelled);
      // A control connection afterwards: once the server holds it, it has seen everything the
      // aborted dial might have opened before.
      const control = net.connect({ host: '127.0.0.1', port: silent.port });
      control.on('error', () => undefined);
      await waitFor(() => silent.held.size >= 1);
      assert.equal(silent.held.size, 1, 'an aborted signal opens no connection');
      control.destroy();
    } finally {
      await silent.stop();
    }
  });
});
