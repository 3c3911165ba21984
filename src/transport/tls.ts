/**
 * TLS as SHIP requires it (SHIP §9, §12), built once per identity.
 *
 * - Versions: TLS 1.2 is mandatory (SHIP §9); 1.3 is allowed and preferred when both ends
 *   offer it, as ship-go does. Never 1.0/1.1.
 * - Cipher suites at TLS 1.2 (SHIP §9.1): ECDHE-ECDSA with AES-128 only. The TLS 1.3 suites
 *   are named explicitly so the set is pinned here rather than inherited: in some stacks a
 *   list of only the SHIP 1.2 suites switches TLS 1.3 off (protocol reference §11 item 19;
 *   Node 20 keeps OpenSSL's default 1.3 suites, checked, but we do not rely on it).
 * - ECDHE groups X25519, then P-256. P-256 (secp256r1) is the group of the SHIP §9.1 suites and
 *   what openeebus and jeebus offer; X25519 comes first because Go, and so ship-go, sends only an
 *   X25519 key share (recorded ClientHello, shared/vectors): a P-256-only server would answer
 *   every ship-go dial with a HelloRetryRequest, one more round trip and key generation.
 * - Mutual authentication without a CA (SHIP §12.1): both ends present their self-signed
 *   certificate, chain checks are off (`rejectUnauthorized: false`) and the peer is identified
 *   by its SKI afterwards ({@link peerSkiOf}).
 * - No ALPN (SHIP defines none; offering h2 could land in HTTP/2 on a Go server).
 * - No session resumption and no renegotiation, so the peer presents and proves its
 *   certificate on every connection and its SKI is checked every time (TC_SHIP_SEC_002).
 * - Outgoing records carry at most 1024 bytes of plaintext (SHIP §9.2).
 *
 * Performance: the certificate and key are parsed once, into one `tls.SecureContext` shared by
 * the server and the client side; per connection only the peer certificate is read (a DER
 * walk, see trust/certificate.ts).
 */
import { constants as cryptoConstants } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { TransportError, TrustError, shipError } from '../ship/errors.js';
import type { Ski } from '../ship/ski.js';
import {
  verifyPeerCertificate,
  type PeerCertificateResult,
  type VerifyPeerOptions,
} from '../trust/certificate.js';
import type { NodeIdentity } from '../trust/identity.js';
import { systemClock, type Clock } from '../util/clock.js';

/** SHIP §9: TLS 1.2 is the minimum. */
export const SHIP_TLS_MIN_VERSION = 'TLSv1.2' satisfies tls.SecureVersion;
/** TLS 1.3 is negotiated when the peer offers it (ship-go does the same). */
export const SHIP_TLS_MAX_VERSION = 'TLSv1.3' satisfies tls.SecureVersion;

/**
 * TLS 1.2 suites of SHIP §9.1 that every OpenSSL build has, in our preference order.
 * `TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256` (0xC023) is the one SHIP makes mandatory, so a peer
 * offering only it (jeebus) must succeed; when the peer offers both we prefer the AEAD suite
 * `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256` (0xC02B), which avoids CBC's MAC-then-encrypt
 * weaknesses. The server follows the client's order, as Node does by default.
 */
export const SHIP_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES128-SHA256',
] as const;

/**
 * The optional SHIP §9.1 suite `TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8` (0xC0AE). Offered last and
 * only if the linked OpenSSL knows it (see {@link isCcm8Supported}); its 8-byte tag is the
 * weakest of the three.
 */
export const SHIP_TLS12_CIPHER_CCM8 = 'ECDHE-ECDSA-AES128-CCM8';

/** TLS 1.3 suites: OpenSSL's defaults, named so the set is explicit (SHIP §9.1 predates 1.3). */
export const SHIP_TLS13_CIPHERSUITES = [
  // AES-128-GCM first, as Go orders them on AES-NI hardware (measured: slightly faster).
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/**
 * ECDHE groups in our preference order: X25519 as Go (ship-go) offers it, then P-256 (secp256r1,
 * SHIP §9.1), which every SHIP node has. Peers offering only P-256 get P-256.
 */
export const SHIP_ECDH_CURVE = 'X25519:P-256';

/**
 * SHIP §9.2: "a node SHALL keep outgoing TLSPlaintext.length <= 1024" whether or not the
 * Maximum Fragment Length extension was negotiated. Enforced with `setMaxSendFragment`.
 */
export const SHIP_MAX_SEND_FRAGMENT_BYTES = 1024;

/**
 * No session tickets and no renegotiation. At TLS 1.3 OpenSSL still sends two (stateful)
 * NewSessionTicket messages per connection, since Node 20 cannot set `SSL_CTX_set_num_tickets`;
 * they can never be redeemed, because Node runs OpenSSL without its internal session cache
 * (tested: a client offering them gets a full handshake and presents its certificate again).
 */
export const SHIP_TLS_SECURE_OPTIONS =
  cryptoConstants.SSL_OP_NO_TICKET | cryptoConstants.SSL_OP_NO_RENEGOTIATION;

/**
 * Lifetime announced for (unusable) sessions, in seconds. Kept minimal; nothing can resume
 * anyway (see {@link SHIP_TLS_SECURE_OPTIONS}).
 */
export const SHIP_TLS_SESSION_TIMEOUT_S = 1;

let ccm8Supported: boolean | undefined;

/**
 * True if the linked OpenSSL negotiates `ECDHE-ECDSA-AES128-CCM8` at its default security
 * level. Since OpenSSL 3.2 the suite's 8-byte tag counts as 64 bits of security, below level 1
 * (openssl/openssl#16652), so OpenSSL leaves it out of every ClientHello and never picks it,
 * although a context naming it is still accepted: Node 22 and 24 (OpenSSL 3.5) are such builds
 * (tested), Node 20 (OpenSSL 3.0) negotiates it. We do not lower the security level for it,
 * which would also admit weak keys. Node's `tls.getCiphers()` does not list the suite either
 * way, so for OpenSSL before 3.2 we ask OpenSSL directly by building a context that names only
 * this suite. Checked once per process.
 */
export function isCcm8Supported(): boolean {
  if (ccm8Supported === undefined) {
    ccm8Supported = !openSslAtLeast(3, 2) && contextAccepts(SHIP_TLS12_CIPHER_CCM8);
  }
  return ccm8Supported;
}

/** True if the OpenSSL Node runs on is at least `major.minor` (`process.versions.openssl`). */
export function openSslAtLeast(major: number, minor: number, version?: string): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version ?? process.versions.openssl);
  if (match === null) return false;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}

function contextAccepts(cipher: string): boolean {
  try {
    tls.createSecureContext({ ciphers: cipher, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    return true;
  } catch {
    return false;
  }
}

/** The cipher string we configure: TLS 1.3 suites, then the SHIP §9.1 TLS 1.2 suites. */
export function shipCipherString(): string {
  const tls12: string[] = [...SHIP_TLS12_CIPHERS];
  if (isCcm8Supported()) tls12.push(SHIP_TLS12_CIPHER_CCM8);
  return [...SHIP_TLS13_CIPHERSUITES, ...tls12].join(':');
}

/** TLS material of one identity, shared by every server and client socket. */
export interface ShipTlsContext {
  /** The one SecureContext (key, certificate, versions, suites, options). */
  readonly secureContext: tls.SecureContext;
  /** Our SKI, handy as `ownSki` for {@link peerSkiOf}. */
  readonly ski: Ski;
  /** The cipher string in effect. */
  readonly ciphers: string;
}

/**
 * Builds the TLS context for an identity: parses key and certificate once; every connection,
 * incoming or outgoing, reuses it (a new context per connection costs about 1 ms).
 */
export function createShipTlsContext(
  identity: Pick<NodeIdentity, 'certificatePem' | 'privateKeyPem' | 'ski'>,
): ShipTlsContext {
  const ciphers = shipCipherString();
  const secureContext = tls.createSecureContext({
    key: identity.privateKeyPem,
    cert: identity.certificatePem,
    minVersion: SHIP_TLS_MIN_VERSION,
    maxVersion: SHIP_TLS_MAX_VERSION,
    ciphers,
    ecdhCurve: SHIP_ECDH_CURVE,
    secureOptions: SHIP_TLS_SECURE_OPTIONS,
    sessionTimeout: SHIP_TLS_SESSION_TIMEOUT_S,
  });
  return Object.freeze({ secureContext, ski: identity.ski, ciphers });
}

function capSendFragment(socket: tls.TLSSocket): void {
  // Returns false only for sizes outside OpenSSL's 512..16384 range, which 1024 is not.
  if (!socket.setMaxSendFragment(SHIP_MAX_SEND_FRAGMENT_BYTES)) {
    throw new TransportError(
      'SHIPHUB_ERR_TRANSPORT',
      `OpenSSL refused a maximum send fragment of ${SHIP_MAX_SEND_FRAGMENT_BYTES} bytes`,
    );
  }
}

/**
 * Starts the server side of TLS on an accepted TCP socket (the caller does admission control
 * before, and a handshake deadline around it: a bare TLSSocket has no handshake timeout).
 *
 * The client certificate is requested but not chain-checked: SHIP certificates are
 * self-signed, and the peer is identified by {@link peerSkiOf} once `'secure'` fires. For a
 * client without a certificate `'secure'` fires as well and {@link peerSkiOf} refuses it;
 * destroying the socket right then means a TLS 1.2 client never gets our Finished message and a
 * TLS 1.3 client sees the connection close before any application byte (both tested).
 *
 * The 1024-byte record cap is set before the handshake can produce output (the server speaks
 * only after the ClientHello has been read, which happens on a later event-loop turn), so it
 * covers the server's handshake records too. Attach an `'error'` listener right away.
 */
export function wrapServerSocket(raw: net.Socket, ctx: ShipTlsContext): tls.TLSSocket {
  raw.setNoDelay(true);
  const socket = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: ctx.secureContext,
    requestCert: true,
    rejectUnauthorized: false,
  });
  capSendFragment(socket);
  return socket;
}

/** Options of {@link connectShipTls}. */
export interface ConnectShipTlsOptions {
  readonly host: string;
  readonly port: number;
  readonly ctx: ShipTlsContext;
  /**
   * TLS server name (SNI). SHIP §9.4: for local connections it SHALL be the mDNS host name.
   * Defaults to `host` when that is a name; a trailing dot is removed, and IP literals never
   * go into SNI (RFC 6066 §3).
   */
  readonly servername?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Deadline for TCP connect plus TLS handshake; none by default. */
  readonly timeoutMs?: number | undefined;
  /** Clock for the deadline; default the system clock. */
  readonly clock?: Clock | undefined;
  /** Called once TCP is connected, just before the ClientHello is written. */
  readonly onTcpConnected?: (() => void) | undefined;
}

/** The SNI to send for a dial target, or undefined for none. */
export function serverNameFor(host: string, servername?: string): string | undefined {
  const name = (servername ?? host).replace(/\.$/, '');
  if (name === '' || net.isIP(name) !== 0) return undefined;
  // An unbracketed IPv6 literal with a zone is not caught by isIP.
  if (name.includes(':') || name.includes('%')) return undefined;
  return name;
}

/**
 * A TLS dial in progress, see {@link connectShipTls}: a promise of the secured socket that can
 * also be cancelled.
 */
export type ShipTlsDial = Promise<tls.TLSSocket> & {
  /** Gives up: destroys the socket and rejects the dial with `reason` (no-op once settled). */
  readonly cancel: (reason: Error) => void;
};

/** The dial before it is made awaitable: the promise and its cancel function. */
interface DialParts {
  readonly secured: Promise<tls.TLSSocket>;
  readonly cancel: (reason: Error) => void;
}

/**
 * Opens a TLS connection to a SHIP node with our certificate. Resolves once the handshake is
 * complete; the caller then identifies the server with {@link peerSkiOf} (with `expectedSki`)
 * before sending any SHIP byte. Chain and host name are not checked (SHIP §12.1: self-signed).
 *
 * The 1024-byte record cap (SHIP §9.2) is set synchronously after `tls.connect` returns. At
 * that moment the TCP connect is still pending (`socket.connecting`), and Node writes the
 * ClientHello only from the connect callback, so the cap covers every record we send,
 * handshake included.
 *
 * The dial is cancelled either through `signal` or through the returned `cancel()`.
 * connectShip() uses `cancel()`: an AbortController and its listeners cost tens of microseconds
 * per dial in a cold process (docs/performance.md), so a signal is wired only when given.
 *
 * @throws TransportError when the connection or handshake fails or `signal` aborts (then the
 *   signal's reason is thrown if it is an Error); TimeoutError `SHIPHUB_ERR_CONNECT_TIMEOUT`
 *   when `timeoutMs` passes first.
 */
export function connectShipTls(options: ConnectShipTlsOptions): ShipTlsDial {
  const { signal } = options;
  const target = targetOf(options.host, options.port);
  if (signal?.aborted === true) {
    return Object.assign(Promise.reject(abortError(signal, target)), { cancel: () => undefined });
  }
  const dial = startDial(options);
  if (signal !== undefined) {
    const onAbort = () => dial.cancel(abortError(signal, target));
    signal.addEventListener('abort', onAbort, { once: true });
    const forget = () => signal.removeEventListener('abort', onAbort);
    dial.secured.then(forget, forget);
  }
  return Object.assign(dial.secured, { cancel: dial.cancel });
}

function targetOf(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The dial of {@link connectShipTls}; `options.signal` is wired there, not here. */
function startDial(options: ConnectShipTlsOptions): DialParts {
  const { host, port, ctx } = options;
  const target = targetOf(host, port);
  const servername = serverNameFor(host, options.servername);
  let socket: tls.TLSSocket | undefined;
  try {
    socket = tls.connect({
      host,
      port,
      secureContext: ctx.secureContext,
      rejectUnauthorized: false,
      // '' disables SNI; Node would otherwise send the host name given above.
      servername: servername ?? '',
    });
    capSendFragment(socket);
  } catch (error) {
    // tls.connect throws synchronously for arguments it cannot use (an invalid port, ...).
    socket?.destroy();
    const failed = Promise.reject(
      new TransportError(
        'SHIPHUB_ERR_TRANSPORT',
        `cannot connect to ${target}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      ),
    );
    return { secured: failed, cancel: () => undefined };
  }
  socket.setNoDelay(true);
  // Prepended: tls.connect's own 'connect' listener writes the ClientHello.
  if (options.onTcpConnected) socket.prependOnceListener('connect', options.onTcpConnected);
  const connecting = socket;
  let settled = false;
  let fail: (error: Error) => void = () => undefined;

  const secured = new Promise<tls.TLSSocket>((resolve, reject) => {
    const clock = options.clock ?? systemClock;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : clock.setTimer('tlsConnectTimeout', options.timeoutMs, () =>
            fail(
              shipError(
                'SHIPHUB_ERR_CONNECT_TIMEOUT',
                `no TLS connection to ${target} within ${options.timeoutMs} ms`,
                { hint: 'check that the device is on and reachable on that address and port' },
              ),
            ),
          );
    const cleanup = () => {
      settled = true;
      timer?.cancel();
      connecting.removeListener('secureConnect', onSecure);
      connecting.removeListener('error', onError);
      connecting.removeListener('close', onClose);
    };
    fail = (error: Error) => {
      if (settled) return;
      cleanup();
      // A destroyed socket can still report a late reset; nobody listens any more.
      connecting.on('error', () => undefined);
      connecting.destroy();
      reject(error);
    };
    const onSecure = () => {
      cleanup();
      resolve(connecting);
    };
    const onError = (error: Error) =>
      fail(
        new TransportError(
          'SHIPHUB_ERR_TRANSPORT',
          `TLS connection to ${target} failed: ${error.message}`,
          { cause: error },
        ),
      );
    const onClose = () =>
      fail(
        new TransportError(
          'SHIPHUB_ERR_CONNECTION_LOST',
          `${target} closed the connection during the TLS handshake`,
          {
            hint:
              'the device may refuse our certificate (not paired yet) or accept only other ' +
              'TLS versions or cipher suites',
          },
        ),
      );
    connecting.once('secureConnect', onSecure);
    connecting.once('error', onError);
    connecting.once('close', onClose);
  });
  return { secured, cancel: (reason) => fail(reason) };
}

function abortError(signal: AbortSignal, target: string): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new TransportError('SHIPHUB_ERR_TRANSPORT', `TLS connection to ${target} aborted`);
}

/**
 * Identifies the peer of a completed TLS handshake: reads the certificate it presented and
 * applies {@link verifyPeerCertificate} (SHIP §12.2). No certificate is refused (SHIP §12.1:
 * mutual authentication is mandatory). Nothing is cached on the socket.
 */
export function peerSkiOf(
  socket: tls.TLSSocket,
  options: VerifyPeerOptions = {},
): PeerCertificateResult {
  // Node 20: on a CLIENT socket getPeerX509Certificate() returns the certificate only once (a
  // second call gives undefined), so it is read exactly once here and never cached elsewhere.
  // getPeerX509Certificate wraps OpenSSL's certificate without converting every field to JS,
  // which getPeerCertificate() would do.
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) {
    // Only a client can omit its certificate: we offer no anonymous suites, so a server
    // always sends one.
    return {
      ok: false,
      error: new TrustError(
        'SHIPHUB_ERR_CERT_INVALID',
        'the peer presented no client certificate; SHIP requires mutual TLS authentication ' +
          '(SHIP §12.1)',
        {
          hint:
            'The device must be configured to send its SHIP certificate when it connects; ' +
            'plain TLS clients (browsers, curl) cannot talk SHIP.',
        },
      ),
    };
  }
  // `raw` is a Buffer, i.e. already a Uint8Array: no copy.
  return verifyPeerCertificate(certificate.raw, options);
}
