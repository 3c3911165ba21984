/**
 * The cross-process bench's server, alone in its own process: either our `ShipServer`
 * (`ship`) or a **floor** (`floor`): plain node:tls + http + ws with the same mutual TLS
 * context (same certificate, curves and cipher list, from src/transport/tls.ts) that answers
 * the same SHIP bytes (CMI, hello, protocol handshake, PIN state, access methods; SHIP 13.4)
 * from a fixed script, without our state machine, SKI checks or trust decision.
 *
 * Usage: node build/bench/xproc-server.js <ship|floor> <identity index>
 * IPC in:  { type: 'mark' } | { type: 'stop' }
 * IPC out: { type: 'ready', port } | { type: 'marked', cpuMs, completed, phases } | error
 */
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { ShipServer } from '../src/transport/ship-server.js';
import { createShipTlsContext, wrapServerSocket } from '../src/transport/tls.js';
import { systemClock } from '../src/util/clock.js';
import { loadIdentities, now, toParent, type BenchIdentity } from './common.js';

/** Server-side timestamps of one handshake, ms after the TCP accept. */
export interface ServerPhases {
  /** TCP accepted → TLS done and peer identified (`decide`). */
  tls: number;
  /** TLS done → WebSocket upgraded (`onConnection`). */
  upgrade: number;
  /** Upgraded → entering the hello phase (CMI, SHIP 13.4.3). */
  cmi: number;
  /** → entering the protocol handshake phase (hello, SHIP 13.4.4.1). */
  hello: number;
  /** → entering the PIN phase (protocol handshake, SHIP 13.4.4.2). */
  protocol: number;
  /** → data exchange, 'dataChannelOpen' (PIN state, SHIP 13.4.4.3). */
  data: number;
  /** TCP accepted → data exchange. */
  total: number;
}

export interface MarkedMessage {
  readonly type: 'marked';
  /** User + system CPU of this process so far. */
  readonly cpuMs: number;
  /** Handshakes that reached data exchange (ship) / answered the PIN state (floor) so far. */
  readonly completed: number;
  /** Phases of the handshakes since the previous mark (ship only). */
  readonly phases: ServerPhases[];
}

const CONTROL = 0x01;
const control = (json: string) => Buffer.concat([Buffer.from([CONTROL]), Buffer.from(json)]);
/** The server's answers, as our ShipServer sends them (ship-protocol.md, message examples). */
const SCRIPT = {
  cmi: Buffer.from([0x00, 0x00]),
  hello: control('{"connectionHello":[{"phase":"ready"},{"waiting":60000}]}'),
  select: control(
    '{"messageProtocolHandshake":[{"handshakeType":"select"},{"version":[{"major":1},' +
      '{"minor":0}]},{"formats":[{"format":["JSON-UTF8"]}]}]}',
  ),
  pin: control('{"connectionPinState":[{"pinState":"none"}]}'),
  accessRequest: control('{"accessMethodsRequest":[]}'),
  access: control('{"accessMethods":[{"id":"bench-server"}]}'),
};

let completed = 0;
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

/** Answers each client message with the next scripted one; no parsing beyond a substring. */
function floorConnection(ws: WebSocket): void {
  ws.on('message', (data: Buffer) => {
    if (data[0] === 0x00) {
      ws.send(SCRIPT.cmi);
      return;
    }
    const text = data.toString('utf8', 1);
    if (text.includes('"connectionHello"')) ws.send(SCRIPT.hello);
    else if (text.includes('"announceMax"')) ws.send(SCRIPT.select);
    else if (text.includes('"select"')) ws.send(SCRIPT.pin);
    else if (text.includes('"connectionPinState"')) {
      completed += 1;
      ws.send(SCRIPT.accessRequest);
    } else if (text.includes('"accessMethodsRequest"')) ws.send(SCRIPT.access);
  });
  ws.on('error', () => undefined);
}

async function startFloor(identity: BenchIdentity): Promise<number> {
  const ctx = createShipTlsContext(identity);
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'ship' });
  const httpServer = http.createServer((_req, res) => res.writeHead(400).end());
  httpServer.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, floorConnection);
  });
  const tcp = net.createServer((raw) => {
    raw.setNoDelay(true);
    raw.on('error', () => undefined);
    const secure = wrapServerSocket(raw, ctx);
    secure.on('error', () => raw.destroy());
    secure.once('secure', () => httpServer.emit('connection', secure));
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  return (tcp.address() as net.AddressInfo).port;
}

async function startShip(identity: BenchIdentity, phases: ServerPhases[]): Promise<number> {
  // Handshakes are sequential: one in flight at a time, so plain variables suffice.
  let acceptedAt = Number.NaN;
  let tlsAt = Number.NaN;
  const server = new ShipServer({
    tls: createShipTlsContext(identity),
    localSki: identity.ski,
    localShipId: 'bench-server',
    port: 0,
    host: '127.0.0.1',
    clock: systemClock,
    admit: () => {
      acceptedAt = now();
      return undefined;
    },
    decide: () => {
      tlsAt = now();
      return { accept: true, sme: { initialTrust: 'trusted' } };
    },
    onConnection: (connection: ShipConnection) => {
      const upgradedAt = now();
      const enteredAt: Record<string, number> = {};
      connection.on('state', (_from, _to, phase: string) => {
        enteredAt[phase] ??= now();
      });
      connection.once('dataChannelOpen', () => {
        const dataAt = now();
        completed += 1;
        // A phase ends when the machine enters the next one.
        const helloAt = enteredAt['hello'] ?? upgradedAt;
        const protocolAt = enteredAt['protocol'] ?? helloAt;
        const pinAt = enteredAt['pin'] ?? enteredAt['data'] ?? dataAt;
        phases.push({
          tls: tlsAt - acceptedAt,
          upgrade: upgradedAt - tlsAt,
          cmi: helloAt - upgradedAt,
          hello: protocolAt - helloAt,
          protocol: pinAt - protocolAt,
          data: dataAt - pinAt,
          total: dataAt - acceptedAt,
        });
      });
    },
  });
  return server.listen();
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const index = Number(process.argv[3] ?? '0');
  const [identity] = (await loadIdentities(index + 1)).slice(index);
  const phases: ServerPhases[] = [];
  const port = mode === 'floor' ? await startFloor(identity!) : await startShip(identity!, phases);
  process.on('message', (command: { type: string }) => {
    if (command.type === 'mark') {
      toParent<MarkedMessage>({ type: 'marked', cpuMs: cpuMs(), completed, phases: [...phases] });
      phases.length = 0;
    } else {
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  toParent({ type: 'ready', port });
}

main().catch((err: unknown) => {
  toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
