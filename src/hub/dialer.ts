/**
 * Outgoing connections: dials a trusted (or pre-approved) SKI that mDNS shows and that has no
 * connection, after its reconnect backoff (ship-go's delays, reset after a good session), tries
 * each address of the service in turn, and applies the double-connection rule (SHIP §12.2.2)
 * when a dial completes while another connection of the SKI exists.
 */
import type { Logger } from 'pino';
import { CloseCode, CloseReasonText } from '../ship/close-codes.js';
import { ShipHubError, shipError } from '../ship/errors.js';
import type { Ski } from '../ship/ski.js';
import type { ShipConnection } from '../transport/ship-connection.js';
import type { Clock } from '../util/clock.js';
import type { PeerEntry, PeerRegistry, Tracked } from './peer-registry.js';
import {
  decideDoubleConnection,
  reconnectDelayMs,
  type Direction,
  type DoubleConnectionRule,
} from './policy.js';
import type { DialRoute } from './routes.js';
import type { HubTransport } from './transport.js';
import type { HubOptions, PairingStateUpdate } from './types.js';

/** What the dialer needs of the hub. */
export interface DialerContext {
  readonly peers: PeerRegistry;
  readonly localSki: Ski;
  readonly transport: HubTransport;
  readonly clock: Clock;
  readonly random: () => number;
  readonly rule: DoubleConnectionRule;
  readonly sme: HubOptions['sme'];
  readonly logger: Logger | undefined;
  /** Starting or running (not stopping or stopped). */
  isActive(): boolean;
  isTrusted(ski: Ski): boolean;
  /** Where to reach the device now (mDNS record, else a static address), if anywhere. */
  route(ski: Ski): DialRoute | undefined;
  reconnectScheduled(ski: Ski, attempt: number, delayMs: number): void;
  dialFailed(ski: Ski, error: ShipHubError): void;
  setPairingState(entry: PeerEntry, update: PairingStateUpdate): void;
  track(connection: ShipConnection, direction: Direction): Tracked;
  dropOthers(entry: PeerEntry, keep: Tracked): void;
}

export class Dialer {
  constructor(private readonly ctx: DialerContext) {}

  /** Dials `entry` after its backoff delay (at once when `immediate`), if it should be dialled. */
  schedule(entry: PeerEntry, opts: { immediate?: boolean } = {}): void {
    const ctx = this.ctx;
    if (!ctx.isActive()) return;
    if (!entry.queued && !ctx.isTrusted(entry.ski)) return;
    if (entry.connections.size > 0 || entry.dial !== undefined || entry.reconnectTimer) return;
    if (entry.ski === ctx.localSki || ctx.route(entry.ski) === undefined) return;
    entry.attempt += 1;
    const delayMs = opts.immediate === true ? 0 : reconnectDelayMs(entry.attempt, ctx.random);
    ctx.reconnectScheduled(entry.ski, entry.attempt, delayMs);
    entry.reconnectTimer = ctx.clock.setTimer('reconnect', delayMs, () => {
      entry.reconnectTimer = undefined;
      void this.dial(entry);
    });
  }

  /** Stops every planned and running dial (shutdown, failed start). */
  cancelAll(): void {
    for (const entry of this.ctx.peers.values()) this.cancel(entry);
  }

  /** Stops the planned and running dial of one SKI. */
  cancel(entry: PeerEntry): void {
    entry.reconnectTimer?.cancel();
    entry.reconnectTimer = undefined;
    entry.dial?.abort();
  }

  private async dial(entry: PeerEntry): Promise<void> {
    const ctx = this.ctx;
    if (!ctx.isActive()) return;
    if (entry.connections.size > 0 || entry.dial !== undefined) return;
    const route = ctx.route(entry.ski);
    if (route === undefined) return;
    const controller = new AbortController();
    entry.dial = controller;
    ctx.setPairingState(entry, { state: 'initiated' });
    let lastError: ShipHubError = shipError(
      'SHIPHUB_ERR_TRANSPORT',
      `no usable address for ${entry.ski} (${route.source === 'mdns' ? 'mDNS record' : 'static address'})`,
    );
    for (const address of route.addresses) {
      if (controller.signal.aborted) break;
      try {
        await ctx.transport.dial(
          {
            host: address,
            port: route.port,
            ...(route.path !== undefined ? { path: route.path } : {}),
            ...(route.servername !== undefined ? { servername: route.servername } : {}),
            expectedSki: entry.ski,
            sme: {
              ...ctx.sme,
              ...(entry.shipId !== undefined ? { expectedShipId: entry.shipId } : {}),
            },
            onConnection: (connection) => this.onOutgoing(entry, connection, controller),
          },
          controller.signal,
        );
        if (entry.dial === controller) entry.dial = undefined;
        return;
      } catch (err) {
        lastError =
          err instanceof ShipHubError
            ? err
            : shipError('SHIPHUB_ERR_TRANSPORT', err instanceof Error ? err.message : String(err), {
                cause: err,
              });
      }
    }
    if (entry.dial === controller) entry.dial = undefined;
    if (controller.signal.aborted) return;
    ctx.logger?.debug({ peerSki: entry.ski, err: lastError }, 'dial failed');
    ctx.dialFailed(entry.ski, lastError);
    ctx.setPairingState(entry, { state: 'error', reason: lastError.message });
    this.schedule(entry);
  }

  private onOutgoing(
    entry: PeerEntry,
    connection: ShipConnection,
    controller: AbortController,
  ): void {
    const ctx = this.ctx;
    if (controller.signal.aborted || !ctx.isActive()) {
      void connection.terminate(
        CloseCode.doubleConnection,
        CloseReasonText.doubleConnection,
        'SHIPHUB_ERR_DOUBLE_CONNECTION',
      );
      return;
    }
    if (entry.connections.size > 0) {
      const decision = decideDoubleConnection(ctx.rule, ctx.localSki, entry.ski, 'outbound');
      if (decision === 'rejectNew') {
        // Before CMI, with 1000 "double connection", as ship-go.
        void connection.terminate(
          CloseCode.doubleConnection,
          CloseReasonText.doubleConnection,
          'SHIPHUB_ERR_DOUBLE_CONNECTION',
        );
        return;
      }
      const tracked = ctx.track(connection, 'outbound');
      if (decision === 'keepNew') ctx.dropOthers(entry, tracked);
      return;
    }
    ctx.track(connection, 'outbound');
  }
}
