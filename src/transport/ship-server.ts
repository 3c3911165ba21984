/**
 * The SHIP server role: accepts TCP, applies admission control before any TLS work, runs TLS as
 * SHIP §9 requires, identifies the peer by SKI (SHIP §12.2) before any WebSocket upgrade is
 * accepted, upgrades with subprotocol `ship` (SHIP §10.2) and hands each connection to the caller.
 */
import http from 'node:http';
import net from 'node:net';
import type tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode } from '../ship/close-codes.js';
import { shipError, type ShipErrorCode, type ShipHubError } from '../ship/errors.js';
import { smeConfig, type SmeConfig } from '../ship/handshake/index.js';
import type { Ski } from '../ship/ski.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { ShipConnection } from './ship-connection.js';
import { peerSkiOf, wrapServerSocket, type ShipTlsContext } from './tls.js';

/** SHIP subprotocol name, SHIP §10.2. */
export const SHIP_SUBPROTOCOL = 'ship';
/** The WebSocket path announced in mDNS; the server accepts any path, like ship-go. */
export const SHIP_PATH = '/ship/';
/** Largest WebSocket message accepted (ship-go dev: 100 KiB; we accept more, never less). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** What the server knows about a peer once TLS identified it. */
export interface IdentifiedPeer {
  readonly ski: Ski;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Identified by a legacy SKI extension that does not match the key (explicit opt-in). */
  readonly legacySki: boolean;
  /** SHA-256 of the peer's public key (hex), for key pinning. */
  readonly keySha256?: string;
}

export type PeerDecision =
  | {
      readonly accept: true;
      readonly sme: Omit<Partial<SmeConfig>, 'role'> & Pick<SmeConfig, 'initialTrust'>;
    }
  | {
      readonly accept: false;
      readonly closeCode?: number;
      readonly reason: string;
      /** Why, as a failure-table code (default SHIPHUB_ERR_CONNECTION_LIMIT). */
      readonly code?: ShipErrorCode;
    };

export interface ShipServerOptions {
  readonly tls: ShipTlsContext;
  readonly localSki: Ski;
  readonly localShipId: string;
  readonly port: number;
  readonly host?: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly acceptLegacySki?: boolean;
  readonly maxPayloadBytes?: number;
  /** TLS handshake and WebSocket upgrade must be done within this time. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Sockets still in TLS or upgrade at once. When full, the oldest of those that made the least
   * progress (sent nothing, then still in TLS, then past TLS) is dropped to make room: idle or
   * stalled sockets cannot lock out a real device, even a slow one.
   */
  readonly maxHandshakesInFlight?: number;
  /**
   * A handshake in flight for this long counts as stalled: when the slots are full it is dropped
   * before any other. Default 1 s.
   */
  readonly stalledHandshakeMs?: number;
  /** Admission control on a new TCP connection, before TLS: return a reason to refuse it. */
  admit?(remoteAddress: string): string | undefined;
  /** Called when the TCP connection that `admit` let in is gone (accepted or not). */
  released?(remoteAddress: string): void;
  /** Decides about an identified peer, before the WebSocket upgrade. */
  decide(peer: IdentifiedPeer): PeerDecision;
  /** Receives each upgraded connection; attach listeners here, it starts right after. */
  onConnection(connection: ShipConnection, peer: IdentifiedPeer): void;
  /** A peer was refused (bad certificate, decision, subprotocol). */
  onRefused?(info: {
    remoteAddress: string;
    ski?: Ski;
    reason: string;
    /** The refusal as an error of the failure table (its class, metric label and hint). */
    error: ShipHubError;
  }): void;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_HANDSHAKES_IN_FLIGHT = 64;
const DEFAULT_STALLED_HANDSHAKE_MS = 1_000;
/** How far a socket in flight got; the least progressed is dropped first. */
type HandshakeProgress = 'stalled' | 'idle' | 'tlsStarted' | 'tlsDone';
const PROGRESS_TEXT: Readonly<Record<HandshakeProgress, string>> = {
  stalled: 'and stalled',
  idle: 'that had sent nothing',
  tlsStarted: 'still in TLS',
  tlsDone: 'after TLS',
};
/** How long a refused WebSocket may take to deliver its close frame before it is destroyed. */
const REFUSED_LINGER_MS = 1_000;

export class ShipServer {
  private readonly tcp: net.Server;
  private readonly httpServer: http.Server;
  private readonly wss: WebSocketServer;
  private readonly peers = new WeakMap<object, IdentifiedPeer & { decision: PeerDecision }>();
  /** Hard deadline per accepted TCP socket until its WebSocket upgrade is done. */
  private readonly deadlines = new WeakMap<object, TimerHandle>();
  private readonly upgradedHook = new WeakMap<object, () => void>();
  /** Sockets still in TLS or upgrade with their arrival time, oldest first (insertion order). */
  private readonly sockets = new Map<net.Socket, { arrivedAt: number; sequence: number }>();
  /** TCP connections let in so far; numbers the entries of `sockets`. */
  private arrivals = 0;
  /** Those of `sockets` whose TLS handshake is done. */
  private readonly tlsDone = new WeakSet<net.Socket>();
  private readonly options: ShipServerOptions;

  constructor(options: ShipServerOptions) {
    this.options = options;
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.httpServer = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
      res.end('SHIP needs a WebSocket upgrade with subprotocol "ship"\n');
    });
    this.httpServer.headersTimeout = handshakeTimeoutMs;
    this.httpServer.requestTimeout = handshakeTimeoutMs;
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(SHIP_SUBPROTOCOL) ? SHIP_SUBPROTOCOL : false),
    });
    this.httpServer.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onUpgraded(ws, socket));
    });
    this.tcp = net.createServer({ noDelay: true }, (raw) => this.onTcp(raw, handshakeTimeoutMs));
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen({ port: this.options.port, host: this.options.host }, () => {
        this.tcp.off('error', reject);
        const address = this.tcp.address();
        resolve(typeof address === 'object' && address !== null ? address.port : this.options.port);
      });
    });
  }

  get port(): number | undefined {
    const address = this.tcp.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /**
   * Stops accepting. Open SHIP connections are not touched (the hub closes them with a SHIP
   * close); net.Server.close() would wait for them, so it is not awaited.
   */
  close(): Promise<void> {
    if (this.tcp.listening) this.tcp.close();
    // Sockets still in TLS or upgrade are not SHIP connections yet: drop them.
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
    return Promise.resolve();
  }

  private onTcp(raw: net.Socket, handshakeTimeoutMs: number): void {
    // A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; people know them as a.b.c.d.
    const remoteAddress = (raw.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.)/, '');
    const refusal = this.options.admit?.(remoteAddress);
    if (refusal !== undefined) {
      // Refused before any TLS work is spent on it.
      raw.destroy();
      this.options.onRefused?.({
        remoteAddress,
        reason: refusal,
        error: shipError('SHIPHUB_ERR_CONNECTION_LIMIT', refusal),
      });
      return;
    }
    const maxInFlight = this.options.maxHandshakesInFlight ?? DEFAULT_MAX_HANDSHAKES_IN_FLIGHT;
    if (this.sockets.size >= maxInFlight) {
      const victim = this.leastProgressed(maxInFlight);
      if (victim !== undefined) {
        this.sockets.delete(victim.socket);
        victim.socket.destroy();
        const reason =
          `dropped: ${maxInFlight} TLS/WebSocket handshakes in flight, this one was the ` +
          `oldest ${PROGRESS_TEXT[victim.progress]}`;
        this.options.onRefused?.({
          remoteAddress: victim.socket.remoteAddress ?? 'unknown',
          reason,
          error: shipError('SHIPHUB_ERR_CONNECTION_LIMIT', reason),
        });
      }
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.options.released?.(remoteAddress);
    };
    this.arrivals += 1;
    this.sockets.set(raw, { arrivedAt: this.options.clock.now(), sequence: this.arrivals });
    raw.on('error', () => undefined);
    raw.once('close', () => {
      this.sockets.delete(raw);
      release();
    });
    // TLS and the upgrade must finish in time, so idle or slow (slowloris) sockets cannot hold
    // a slot: a hard deadline, not an inactivity timeout.
    const deadline = this.options.clock.setTimer('handshakeDeadline', handshakeTimeoutMs, () =>
      raw.destroy(),
    );
    raw.once('close', () => deadline.cancel());

    const secure = wrapServerSocket(raw, this.options.tls);
    this.deadlines.set(secure, deadline);
    secure.on('error', (err) => {
      this.options.logger?.debug({ err, remoteAddress }, 'TLS error');
      raw.destroy();
    });
    secure.once('secure', () => {
      this.tlsDone.add(raw);
      this.onSecure(secure, raw, remoteAddress);
    });
    // Upgraded sockets are SHIP connections: no longer counted as handshakes in flight.
    this.upgradedHook.set(secure, () => this.sockets.delete(raw));
  }

  /**
   * The handshake to drop when every slot is taken:
   * 1. the oldest, if it has been in flight for `stalledHandshakeMs` (honest devices finish TLS
   *    and the upgrade well within it, even over slow links): stalled sockets cannot hold slots;
   * 2. else the oldest of those that made the least progress (nothing received, then TLS under
   *    way, then TLS done), so idle connects from rotating addresses only push out each other,
   *    never a slow but honest device that already sent its ClientHello (dropping simply the
   *    oldest let 300 idle connects a second make every device with a 150 ms round trip fail);
   * 3. the newest arrivals are spared in step 2 (a quarter of the slots): a device that has
   *    just connected has not been read yet and would otherwise look idle.
   */
  private leastProgressed(
    maxInFlight: number,
  ): { socket: net.Socket; progress: HandshakeProgress } | undefined {
    const stalledMs = this.options.stalledHandshakeMs ?? DEFAULT_STALLED_HANDSHAKE_MS;
    const oldest = this.sockets.entries().next().value;
    if (oldest !== undefined && this.options.clock.now() - oldest[1].arrivedAt >= stalledMs) {
      return { socket: oldest[0], progress: 'stalled' };
    }
    const newestSpared = this.arrivals - Math.max(1, Math.floor(maxInFlight / 4));
    let best: { socket: net.Socket; progress: HandshakeProgress } | undefined;
    for (const [socket, { sequence }] of this.sockets) {
      if (sequence > newestSpared) break; // the rest are newer still
      const progress: HandshakeProgress = this.tlsDone.has(socket)
        ? 'tlsDone'
        : socket.bytesRead > 0
          ? 'tlsStarted'
          : 'idle';
      if (progress === 'idle') return { socket, progress };
      if (best === undefined || (progress === 'tlsStarted' && best.progress === 'tlsDone')) {
        best = { socket, progress };
      }
    }
    if (best !== undefined || oldest === undefined) return best;
    return { socket: oldest[0], progress: 'tlsStarted' };
  }

  private onSecure(secure: tls.TLSSocket, raw: net.Socket, remoteAddress: string): void {
    const identified = peerSkiOf(secure, {
      acceptLegacySki: this.options.acceptLegacySki ?? false,
      ownSki: this.options.localSki,
    });
    if (!identified.ok) {
      this.options.onRefused?.({
        remoteAddress,
        reason: identified.error.message,
        error: identified.error,
      });
      secure.destroy();
      return;
    }
    const peer: IdentifiedPeer = {
      ski: identified.ski,
      remoteAddress,
      remotePort: raw.remotePort ?? 0,
      legacySki: identified.legacy,
      keySha256: identified.keySha256,
    };
    if (identified.legacy) {
      this.options.logger?.warn(
        { peerSki: peer.ski },
        'accepted a legacy certificate whose SKI extension does not match its key (accept_legacy_ski)',
      );
    }
    const decision = this.options.decide(peer);
    if (!decision.accept && decision.closeCode !== undefined) {
      // Refused with a WebSocket close code (double connection: 1000 before CMI, as ship-go).
      this.peers.set(secure, { ...peer, decision });
      this.httpServer.emit('connection', secure);
      return;
    }
    if (!decision.accept) {
      this.options.onRefused?.({
        remoteAddress,
        ski: peer.ski,
        reason: decision.reason,
        error: refusalError(decision),
      });
      secure.destroy();
      return;
    }
    this.peers.set(secure, { ...peer, decision });
    // Hand the TLS socket to the HTTP server, which parses the upgrade request.
    this.httpServer.emit('connection', secure);
  }

  private onUpgraded(ws: WebSocket, socket: Duplex): void {
    // Every WebSocket has an 'error' listener from its first moment: ws emits one for each
    // malformed frame (reserved opcode, unmasked, RSV1, oversized length...), and an EventEmitter
    // without a listener turns it into an uncaught exception that would end the whole process.
    // ShipConnection logs the errors of accepted connections; refused ones are closed anyway.
    ws.on('error', () => undefined);
    const peer = this.peers.get(socket);
    // Only needed until the upgrade; the connection lives much longer.
    this.peers.delete(socket);
    if (peer === undefined) {
      this.endHandshake(socket);
      ws.terminate();
      return;
    }
    if (!peer.decision.accept) {
      this.options.onRefused?.({
        remoteAddress: peer.remoteAddress,
        ski: peer.ski,
        reason: peer.decision.reason,
        error: refusalError(peer.decision),
      });
      this.refuseUpgraded(ws, peer.decision.closeCode, peer.decision.reason);
      return;
    }
    if (ws.protocol !== SHIP_SUBPROTOCOL) {
      // SHIP §10.2: the subprotocol `ship` is required; ship-go closes right after the upgrade.
      const reason = 'the WebSocket upgrade did not ask for the subprotocol "ship"';
      this.options.onRefused?.({
        remoteAddress: peer.remoteAddress,
        ski: peer.ski,
        reason,
        error: shipError('SHIPHUB_ERR_FRAME_INVALID', reason),
      });
      this.refuseUpgraded(ws, CloseCode.protocolError, 'subprotocol ship required');
      return;
    }
    this.endHandshake(socket);
    const connection = new ShipConnection({
      socket: ws,
      stream: socket,
      sme: smeConfig({
        localShipId: this.options.localShipId,
        ...peer.decision.sme,
        role: 'server',
      }),
      remoteSki: peer.ski,
      remoteAddress: peer.remoteAddress,
      ...(peer.keySha256 !== undefined ? { remoteKeySha256: peer.keySha256 } : {}),
      clock: this.options.clock,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
    });
    this.options.onConnection(connection, peer);
    connection.start();
  }

  /** The socket is a SHIP connection now: no handshake deadline, no longer counted in flight. */
  private endHandshake(socket: Duplex): void {
    this.deadlines.get(socket)?.cancel();
    this.upgradedHook.get(socket)?.();
    this.deadlines.delete(socket);
    this.upgradedHook.delete(socket);
  }

  /**
   * Closes a refused WebSocket with `code` and ends it soon after: the close frame gets
   * REFUSED_LINGER_MS to reach the peer, then the socket is destroyed whether or not the peer
   * answers (ws would otherwise wait 30 s for the peer's close frame). Until then it still
   * counts as a handshake in flight and its handshake deadline stays armed.
   */
  private refuseUpgraded(ws: WebSocket, code: number | undefined, reason: string): void {
    ws.close(code, reason);
    const linger = this.options.clock.setTimer('refusedUpgradeLinger', REFUSED_LINGER_MS, () =>
      ws.terminate(),
    );
    ws.once('close', () => linger.cancel());
  }
}

/** A refusal decision as an error of the failure table. */
function refusalError(decision: { readonly reason: string; readonly code?: ShipErrorCode }) {
  return shipError(decision.code ?? 'SHIPHUB_ERR_CONNECTION_LIMIT', decision.reason);
}
