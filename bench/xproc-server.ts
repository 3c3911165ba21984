/**
 * The cross-process bench's server, alone in its own process: either our `ShipServer`
 * (`ship`) or a **floor** (`floor`): plain node:tls + http + ws with the same mutual TLS
 * context (same certificate, curves and cipher list, from src/transport/tls.ts) that answers
 * the same SHIP bytes (CMI, hello, protocol handshake, PIN state, access methods; SHIP 13.4)
 * from a fixed script, without our state machine, SKI checks or trust decision; or the whole
 * **daemon** (`daemon`): the Daemon of `ship-hub` as it runs in production (hub, trust store
 * file, JSON logs at info level written to /dev/null, metrics), trusting the client, with SPINE
 * off so that the work per handshake is SHIP's, like the bare ShipServer's.
 *
 * Usage: node build/bench/xproc-server.js <ship|floor|daemon> <identity index> [client index]
 * IPC in:  { type: 'mark' } | { type: 'stop' }
 * IPC out: { type: 'ready', port } | { type: 'marked', cpuMs, completed, phases } | error
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/ops/config.js';
import { Daemon } from '../src/ops/daemon.js';
import { createLogger } from '../src/ops/logger.js';
import { createPrivateKey } from 'node:crypto';
import { saveIdentity } from '../src/trust/identity.js';
import { identityFrom } from '../src/trust/identity-issue.js';
import { TrustStore } from '../src/trust/trust-store.js';
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

/** The production daemon in a temporary directory, trusting `client`; its port. */
async function startDaemon(identity: BenchIdentity, client: BenchIdentity): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ship-hub-bench-daemon-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const config = await loadConfig(
    undefined,
    {},
    {
      cwd: dir,
      overrides: {
        port,
        admin_port: 0,
        mdns_enabled: false,
        spine_enabled: false,
        log_level: 'info',
        log_format: 'json',
      },
    },
  );
  await saveIdentity(
    identityFrom(identity.certificatePem, createPrivateKey(identity.privateKeyPem)),
    config.certificate_file,
    config.private_key_file,
  );
  const trust = await TrustStore.open(config.trusted_devices_file, { clock: systemClock });
  await trust.add({ ski: client.ski });
  const daemon = new Daemon({
    config,
    logger: createLogger({
      level: 'info',
      format: 'json',
      // Synchronous writes, as the daemon's own stdout destination (src/ops/logger.ts).
      destination: pino.destination({ dest: '/dev/null', sync: true }),
    }),
    // Counts data exchanges; with no handler of its own the daemon only logs payloads.
    setupRemoteDevice: () => {
      completed += 1;
      return undefined;
    },
  });
  await daemon.start();
  return daemon.port ?? port;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const index = Number(process.argv[3] ?? '0');
  const clientIndex = Number(process.argv[4] ?? String(index + 1));
  const identities = await loadIdentities(Math.max(index, clientIndex) + 1);
  const identity = identities[index];
  const phases: ServerPhases[] = [];
  const port =
    mode === 'floor'
      ? await startFloor(identity!)
      : mode === 'daemon'
        ? await startDaemon(identity!, identities[clientIndex]!)
        : await startShip(identity!, phases);
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
