/**
 * The SHIP client role: TCP + TLS (SHIP §9), the server identified by SKI and compared with the
 * expected one before any WebSocket byte (SHIP §12.2), WebSocket upgrade with subprotocol `ship`
 * (SHIP §10.2), then the SHIP handshake as client.
 */
import type tls from 'node:tls';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { ShipHubError, TransportError, shipError } from '../ship/errors.js';
import { smeConfig, type SmeConfig } from '../ship/handshake/index.js';
import type { Ski } from '../ship/ski.js';
import type { Clock } from '../util/clock.js';
import { ShipConnection } from './ship-connection.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, SHIP_PATH, SHIP_SUBPROTOCOL } from './ship-server.js';
import { connectShipTls, peerSkiOf, type ShipTlsContext } from './tls.js';

/** ship-go's WebSocket dial timeout. */
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;

export interface ConnectShipOptions {
  readonly host: string;
  readonly port: number;
  /** WebSocket path from the mDNS TXT record; `/ship/` by default. */
  readonly path?: string;
  /** mDNS host name (without the trailing dot) to send as SNI (SHIP 9.4); none for IP literals. */
  readonly servername?: string;
  /** The SKI we expect (from mDNS or pairing): a different certificate is refused before CMI. */
  readonly expectedSki: Ski;
  readonly tls: ShipTlsContext;
  readonly localSki: Ski;
  readonly localShipId: string;
  readonly clock: Clock;
  readonly logger?: Logger;
  /** SME settings; a dialled peer is trusted (READY) unless said otherwise. */
  readonly sme?: Omit<Partial<SmeConfig>, 'role' | 'localShipId'>;
  readonly acceptLegacySki?: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly maxPayloadBytes?: number;
  /** Called with the connection before it starts, to attach listeners. */
  readonly onConnection?: (connection: ShipConnection) => void;
}

/** Phases of a dial, reported through `onProgress` (the probe command prints them). */
export type DialProgress =
  | { readonly step: 'tcp'; readonly durationMs: number }
  | {
      readonly step: 'tcp+tls';
      readonly durationMs: number;
      readonly protocol: string;
      readonly cipher: string;
    }
  | { readonly step: 'identified'; readonly ski: Ski; readonly legacySki: boolean }
  | { readonly step: 'websocket'; readonly durationMs: number };

/**
 * Dials a SHIP node and starts the handshake. Resolves with the connection as soon as the
 * WebSocket is open (the SHIP handshake then runs; watch its events); rejects with a
 * ShipHubError explaining the failure if TCP, TLS, identification or upgrade fail.
 */
export async function connectShip(
  options: ConnectShipOptions,
  onProgress?: (progress: DialProgress) => void,
): Promise<ShipConnection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  const started = options.clock.now();
  const { signal } = options;
  if (signal?.aborted === true) throw abortReason(signal, options);
  // Cancellation (deadline or the caller's signal) goes to whatever step is running. Plain
  // callbacks instead of an AbortController: its EventTarget listeners cost tens of
  // microseconds per dial in a cold process (docs/performance.md).
  let abortedWith: Error | undefined;
  let cancelStep: ((reason: Error) => void) | undefined;
  const abort = (reason: Error) => {
    if (abortedWith !== undefined) return;
    abortedWith = reason;
    cancelStep?.(reason);
  };
  // An abort that came while a step's result was on its way still wins.
  const throwIfAborted = () => {
    if (abortedWith !== undefined) throw abortedWith;
  };
  const abortFromCaller = () => {
    if (signal !== undefined) abort(abortReason(signal, options));
  };
  signal?.addEventListener('abort', abortFromCaller, { once: true });
  const deadline = options.clock.setTimer('dialTimeout', timeoutMs, () =>
    abort(
      shipError(
        'SHIPHUB_ERR_CONNECT_TIMEOUT',
        `no SHIP connection to ${options.host}:${options.port} within ${timeoutMs / 1000} s`,
        { hint: 'check that the device is on and reachable on that address and port' },
      ),
    ),
  );
  let secure: tls.TLSSocket | undefined;
  try {
    const dial = connectShipTls({
      host: options.host,
      port: options.port,
      ctx: options.tls,
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      ...(onProgress
        ? {
            onTcpConnected: () =>
              onProgress({ step: 'tcp', durationMs: options.clock.now() - started }),
          }
        : {}),
    });
    cancelStep = dial.cancel;
    secure = await dial;
    cancelStep = undefined;
    throwIfAborted();
    onProgress?.({
      step: 'tcp+tls',
      durationMs: options.clock.now() - started,
      protocol: secure.getProtocol() ?? 'unknown',
      cipher: secure.getCipher().name,
    });
    const identified = peerSkiOf(secure, {
      acceptLegacySki: options.acceptLegacySki ?? false,
      expectedSki: options.expectedSki,
      ownSki: options.localSki,
    });
    if (!identified.ok) throw identified.error;
    onProgress?.({ step: 'identified', ski: identified.ski, legacySki: identified.legacy });

    const wsStarted = options.clock.now();
    const upgrading = upgrade(secure, options);
    cancelStep = upgrading.cancel;
    const ws = await upgrading.opened;
    cancelStep = undefined;
    throwIfAborted();
    onProgress?.({ step: 'websocket', durationMs: options.clock.now() - wsStarted });

    const connection = new ShipConnection({
      socket: ws,
      stream: secure,
      sme: smeConfig({
        initialTrust: 'trusted',
        ...options.sme,
        role: 'client',
        localShipId: options.localShipId,
      }),
      remoteSki: identified.ski,
      remoteAddress: options.host,
      remoteKeySha256: identified.keySha256,
      clock: options.clock,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    options.onConnection?.(connection);
    connection.start();
    return connection;
  } catch (err) {
    secure?.destroy();
    throw abortedWith ?? explainDialError(err, options);
  } finally {
    deadline.cancel();
    signal?.removeEventListener('abort', abortFromCaller);
  }
}

/** The caller's abort reason as the dial's error (a plain abort becomes a TransportError). */
function abortReason(signal: AbortSignal, options: ConnectShipOptions): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof ShipHubError) return reason;
  return new TransportError(
    'SHIPHUB_ERR_TRANSPORT',
    `connecting to ${options.host}:${options.port} was cancelled` +
      (reason instanceof Error ? `: ${reason.message}` : ''),
    { cause: reason },
  );
}

function upgrade(
  secure: tls.TLSSocket,
  options: ConnectShipOptions,
): { opened: Promise<WebSocket>; cancel: (reason: Error) => void } {
  // The socket is already connected; the URL only feeds the Host header. WHATWG URLs cannot
  // carry an IPv6 zone id (fe80::1%eth0, reference §2.3), so it is left out there.
  const bare = options.host.replace(/%.*$/, '');
  const host = bare.includes(':') ? `[${bare}]` : bare;
  const url = `wss://${host}:${options.port}${options.path ?? SHIP_PATH}`;
  let cancel: (reason: Error) => void = () => undefined;
  const opened = new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, SHIP_SUBPROTOCOL, {
      // The TLS socket is already connected and its peer identified.
      createConnection: () => secure,
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    });
    let settled = false;
    cancel = (reason) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(reason);
    };
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      if (ws.protocol !== SHIP_SUBPROTOCOL) {
        ws.terminate();
        reject(
          new TransportError(
            'SHIPHUB_ERR_TRANSPORT',
            `the server did not accept the WebSocket subprotocol "ship" (got "${ws.protocol}")`,
          ),
        );
        return;
      }
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(
        new TransportError(
          res.statusCode === 503 ? 'SHIPHUB_ERR_CONNECTION_LIMIT' : 'SHIPHUB_ERR_TRANSPORT',
          `the device answered the WebSocket upgrade with HTTP ${res.statusCode}` +
            (res.statusCode === 503 ? ' (it has reached its connection limit)' : ''),
        ),
      );
    });
    // `on`, not `once`: a hostile server can make ws emit more than one error (bad frames
    // after a refused upgrade); without a listener the next one would end the process.
    ws.on('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
  });
  return { opened, cancel };
}

/**
 * A failed dial in plain words (issue 12 "failure explanations"): socket and TLS error codes
 * become what they most likely mean and what to do; ShipHubErrors pass unchanged.
 */
export function explainDialError(
  err: unknown,
  options: { readonly host: string; readonly port: number },
): ShipHubError {
  // A TransportError of the TLS step wraps the socket error: explain that one in plain words.
  const socketError = err instanceof TransportError && err.cause instanceof Error ? err.cause : err;
  const code =
    socketError instanceof Error && 'code' in socketError && typeof socketError.code === 'string'
      ? socketError.code
      : undefined;
  const target = `${options.host}:${options.port}`;
  const plain: Record<string, string> = {
    ECONNREFUSED: `nothing listens on ${target} (connection refused)`,
    EHOSTUNREACH: `${target} is not reachable (no route to host)`,
    ENETUNREACH: `${target} is not reachable (network unreachable)`,
    ETIMEDOUT: `${target} did not answer (timed out)`,
    ENOTFOUND: `the name ${options.host} cannot be resolved (no DNS or mDNS answer for it)`,
    EAI_AGAIN: `the name ${options.host} cannot be resolved now (the name server did not answer)`,
    ECONNRESET:
      `${target} closed the connection before TLS was done: it may be at its connection ` +
      `limit, refuse connections from this address, or accept only other TLS versions or ` +
      `cipher suites`,
    ERR_SSL_WRONG_VERSION_NUMBER: `${target} does not speak TLS (an HTTP or plain TCP service?)`,
    ERR_SSL_PACKET_LENGTH_TOO_LONG: `${target} does not speak TLS (an HTTP or plain TCP service?)`,
  };
  const unresolvedHint =
    "give the device's IP address (ship-hub discover lists it), with its port: without one " +
    '4712 is used';
  const hints: Record<string, string> = {
    ECONNREFUSED:
      'check host and port: SHIP devices announce theirs on mDNS (ship-hub discover); many use 4712',
    ENOTFOUND: unresolvedHint,
    EAI_AGAIN: unresolvedHint,
    ECONNRESET:
      'try again in a minute; if it persists, restart the device or check that no other hub ' +
      'holds its connections',
    ERR_SSL_WRONG_VERSION_NUMBER:
      'check the port: SHIP devices announce theirs on mDNS (ship-hub discover); many use 4712',
    ERR_SSL_PACKET_LENGTH_TOO_LONG:
      'check the port: SHIP devices announce theirs on mDNS (ship-hub discover); many use 4712',
  };
  const message = code === undefined ? undefined : plain[code];
  if (message !== undefined) {
    const hint = code === undefined ? undefined : hints[code];
    return new TransportError('SHIPHUB_ERR_TRANSPORT', message, {
      cause: socketError,
      ...(hint !== undefined ? { hint } : {}),
    });
  }
  if (err instanceof ShipHubError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new TransportError('SHIPHUB_ERR_TRANSPORT', `connecting to ${target} failed: ${text}`, {
    cause: err,
  });
}
