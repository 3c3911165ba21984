/**
 * Follows every connection of the hub from its start to its close: pairing states and handshake
 * phase durations along the way, the key pin at the first trusted hello, the data channel handed
 * to the application, and what follows a close (reconnect after the backoff, failure reports).
 */
import type { Logger } from 'pino';
import { CloseCode } from '../ship/close-codes.js';
import { shipError } from '../ship/errors.js';
import type { ConnectionClosedInfo, ShipConnection } from '../transport/ship-connection.js';
import type { Clock } from '../util/clock.js';
import type { Dialer } from './dialer.js';
import type { PairingRequests } from './pairing.js';
import type { PeerEntry, PeerRegistry, Tracked } from './peer-registry.js';
import type { Direction } from './policy.js';
import type { HubTrustStore } from './trust-port.js';
import type { HubEmit, HubOptions, PairingStateUpdate, RemoteDevice } from './types.js';

/** What connection tracking needs of the hub. */
export interface TrackerContext {
  readonly peers: PeerRegistry;
  readonly trust: HubTrustStore;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly emit: HubEmit;
  readonly pairing: PairingRequests;
  readonly dialer: Dialer;
  readonly maxConnections: number;
  readonly setupRemoteDevice: HubOptions['setupRemoteDevice'];
  isStopping(): boolean;
  keyMismatch(entry: PeerEntry, keySha256: string | undefined): string | undefined;
  setPairingState(entry: PeerEntry, update: PairingStateUpdate): void;
  /** The auto-accept window let an unknown device in: it becomes trusted. */
  autoAccepted(entry: PeerEntry): void;
}

export class ConnectionTracker {
  /** Warned at 90 % of maxConnections; again only after dropping below. */
  private limitWarned = false;

  constructor(private readonly ctx: TrackerContext) {}

  /** Follows a new connection (either direction) through its handshake to its close. */
  track(connection: ShipConnection, direction: Direction): Tracked {
    const entry = this.ctx.peers.entry(connection.remoteSki);
    const tracked: Tracked = {
      connection,
      direction,
      ending: false,
      endedByDecision: false,
      handler: undefined,
      device: undefined,
    };
    entry.connections.add(tracked);
    this.ctx.peers.touched(entry.ski);
    const keyRefusal = this.ctx.keyMismatch(entry, connection.remoteKeySha256);
    if (keyRefusal !== undefined) {
      // An outgoing connection reached a node holding the SKI but not the paired key.
      tracked.ending = true;
      void connection.terminate(CloseCode.shipClose, keyRefusal, 'SHIPHUB_ERR_SKI_MISMATCH');
    }
    const ski = entry.ski;
    this.ctx.setPairingState(entry, {
      state: direction === 'outbound' ? 'initiated' : 'inProgress',
    });
    this.checkConnectionLimit();

    // Phase durations for metrics: from entering a phase until the next phase starts.
    let currentPhase = 'init';
    let phaseStartedAt = connection.openedAt;
    let dataOpenedAt = 0;
    connection.on('dataChannelOpen', () => {
      dataOpenedAt = this.ctx.clock.now();
      this.ctx.emit('handshakePhase', ski, 'total', dataOpenedAt - connection.openedAt);
    });
    connection.on('complete', () => {
      this.ctx.emit('handshakePhase', ski, 'access_methods', this.ctx.clock.now() - dataOpenedAt);
    });
    connection.on('state', (_from, to, phase) => {
      if (phase !== currentPhase) {
        const now = this.ctx.clock.now();
        if (currentPhase !== 'init' && currentPhase !== 'data' && currentPhase !== 'closing') {
          this.ctx.emit('handshakePhase', ski, currentPhase, now - phaseStartedAt);
        }
        currentPhase = phase;
        phaseStartedAt = now;
      }
      if (phase === 'hello' && to === 'SME_HELLO_STATE_READY_LISTEN') {
        this.ctx.setPairingState(entry, { state: 'inProgress' });
      } else if (phase === 'pin') {
        this.ctx.setPairingState(entry, { state: 'pin' });
      }
    });
    connection.on('trustRequired', () => this.ctx.pairing.onTrustRequired(entry, tracked));
    connection.on('prolongationRequested', (count) =>
      this.ctx.emit('prolongation', ski, 'requested', count),
    );
    connection.on('prolongationGranted', (count) =>
      this.ctx.emit('prolongation', ski, 'granted', count),
    );
    connection.on('peerPending', () => {
      this.ctx.setPairingState(entry, {
        state: 'inProgress',
        reason: "waiting for the device's user to trust this node",
      });
    });
    connection.on('helloOk', () => {
      this.ctx.setPairingState(entry, { state: 'trusted' });
      if (!this.ctx.trust.has(ski)) this.ctx.autoAccepted(entry);
      const keySha256 = connection.remoteKeySha256;
      if (
        this.ctx.trust.has(ski) &&
        this.ctx.trust.get(ski)?.public_key_sha256 === undefined &&
        keySha256 !== undefined
      ) {
        // Pinned on the first trusted connection (at pairing, or after an upgrade from a
        // version without pins): later connections must present this key.
        this.ctx.trust.pinKey(ski, keySha256).then(
          () => this.ctx.emit('keyPinned', ski, keySha256),
          (error: unknown) => this.ctx.emit('trustStoreError', error, ski),
        );
      }
      entry.queued = false;
    });
    connection.on('dataChannelOpen', () => this.onDataChannelOpen(entry, tracked));
    connection.on('data', (payload, payloadText) => {
      if (entry.active === tracked) tracked.handler?.onData(payload, payloadText);
    });
    connection.on('shipId', (shipId) => {
      entry.shipId = shipId;
      this.ctx.emit('shipId', ski, shipId);
    });
    connection.on('closed', (info) => this.onClosed(entry, tracked, info));
    return tracked;
  }

  private onDataChannelOpen(entry: PeerEntry, tracked: Tracked): void {
    const previous = entry.active;
    entry.active = tracked;
    entry.queued = false;
    const connection = tracked.connection;
    const device: RemoteDevice = {
      ski: entry.ski,
      direction: tracked.direction,
      remoteAddress: connection.remoteAddress,
      get shipId() {
        return connection.remoteShipId;
      },
      send: (payload) => connection.send(payload),
      close: async (reason) => {
        await connection.close(reason);
      },
    };
    tracked.device = device;
    if (previous !== undefined && previous !== tracked) {
      // A newer connection took over (the bigger SKI will close the older one).
      previous.handler = undefined;
    }
    this.ctx.setPairingState(entry, { state: 'completed' });
    if (this.ctx.trust.has(entry.ski)) {
      this.ctx.trust
        .recordConnection(entry.ski)
        .catch((error: unknown) => this.ctx.emit('trustStoreError', error, entry.ski));
    }
    try {
      tracked.handler = this.ctx.setupRemoteDevice?.(device) ?? undefined;
    } catch (err) {
      this.ctx.logger?.error({ err, peerSki: entry.ski }, 'setupRemoteDevice threw');
    }
    this.ctx.emit('connected', device);
  }

  private onClosed(entry: PeerEntry, tracked: Tracked, info: ConnectionClosedInfo): void {
    entry.connections.delete(tracked);
    this.ctx.pairing.closed(entry, tracked);
    if (entry.active === tracked) {
      entry.active = undefined;
      try {
        tracked.handler?.onClose?.(info);
      } catch (err) {
        this.ctx.logger?.error({ err, peerSki: entry.ski }, 'data handler onClose threw');
      }
    }
    // Below 90 % again: the next time the limit is approached is worth a warning again.
    if (this.ctx.peers.openConnectionCount() < Math.ceil(this.ctx.maxConnections * 0.9))
      this.limitWarned = false;
    // Our double-connection rule, or a paired device's (SHIP §12.2.2): another connection takes
    // this one's place. Any peer can claim the rule in its close, so for an unknown one the end
    // is handled (reported, forgotten when idle) like every other.
    const doubleConnection =
      info.failure?.code === 'SHIPHUB_ERR_DOUBLE_CONNECTION' &&
      (!info.byPeer || this.ctx.trust.has(entry.ski));
    if (info.reachedDataExchange || tracked.device !== undefined) {
      this.ctx.emit('disconnected', entry.ski, info);
    }
    if (entry.connections.size > 0 || doubleConnection) {
      if (entry.connections.size === 0 && !this.ctx.isStopping())
        this.ctx.dialer.schedule(entry, {});
      return;
    }
    // The device ended its handshake on purpose (see ConnectionFailure.endedByDevice), or a
    // person's decision (deny, expiry) ended it: the pairing state goes back to none, not error.
    const endedByDevice = info.byPeer && info.failure?.code === 'SHIPHUB_ERR_CLOSED';
    const planned = endedByDevice || tracked.endedByDecision;
    if (info.remoteDeniedTrust) {
      this.ctx.setPairingState(entry, {
        state: 'remoteDeniedTrust',
        reason: info.failure?.message ?? 'the device does not trust this node',
        ...(info.failure ? { failure: info.failure } : {}),
      });
    } else if (info.failure !== undefined && !info.reachedDataExchange && !planned) {
      this.ctx.setPairingState(entry, {
        state: 'error',
        reason: info.failure.message,
        failure: info.failure,
      });
    } else {
      this.ctx.setPairingState(entry, { state: 'none' });
    }
    // A handshake that ended before data exchange is a failure worth counting, unless a person
    // decided it (deny, expiry, cool-down) or, for a paired device, this hub ended it itself
    // (replaced, evicted, shutting down).
    const trusted = this.ctx.trust.has(entry.ski);
    const ownEnd = tracked.ending || this.ctx.isStopping();
    if (!info.reachedDataExchange && !tracked.endedByDecision && (!trusted || !ownEnd)) {
      const error =
        info.error ?? shipError('SHIPHUB_ERR_CONNECTION_LOST', 'closed during the handshake');
      this.ctx.emit('connectionFailed', {
        ski: entry.ski,
        reason: info.failure?.message ?? error.message,
        error,
        trusted,
        endedByDevice,
      });
    }
    // Reset the backoff after a good session (reference §9.2).
    if (info.reachedDataExchange) entry.attempt = 0;
    if (!this.ctx.isStopping()) this.ctx.dialer.schedule(entry, {});
    this.ctx.peers.forgetIfIdle(entry);
  }

  private checkConnectionLimit(): void {
    const active = this.ctx.peers.openConnectionCount();
    if (active >= Math.ceil(this.ctx.maxConnections * 0.9)) {
      if (!this.limitWarned) {
        this.limitWarned = true;
        this.ctx.emit('connectionLimit', active, this.ctx.maxConnections);
      }
    }
  }
}
