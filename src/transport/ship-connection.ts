/**
 * ShipConnection: the thin driver that runs the pure SME state machine (src/ship/handshake) over
 * one open WebSocket. It turns socket events and timer expiries into inputs, and carries out the
 * machine's effects (send, timers, close). All protocol decisions live in the machine.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import {
  ShipHubError,
  TransportError,
  failureClose,
  failureError,
  type ClosingShipErrorCode,
} from '../ship/errors.js';
import {
  canSendData,
  initialState,
  step,
  type Role,
  type SmeEffect,
  type SmeFailure,
  type SmeInput,
  type SmeState,
  type SubState,
  type TimerId,
} from '../ship/handshake/index.js';
import { dataMessagePayloadText } from '../ship/codec/frame.js';
import type { CloseReason } from '../ship/messages.js';
import type { Ski } from '../ship/ski.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { safeTerminalText } from '../util/terminal-text.js';
import type {
  ConnectionClosedInfo,
  ShipConnectionEvents,
  ShipConnectionOptions,
} from './ship-connection-types.js';
import { truncateUtf8 } from '../util/utf8.js';

/** RFC 6455 §5.5: a control frame carries ≤ 125 bytes; the close code takes 2 of them. */
const WS_CLOSE_REASON_MAX_BYTES = 123;

/** WebSocket keep-alive (SHIP §4.2 as ship-go cites it): ping every 50 s, pong within 10 s. */
export const PING_INTERVAL_MS = 50_000;
export const PONG_TIMEOUT_MS = 10_000;
/** After we sent a close frame, how long we wait for the peer's before dropping TCP. */
const CLOSE_HANDSHAKE_GRACE_MS = 1_000;
/** A peer that stops reading may not make us buffer without bound. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export type {
  ConnectionClosedInfo,
  ShipConnectionEvents,
  ShipConnectionOptions,
} from './ship-connection-types.js';

let connectionCounter = 0;

/** One SHIP connection in either role. Create it through ShipServer or connectShip(). */
export class ShipConnection extends EventEmitter<ShipConnectionEvents> {
  readonly id: number;
  readonly role: Role;
  readonly remoteSki: Ski;
  readonly remoteAddress: string;
  readonly remoteKeySha256: string | undefined;
  readonly openedAt: number;
  private state: SmeState;
  private readonly socket: WebSocket;
  private readonly stream: { cork(): void; uncork(): void } | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly timers = new Map<TimerId, TimerHandle>();
  private readonly maxBufferedBytes: number;
  private readonly pingIntervalMs: number;
  private readonly pongTimeoutMs: number;
  private pingTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;
  private closeGraceTimer: TimerHandle | undefined;
  private reachedData = false;
  private closedInfo: ConnectionClosedInfo | undefined;
  private readonly closedWaiters: Array<(info: ConnectionClosedInfo) => void> = [];
  private started = false;
  private processing = false;
  private readonly queue: SmeInput[] = [];
  /** The input being stepped (its message bytes give a data event its payload text). */
  private current: SmeInput | undefined;

  constructor(options: ShipConnectionOptions) {
    super();
    this.id = ++connectionCounter;
    this.role = options.sme.role;
    this.remoteSki = options.remoteSki;
    this.remoteAddress = options.remoteAddress;
    this.remoteKeySha256 = options.remoteKeySha256;
    this.socket = options.socket;
    this.stream = options.stream;
    this.clock = options.clock;
    this.logger = options.logger?.child({
      connId: this.id,
      peerSki: options.remoteSki,
      direction: options.sme.role === 'client' ? 'outbound' : 'inbound',
    });
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.pingIntervalMs = options.pingIntervalMs ?? PING_INTERVAL_MS;
    this.pongTimeoutMs = options.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    this.openedAt = this.clock.now();
    this.state = initialState(options.sme, this.openedAt);

    this.socket.on('message', (data, isBinary) => {
      if (!isBinary) {
        // SHIP §10.3: binary frames only; a text frame is refused with 1003 (as jeebus does).
        this.failTransport(
          'SHIPHUB_ERR_FRAME_INVALID',
          'the device sent a WebSocket text frame; SHIP allows binary frames only',
        );
        return;
      }
      // Replies the machine sends on its own (accessMethods for every accessMethodsRequest) are
      // bounded too: a peer that keeps sending but never reads is closed, not buffered for.
      if (this.peerStoppedReading()) return;
      this.input({ kind: 'message', now: this.clock.now(), bytes: toUint8Array(data) });
    });
    this.socket.on('pong', () => this.onPong());
    this.socket.on('close', (code, reason) => this.onSocketClosed(code, reason.toString()));
    this.socket.on('error', (err) => {
      this.logger?.debug({ err }, 'websocket error');
    });
  }

  /** Starts the SHIP handshake (sends the CMI as client). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedulePing();
    this.input({ kind: 'start', now: this.clock.now() });
  }

  /** Current SME sub-state (spec name). */
  get subState(): SubState {
    return this.state.sub;
  }

  /** The partner's SHIP ID once access methods were exchanged. */
  get remoteShipId(): string | undefined {
    return this.state.peerShipId;
  }

  /** True once data exchange is open and until the close starts. */
  get isDataChannelOpen(): boolean {
    return canSendData(this.state);
  }

  get isClosed(): boolean {
    return this.closedInfo !== undefined;
  }

  /** Approves a pending partner (SHIP §13.4.4.1: our hello becomes READY). */
  approve(): void {
    this.input({ kind: 'trustDecision', now: this.clock.now(), approved: true });
  }

  /** Denies a pending partner: hello `aborted`, then close. */
  deny(): void {
    this.input({ kind: 'trustDecision', now: this.clock.now(), approved: false });
  }

  /** Asks the partner for its access methods again (SHIP §13.4.6). */
  requestAccessMethods(): void {
    this.input({ kind: 'requestAccessMethods', now: this.clock.now() });
  }

  /**
   * Sends one SPINE payload (a JSON value; for SPINE `{"datagram":[...]}`), or a
   * RawJsonPayload holding the payload's JSON text as it is to be sent.
   * Throws if the data channel is not open or the peer stopped reading.
   */
  send(payload: unknown): void {
    if (!canSendData(this.state)) {
      throw new ShipHubError(
        'SHIPHUB_ERR_NOT_READY',
        `cannot send: the connection to ${this.remoteSki} is in ${this.state.sub}`,
        { phase: this.state.sub },
      );
    }
    if (this.peerStoppedReading()) {
      throw new TransportError(
        'SHIPHUB_ERR_TRANSPORT',
        `the connection to ${this.remoteSki} was closed: the device stopped reading`,
      );
    }
    this.input({ kind: 'send', now: this.clock.now(), payload });
  }

  /**
   * Closes the connection: SHIP connectionClose announce in data exchange (SHIP §13.4.7),
   * otherwise WebSocket close 4500. Resolves when the connection is closed.
   */
  close(reason: CloseReason = 'unspecific', explanation?: string): Promise<ConnectionClosedInfo> {
    const done = this.waitClosed();
    if (this.closedInfo === undefined) {
      this.input(
        explanation === undefined
          ? { kind: 'close', now: this.clock.now(), reason }
          : { kind: 'close', now: this.clock.now(), reason, explanation },
      );
    }
    return done;
  }

  /** Drops the connection at once without any SHIP message (double connections, shutdown). */
  terminate(
    code: number,
    reason: string,
    failureCode: SmeFailure['code'] = 'SHIPHUB_ERR_CLOSED',
  ): Promise<ConnectionClosedInfo> {
    const done = this.waitClosed();
    // A connection terminated before start() never starts its handshake.
    this.started = true;
    if (this.closedInfo === undefined) {
      this.pendingFailure ??= {
        code: failureCode,
        phase: this.state.lastOpenPhase,
        message: `closed by this node: ${reason}`,
      };
      this.sendClose(code, reason);
    }
    return done;
  }

  /** Resolves when the connection is closed. */
  waitClosed(): Promise<ConnectionClosedInfo> {
    if (this.closedInfo !== undefined) return Promise.resolve(this.closedInfo);
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /**
   * Resolves when the underlying WebSocket and its TCP connection are closed. That can be later
   * than {@link waitClosed}: after a SHIP close the WebSocket close handshake still runs, for at
   * most the 1 s close grace. For graceful shutdowns and for measurements that must not
   * overlap with the teardown of the previous connection.
   */
  waitSocketClosed(): Promise<void> {
    const ws = this.socket;
    if (ws.readyState === ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => ws.once('close', () => resolve()));
  }

  // -------------------------------------------------------------------------------------------

  private input(input: SmeInput): void {
    // Inputs raised by effects (none today) or by listeners are queued, so one step's effects
    // are always carried out in order before the next input is stepped.
    this.queue.push(input);
    if (this.processing) return;
    this.processing = true;
    this.stream?.cork();
    try {
      let next: SmeInput | undefined;
      while ((next = this.queue.shift()) !== undefined) {
        this.current = next;
        const result = step(this.state, next);
        this.state = result.state;
        for (const effect of result.effects) this.apply(effect);
      }
    } finally {
      this.current = undefined;
      this.processing = false;
      this.stream?.uncork();
    }
  }

  private apply(effect: SmeEffect): void {
    switch (effect.kind) {
      case 'send':
        if (this.logger?.isLevelEnabled('trace')) {
          this.logger.trace({ message: effect.message, bytes: effect.bytes.length }, 'send');
        }
        this.socket.send(effect.bytes, { binary: true });
        return;
      case 'startTimer': {
        this.timers.get(effect.id)?.cancel();
        const id = effect.id;
        this.timers.set(
          id,
          this.clock.setTimer(id, effect.ms, () => {
            this.timers.delete(id);
            this.input({ kind: 'timer', now: this.clock.now(), id });
          }),
        );
        return;
      }
      case 'cancelTimer':
        this.timers.get(effect.id)?.cancel();
        this.timers.delete(effect.id);
        return;
      case 'closeTransport':
        this.sendClose(effect.code, effect.reason);
        return;
      case 'event':
        this.dispatch(effect.event);
        return;
    }
  }

  private dispatch(event: Extract<SmeEffect, { kind: 'event' }>['event']): void {
    switch (event.type) {
      case 'state':
        this.logger?.debug(
          { from: event.from, to: event.to, durationMs: event.durationMs },
          'state',
        );
        this.emit('state', event.from, event.to, event.phase, event.durationMs);
        return;
      case 'trustRequired':
        this.emit('trustRequired');
        return;
      case 'peerPending':
        this.emit('peerPending', event.waitingMs);
        return;
      case 'prolongationGranted':
        this.emit('prolongationGranted', event.count);
        return;
      case 'prolongationRequested':
        this.emit('prolongationRequested', event.count);
        return;
      case 'helloOk':
        this.emit('helloOk');
        return;
      case 'pinState':
        return;
      case 'dataChannelOpen':
        this.reachedData = true;
        this.emit('dataChannelOpen');
        return;
      case 'data': {
        // The payload's own text, for SPINE's lossless uint64 reading (src/spine): cut out of
        // the message being stepped, which is the one that produced this event.
        const current = this.current;
        const text =
          current?.kind === 'message' ? dataMessagePayloadText(current.bytes) : undefined;
        this.emit('data', event.payload, text);
        return;
      }
      case 'shipId':
        this.emit('shipId', event.shipId);
        return;
      case 'complete':
        this.emit('complete');
        return;
      case 'warning':
        // Warnings quote the peer (protocolId, undecodable bytes): escaped for the pretty log.
        this.logger?.debug({ code: event.code }, safeTerminalText(event.message));
        this.emit('warning', event.code, event.message);
        return;
      case 'closed':
        this.finish({
          remoteSki: this.remoteSki,
          failure: event.failure,
          error: undefined,
          closeCode: event.closeCode,
          byPeer: event.byPeer,
          remoteDeniedTrust: event.remoteDeniedTrust,
          lastPhase: event.lastPhase,
          reachedDataExchange: this.reachedData,
          durationMs: this.clock.now() - this.openedAt,
        });
        return;
    }
  }

  private sendClose(code: number, reason: string): void {
    const ws = this.socket;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      try {
        ws.close(code, truncateUtf8(reason, WS_CLOSE_REASON_MAX_BYTES));
      } catch {
        ws.terminate();
      }
    }
    // Do not wait ws's 30 s for the peer's close frame: ship-go often sends none.
    this.closeGraceTimer ??= this.clock.setTimer('closeGrace', CLOSE_HANDSHAKE_GRACE_MS, () =>
      ws.terminate(),
    );
  }

  /** Closes the connection when more than maxBufferedBytes wait to be sent to the peer. */
  private peerStoppedReading(): boolean {
    if (this.socket.bufferedAmount <= this.maxBufferedBytes) return false;
    this.failTransport(
      'SHIPHUB_ERR_TRANSPORT',
      `the device stopped reading: ${this.socket.bufferedAmount} bytes are waiting to be sent`,
    );
    return true;
  }

  /**
   * A transport-level failure the machine does not see (text frame, backpressure, pong): closed
   * with the close code and reason the failure table gives the code.
   */
  private failTransport(errCode: ClosingShipErrorCode, message: string) {
    if (this.closedInfo !== undefined) return;
    const close = failureClose(errCode, message);
    this.sendClose(close.code, close.reason);
    const failure: SmeFailure = { code: errCode, phase: this.state.lastOpenPhase, message };
    this.pendingFailure ??= failure;
  }

  private pendingFailure: SmeFailure | undefined;

  private onSocketClosed(code: number, reason: string): void {
    this.cancelAllTimers();
    if (this.closedInfo !== undefined) return;
    // 1005 = no status code in the close frame, 1006 = no close frame at all.
    const input: SmeInput =
      code === 1005 || code === 1006
        ? { kind: 'transportClosed', now: this.clock.now() }
        : { kind: 'transportClosed', now: this.clock.now(), code, reason };
    this.input(input);
  }

  private finish(info: ConnectionClosedInfo): void {
    if (this.closedInfo !== undefined) return;
    const merged: ConnectionClosedInfo =
      this.pendingFailure !== undefined && (info.failure === undefined || info.byPeer)
        ? { ...info, failure: this.pendingFailure, byPeer: false }
        : info;
    // Where a peer fault becomes an error object: the class comes from the failure table.
    const final: ConnectionClosedInfo = {
      ...merged,
      error:
        merged.failure === undefined
          ? undefined
          : failureError({ ...merged.failure, closeCode: merged.closeCode }),
    };
    this.closedInfo = final;
    this.stopKeepAlive();
    for (const [, timer] of this.timers) timer.cancel();
    this.timers.clear();
    if (final.failure !== undefined) {
      // Debug, not info: the hub reports every end as an event (connectionFailed, disconnected)
      // with this text, and the daemon logs it once as an operator line; a second line per
      // connection only cost CPU (docs/performance.md).
      this.logger?.debug(
        { code: final.failure.code, phase: final.failure.phase, closeCode: final.closeCode },
        // Failure texts quote the peer (close reason, SHIP ID, offered formats): escaped here,
        // where they become a log line; `failure.message` itself keeps what was received.
        safeTerminalText(final.failure.message),
      );
    } else {
      this.logger?.debug({ closeCode: final.closeCode }, 'closed');
    }
    // The socket may still be open if the machine only sent a close frame: the grace timer
    // ends it; closing listeners must not wait for that.
    this.emit('closed', final);
    for (const waiter of this.closedWaiters.splice(0)) waiter(final);
  }

  private cancelAllTimers(): void {
    for (const [, timer] of this.timers) timer.cancel();
    this.timers.clear();
    this.stopKeepAlive();
    this.closeGraceTimer?.cancel();
  }

  // WebSocket keep-alive --------------------------------------------------------------------

  private schedulePing(): void {
    this.pingTimer = this.clock.setTimer('wsPing', this.pingIntervalMs, () => {
      if (this.socket.readyState !== this.socket.OPEN) return;
      this.socket.ping();
      this.pongTimer = this.clock.setTimer('wsPong', this.pongTimeoutMs, () => {
        this.failTransport(
          'SHIPHUB_ERR_PONG_TIMEOUT',
          `the device did not answer a WebSocket ping within ${this.pongTimeoutMs / 1000} s`,
        );
      });
      this.schedulePing();
    });
  }

  private onPong(): void {
    this.pongTimer?.cancel();
    this.pongTimer = undefined;
  }

  private stopKeepAlive(): void {
    this.pingTimer?.cancel();
    this.pongTimer?.cancel();
    this.pingTimer = undefined;
    this.pongTimer = undefined;
  }
}

function toUint8Array(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
