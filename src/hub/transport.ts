/**
 * The hub's transport port: how it accepts and dials SHIP connections. The real adapter runs TLS
 * and WebSocket (src/transport); tests plug in an in-memory network with a fake clock, so the
 * same hub logic runs in a deterministic simulation (house style: node-opcua's dual transport).
 */
import type { Logger } from 'pino';
import type { SmeConfig } from '../ship/handshake/index.js';
import type { ShipHubError } from '../ship/errors.js';
import type { Ski } from '../ship/ski.js';
import { connectShip } from '../transport/ship-client.js';
import type { ShipConnection } from '../transport/ship-connection.js';
import {
  ShipServer,
  type IdentifiedPeer,
  type PeerDecision,
  type ShipServerOptions,
} from '../transport/ship-server.js';
import type { ShipTlsContext } from '../transport/tls.js';
import type { Clock } from '../util/clock.js';

export type { IdentifiedPeer, PeerDecision };

export interface ListenHandlers {
  admit(remoteAddress: string): string | undefined;
  released(remoteAddress: string): void;
  decide(peer: IdentifiedPeer): PeerDecision;
  onConnection(connection: ShipConnection, peer: IdentifiedPeer): void;
  onRefused(info: {
    remoteAddress: string;
    ski?: Ski;
    reason: string;
    /** The refusal as an error of the failure table. */
    error: ShipHubError;
  }): void;
}

export interface DialTarget {
  readonly host: string;
  readonly port: number;
  readonly path?: string;
  readonly servername?: string;
  readonly expectedSki: Ski;
  readonly sme: Omit<Partial<SmeConfig>, 'role' | 'localShipId'>;
  /** Runs before the connection starts: the hub tracks it (and may terminate it) here. */
  readonly onConnection: (connection: ShipConnection) => void;
}

export interface HubTransport {
  /** Starts accepting; resolves with the bound port. */
  listen(handlers: ListenHandlers): Promise<number>;
  dial(target: DialTarget, signal: AbortSignal): Promise<ShipConnection>;
  /** Stops accepting. */
  close(): Promise<void>;
}

export interface TlsTransportOptions {
  readonly tls: ShipTlsContext;
  readonly localSki: Ski;
  readonly localShipId: string;
  readonly port: number;
  readonly host?: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly acceptLegacySki?: boolean;
  readonly handshakeTimeoutMs?: number;
  readonly maxHandshakesInFlight?: number;
  readonly stalledHandshakeMs?: number;
  readonly dialTimeoutMs?: number;
}

/** The real transport: TLS (SHIP §9) + WebSocket (SHIP §10). */
export class TlsTransport implements HubTransport {
  private server: ShipServer | undefined;

  constructor(private readonly options: TlsTransportOptions) {}

  async listen(handlers: ListenHandlers): Promise<number> {
    const o = this.options;
    const serverOptions: ShipServerOptions = {
      tls: o.tls,
      localSki: o.localSki,
      localShipId: o.localShipId,
      port: o.port,
      clock: o.clock,
      acceptLegacySki: o.acceptLegacySki ?? false,
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {}),
      ...(o.maxHandshakesInFlight !== undefined
        ? { maxHandshakesInFlight: o.maxHandshakesInFlight }
        : {}),
      ...(o.stalledHandshakeMs !== undefined ? { stalledHandshakeMs: o.stalledHandshakeMs } : {}),
      admit: (address) => handlers.admit(address),
      released: (address) => handlers.released(address),
      decide: (peer) => handlers.decide(peer),
      onConnection: (connection, peer) => handlers.onConnection(connection, peer),
      onRefused: (info) => handlers.onRefused(info),
    };
    this.server = new ShipServer(serverOptions);
    return this.server.listen();
  }

  dial(target: DialTarget, signal: AbortSignal): Promise<ShipConnection> {
    const o = this.options;
    return connectShip({
      host: target.host,
      port: target.port,
      expectedSki: target.expectedSki,
      tls: o.tls,
      localSki: o.localSki,
      localShipId: o.localShipId,
      clock: o.clock,
      sme: target.sme,
      signal,
      onConnection: target.onConnection,
      acceptLegacySki: o.acceptLegacySki ?? false,
      ...(target.path !== undefined ? { path: target.path } : {}),
      ...(target.servername !== undefined ? { servername: target.servername } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
      ...(o.dialTimeoutMs !== undefined ? { timeoutMs: o.dialTimeoutMs } : {}),
    });
  }

  async close(): Promise<void> {
    await this.server?.close();
  }
}
