/**
 * Handshake latency and throughput.
 *
 * Latency: our ShipServer and our connectShip client in ONE process on 127.0.0.1, so both ends
 * share one event loop (and one core: the handshake is a ping-pong, so its latency is the CPU
 * time of both ends added up). A handshake counts from the moment the client's TCP connection is
 * established (its 'connect' event, before the ClientHello) until BOTH connections emitted
 * 'dataChannelOpen': TLS 1.3 with mutual authentication + SKI checks + WebSocket upgrade + SHIP
 * CMI, hello, protocol handshake and PIN check. That is how the reference figure (ship-go, 2.1 ms)
 * was measured ("TCP connected until both sides are in data exchange"). The same handshakes are
 * also timed from just before connectShip() is called (`dial`: TCP connect included). The
 * access methods exchange that follows is not included. Each handshake is followed by a SHIP
 * close of both ends, and the next one starts once both sockets are closed (not measured).
 *
 * Throughput: `total` handshakes with `inFlight` dials running at any time, the connections
 * kept open; see {@link dialMany}.
 */
import { connectShip, type DialProgress } from '../src/transport/ship-client.js';
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { ShipServer } from '../src/transport/ship-server.js';
import { createShipTlsContext, type ShipTlsContext } from '../src/transport/tls.js';
import { systemClock } from '../src/util/clock.js';
import {
  connectionEvent,
  log,
  now,
  round,
  summarize,
  withTimeout,
  type BenchIdentity,
  type Summary,
} from './common.js';
import type { Ski } from '../src/ship/ski.js';

export const HOST = '127.0.0.1';
/** One handshake may not take longer than this; the bench fails instead of hanging. */
const HANDSHAKE_DEADLINE_MS = 10_000;

export interface LatencyStats {
  /** Unmeasured handshakes done before this series (JIT warm-up). */
  readonly after: number;
  /** TCP connected (client) until both sides are in data exchange. */
  readonly both: Summary;
  /** Dial start (TCP connect included) until both sides are in data exchange. */
  readonly dial: Summary;
  /** TCP connected until the client is in data exchange. */
  readonly clientSide: Summary;
  /** TCP connected until the server is in data exchange. */
  readonly serverSide: Summary;
  /** Dial start until the client's TCP connection is established. */
  readonly tcp: Summary;
  /** TCP connect start until TLS is done on the client (connectShip's 'tcp+tls' step). */
  readonly tcpTls: Summary;
  /** Upgrade request until the client's WebSocket is open (connectShip's 'websocket' step). */
  readonly websocket: Summary;
  /** The client's WebSocket open until both sides are in data exchange: the SHIP messages. */
  readonly ship: Summary;
}

export interface LatencyResult {
  /** After the usual short warm-up: what a hub that rarely sees handshakes gets. */
  readonly cold: LatencyStats;
  /** After enough handshakes for V8 to have optimised the whole path. */
  readonly warm: LatencyStats;
}

export interface ThroughputResult {
  readonly total: number;
  readonly inFlight: number;
  /** Handshakes done before the timed run. */
  readonly warmup: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Per handshake under load: dial start until the client is in data exchange. */
  readonly clientSideUnderLoad: Summary;
}

/** A ShipServer in this process whose connection handler the measurement swaps. */
class LocalServer {
  onConnection: (connection: ShipConnection) => void = () => undefined;
  readonly server: ShipServer;
  port = 0;

  constructor(readonly identity: BenchIdentity) {
    const tls = createShipTlsContext(identity);
    this.server = new ShipServer({
      tls,
      localSki: identity.ski,
      localShipId: 'bench-server',
      port: 0,
      host: HOST,
      clock: systemClock,
      maxHandshakesInFlight: 256,
      decide: () => ({ accept: true, sme: { initialTrust: 'trusted' } }),
      onConnection: (connection) => this.onConnection(connection),
    });
  }

  async start(): Promise<void> {
    this.port = await this.server.listen();
  }
}

/** Dials our SHIP server at 127.0.0.1:`port` the way a device would. */
export function dial(
  port: number,
  serverSki: Ski,
  client: ShipTlsContext,
  onConnection: (connection: ShipConnection) => void,
  onProgress?: (progress: DialProgress) => void,
): Promise<ShipConnection> {
  return connectShip(
    {
      host: HOST,
      port,
      expectedSki: serverSki,
      tls: client,
      localSki: client.ski,
      localShipId: 'bench-client',
      clock: systemClock,
      onConnection,
    },
    onProgress,
  );
}

interface Sample {
  both: number;
  dial: number;
  client: number;
  server: number;
  tcp: number;
  tcpTls: number;
  websocket: number;
  ship: number;
}

/** One handshake, then a clean SHIP close of both ends (not measured). */
async function oneHandshake(server: LocalServer, client: ShipTlsContext): Promise<Sample> {
  let serverConnection: ShipConnection | undefined;
  let clientConnection: ShipConnection | undefined;
  const serverOpen = new Promise<number>((resolve, reject) => {
    server.onConnection = (connection) => {
      serverConnection = connection;
      connectionEvent(connection, 'dataChannelOpen').then(resolve, reject);
    };
  });
  let clientOpen: Promise<number> | undefined;
  let tcpAt = Number.NaN;
  let tcpTls = Number.NaN;
  let websocket = Number.NaN;
  let wsOpenAt = Number.NaN;
  const started = now();
  const dialled = dial(
    server.port,
    server.identity.ski,
    client,
    (connection) => {
      clientConnection = connection;
      wsOpenAt = now();
      clientOpen = connectionEvent(connection, 'dataChannelOpen');
    },
    (progress) => {
      if (progress.step === 'tcp') tcpAt = now();
      if (progress.step === 'tcp+tls') tcpTls = progress.durationMs;
      if (progress.step === 'websocket') websocket = progress.durationMs;
    },
  );
  try {
    await withTimeout(dialled, HANDSHAKE_DEADLINE_MS, 'connectShip');
    const [serverAt, clientAt] = await withTimeout(
      Promise.all([serverOpen, clientOpen!]),
      HANDSHAKE_DEADLINE_MS,
      'SHIP handshake',
    );
    const bothAt = Math.max(serverAt, clientAt);
    return {
      both: bothAt - tcpAt,
      dial: bothAt - started,
      client: clientAt - tcpAt,
      server: serverAt - tcpAt,
      tcp: tcpAt - started,
      tcpTls,
      websocket,
      ship: bothAt - wsOpenAt,
    };
  } finally {
    server.onConnection = () => undefined;
    await closeBoth(clientConnection, serverConnection);
  }
}

async function closeBoth(
  client: ShipConnection | undefined,
  server: ShipConnection | undefined,
): Promise<void> {
  const closing: Promise<unknown>[] = [];
  if (server !== undefined) closing.push(server.waitClosed());
  if (client !== undefined) closing.push(client.close('unspecific', 'bench'));
  else if (server !== undefined) closing.push(server.terminate(4500, 'bench'));
  await withTimeout(Promise.all(closing), 5_000, 'closing a connection');
  // The next handshake starts only once both sockets are closed, so that the teardown of this
  // connection (close frames, TLS close_notify, FIN, stream end) is not measured as part of the
  // next handshake: with both ends on one thread it would add about 0.25 ms to it.
  const sockets = [client, server].map((c) => c?.waitSocketClosed() ?? Promise.resolve());
  await withTimeout(Promise.all(sockets), 5_000, 'closing a socket');
  await new Promise((resolve) => setImmediate(resolve));
}

async function series(
  server: LocalServer,
  client: ShipTlsContext,
  count: number,
  after: number,
): Promise<LatencyStats> {
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) samples.push(await oneHandshake(server, client));
  const pick = (key: keyof Sample) => summarize(samples.map((s) => s[key]));
  return {
    after,
    both: pick('both'),
    dial: pick('dial'),
    clientSide: pick('client'),
    serverSide: pick('server'),
    tcp: pick('tcp'),
    tcpTls: pick('tcpTls'),
    websocket: pick('websocket'),
    ship: pick('ship'),
  };
}

/**
 * `warmup` unmeasured handshakes, `count` measured ones (cold), `jitWarmup` more unmeasured ones
 * and `count` measured ones again (warm), all sequential.
 */
export async function measureLatency(
  serverIdentity: BenchIdentity,
  clientIdentity: BenchIdentity,
  options: { readonly warmup: number; readonly count: number; readonly jitWarmup: number },
): Promise<LatencyResult> {
  const server = new LocalServer(serverIdentity);
  await server.start();
  const client = createShipTlsContext(clientIdentity);
  try {
    for (let i = 0; i < options.warmup; i++) await oneHandshake(server, client);
    const cold = await series(server, client, options.count, options.warmup);
    log(
      `  cold: p50 ${cold.both.p50} ms (${cold.dial.p50} from dial start) after ${options.warmup} warm-up handshakes`,
    );
    for (let i = 0; i < options.jitWarmup; i++) await oneHandshake(server, client);
    const done = options.warmup + options.count + options.jitWarmup;
    const warm = await series(server, client, options.count, done);
    log(
      `  warm: p50 ${warm.both.p50} ms (${warm.dial.p50} from dial start) after ${done} handshakes`,
    );
    return { cold, warm };
  } finally {
    await server.server.close();
  }
}

/**
 * Opens `total` connections to 127.0.0.1:`port` with `inFlight` dials at any time; a dial's slot
 * is free again once its connection is in data exchange on the client side. The connections
 * are pushed to `into` and stay open. Returns, per handshake, dial start until the client was
 * in data exchange (ms).
 */
export async function dialMany(
  port: number,
  serverSki: Ski,
  client: ShipTlsContext,
  total: number,
  inFlight: number,
  into: ShipConnection[],
): Promise<number[]> {
  const perHandshake: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next += 1;
      const started = now();
      let open: Promise<number> | undefined;
      await dial(port, serverSki, client, (connection) => {
        into.push(connection);
        open = connectionEvent(connection, 'dataChannelOpen');
      });
      perHandshake.push((await open!) - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
  return perHandshake;
}

/** Drops connections (WebSocket close, no SHIP close) and waits until they are closed. */
export async function dropAll(connections: readonly ShipConnection[]): Promise<void> {
  await withTimeout(
    Promise.all(connections.map((c) => c.terminate(4500, 'bench done'))),
    10_000,
    'dropping the connections',
  ).catch((err: unknown) => log(`warning: ${String(err)}`));
}

/**
 * Throughput with server and client in this process (one event loop, so one core at most). The
 * clock stops when the last connection is in data exchange on both sides.
 */
export async function measureThroughputSameProcess(
  serverIdentity: BenchIdentity,
  clientIdentity: BenchIdentity,
  options: { readonly total: number; readonly inFlight: number; readonly warmup: number },
): Promise<ThroughputResult> {
  const server = new LocalServer(serverIdentity);
  await server.start();
  const client = createShipTlsContext(clientIdentity);
  const connections: ShipConnection[] = [];
  try {
    const warm: ShipConnection[] = [];
    await withTimeout(
      dialMany(server.port, serverIdentity.ski, client, options.warmup, options.inFlight, warm),
      30_000,
      'warm-up handshakes',
    );
    await dropAll(warm);

    let serverOpen = 0;
    let allServerOpen: () => void = () => undefined;
    const serverDone = new Promise<void>((resolve) => (allServerOpen = resolve));
    server.onConnection = (connection) => {
      connections.push(connection);
      connection.once('dataChannelOpen', () => {
        if (++serverOpen === options.total) allServerOpen();
      });
    };
    const started = now();
    const [perHandshake] = await withTimeout(
      Promise.all([
        dialMany(
          server.port,
          serverIdentity.ski,
          client,
          options.total,
          options.inFlight,
          connections,
        ),
        serverDone,
      ]),
      60_000,
      `${options.total} handshakes with ${options.inFlight} in flight`,
    );
    const seconds = (now() - started) / 1000;
    return {
      total: options.total,
      inFlight: options.inFlight,
      warmup: options.warmup,
      seconds: round(seconds, 3),
      perSecond: round(options.total / seconds, 1),
      clientSideUnderLoad: summarize(perHandshake),
    };
  } finally {
    await dropAll(connections);
    await server.server.close();
  }
}
