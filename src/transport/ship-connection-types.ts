/**
 * The public shapes of a ShipConnection (src/transport/ship-connection.ts): its options, its
 * events and what its `closed` event reports.
 */
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { ShipHubError } from '../ship/errors.js';
import type { Phase, SmeConfig, SmeFailure, SubState } from '../ship/handshake/index.js';
import type { Ski } from '../ship/ski.js';
import type { Clock } from '../util/clock.js';

/** What the `closed` event reports. */
export interface ConnectionClosedInfo {
  readonly remoteSki: Ski;
  readonly failure: SmeFailure | undefined;
  /**
   * The failure as an error object of the class the failure table gives its code: a
   * ProtocolError when the peer broke SHIP, a TrustError, a TimeoutError, ... (src/ship/errors.ts).
   */
  readonly error: ShipHubError | undefined;
  readonly closeCode: number | undefined;
  readonly byPeer: boolean;
  readonly remoteDeniedTrust: boolean;
  /** The last handshake phase reached before closing. */
  readonly lastPhase: Phase;
  /** True if data exchange was reached. */
  readonly reachedDataExchange: boolean;
  readonly durationMs: number;
}

export interface ShipConnectionEvents {
  /** Every state change of the SME (for logs and phase metrics). */
  state: [from: SubState, to: SubState, phase: Phase, durationMs: number];
  /** The partner is unknown: call approve() or deny() (or let it expire). */
  trustRequired: [];
  /** The partner is pending: its user must trust us. */
  peerPending: [waitingMs: number | undefined];
  prolongationGranted: [count: number];
  prolongationRequested: [count: number];
  helloOk: [];
  /** Data exchange entered: send() works from now on. */
  dataChannelOpen: [];
  /**
   * A SPINE payload: the JSON value of the data message's `payload` (parsed with JSON.parse) and
   * its text as received (for lossless 64-bit numbers; undefined only if it could not be cut out).
   */
  data: [payload: unknown, payloadText: string | undefined];
  shipId: [shipId: string];
  complete: [];
  warning: [code: string, message: string];
  closed: [info: ConnectionClosedInfo];
}

export interface ShipConnectionOptions {
  readonly socket: WebSocket;
  /**
   * The TLS socket under `socket`. When given, the messages of one SME step (CMI and hello,
   * protocol selection and PIN state, ...) are written together: one TLS record and one syscall
   * instead of one each, less work on both ends of every handshake.
   */
  readonly stream?: { cork(): void; uncork(): void };
  readonly sme: SmeConfig;
  readonly remoteSki: Ski;
  readonly remoteAddress: string;
  /** SHA-256 of the peer's public key (hex), when TLS identified it: for key pinning. */
  readonly remoteKeySha256?: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly maxBufferedBytes?: number;
  readonly pingIntervalMs?: number;
  readonly pongTimeoutMs?: number;
}
