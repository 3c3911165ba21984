/**
 * SHIP TLS over real loopback sockets (127.0.0.1, port 0): the server side is net.createServer +
 * wrapServerSocket + peerSkiOf, as the hub's transport does; the client side is connectShipTls.
 * "Foreign" peers (a jeebus-like CBC-only node, clients without certificates, ...) are built
 * from plain tls.createSecureContext options.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import {
  connectShipTls,
  createShipTlsContext,
  isCcm8Supported,
  openSslAtLeast,
  peerSkiOf,
  serverNameFor,
  shipCipherString,
  SHIP_MAX_SEND_FRAGMENT_BYTES,
  SHIP_TLS12_CIPHER_CCM8,
  wrapServerSocket,
  type ShipTlsContext,
} from '../../../src/transport/tls.js';
import type { PeerCertificateResult, VerifyPeerOptions } from '../../../src/trust/certificate.js';
import type { NodeIdentity } from '../../../src/trust/identity.js';
import { TimeoutError, TransportError } from '../../../src/ship/errors.js';
import type { Ski } from '../../../src/ship/ski.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { startSilentServer, type SilentServer } from '../../helpers/silent-server.js';
import {
  keySha256Of,
  testCertificate,
  testIdentity,
  type TestCertificate,
} from '../../helpers/certs.js';

type Material = Pick<NodeIdentity, 'certificatePem' | 'privateKeyPem' | 'ski'> | TestCertificate;

interface Accepted {
  readonly result: PeerCertificateResult;
  readonly protocol: string | null;
  readonly cipher: string;
}

interface TestServer {
  readonly port: number;
  next(): Promise<Accepted>;
  close(): Promise<void>;
}

/** A SHIP TLS server as the transport builds it; refused peers are destroyed at once. */
async function startServer(
  ctx: ShipTlsContext,
  verify: VerifyPeerOptions = {},
): Promise<TestServer> {
  const results: Accepted[] = [];
  const waiting: ((accepted: Accepted) => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const socket = wrapServerSocket(raw, ctx);
    socket.on('error', () => undefined);
    socket.once('secure', () => {
      const result = peerSkiOf(socket, verify);
      const accepted = {
        result,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
      };
      const waiter = waiting.shift();
      if (waiter) waiter(accepted);
      else results.push(accepted);
      if (!result.ok) {
        socket.destroy();
        return;
      }
      socket.write(`hello ${result.ski}\n`);
      socket.on('data', (data) => socket.write(data));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    next: () =>
      new Promise<Accepted>((resolve) => {
        const ready = results.shift();
        if (ready) resolve(ready);
        else waiting.push(resolve);
      }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A context that is not ours: restricted suites/versions, or no certificate at all. */
function foreignContext(
  material: Material | undefined,
  options: tls.SecureContextOptions = {},
): ShipTlsContext {
  return {
    secureContext: tls.createSecureContext({
      ...(material ? { key: material.privateKeyPem, cert: material.certificatePem } : {}),
      ...options,
    }),
    ski: (material?.ski ?? '0'.repeat(40)) as Ski,
    ciphers: options.ciphers ?? '',
  };
}

/** The ECDHE group a client socket negotiated (OpenSSL's name). */
function keyExchangeGroup(socket: tls.TLSSocket): string | undefined {
  const info = socket.getEphemeralKeyInfo() as { name?: string } | null;
  return info?.name;
}

/** Reads until the first newline or the end of the connection. */
function firstLine(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = () => resolve(text);
    socket.on('data', (data: Buffer) => {
      text += data.toString();
      if (text.includes('\n')) {
        socket.removeListener('close', done);
        resolve(text.slice(0, text.indexOf('\n')));
      }
    });
    socket.once('close', done);
    socket.once('end', done);
  });
}

/** Connects with a plain tls.connect (for options connectShipTls does not have). */
function plainConnect(
  port: number,
  ctx: ShipTlsContext,
  extra: tls.ConnectionOptions = {},
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      secureContext: ctx.secureContext,
      rejectUnauthorized: false,
      ...extra,
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('SHIP TLS configuration (SHIP §9.1, §9.2)', () => {
  it('offers the SHIP §9.1 suites and keeps the TLS 1.3 suites', () => {
    const ciphers = shipCipherString().split(':');
    assert.ok(ciphers.includes('ECDHE-ECDSA-AES128-SHA256'), 'mandatory CBC suite');
    assert.ok(ciphers.includes('ECDHE-ECDSA-AES128-GCM-SHA256'));
    assert.ok(ciphers.includes('TLS_AES_128_GCM_SHA256'));
    assert.equal(ciphers.includes('ECDHE-ECDSA-AES128-CCM8'), isCcm8Supported());
    assert.equal(
      ciphers.filter((c) => !c.startsWith('TLS_') && !c.startsWith('ECDHE-ECDSA-AES128')).length,
      0,
      'no other TLS 1.2 suite',
    );
    assert.equal(SHIP_MAX_SEND_FRAGMENT_BYTES, 1024);
  });

  it('offers CCM8 only where OpenSSL negotiates it at its default security level (< 3.2)', () => {
    assert.equal(openSslAtLeast(3, 2, '3.0.19'), false);
    assert.equal(openSslAtLeast(3, 2, '3.0.15+quic'), false);
    assert.equal(openSslAtLeast(3, 2, '3.2.0'), true);
    assert.equal(openSslAtLeast(3, 2, '3.5.8'), true);
    assert.equal(openSslAtLeast(3, 2, '4.0.0'), true);
    assert.equal(openSslAtLeast(3, 2, 'garbage'), false);
    const offered = shipCipherString().split(':').includes(SHIP_TLS12_CIPHER_CCM8);
    assert.equal(offered, isCcm8Supported());
    if (openSslAtLeast(3, 2)) assert.equal(isCcm8Supported(), false, process.versions.openssl);
  });

  it('picks the SNI as SHIP §9.4 and RFC 6066 want', () => {
    assert.equal(serverNameFor('wallbox-00015609.local.'), 'wallbox-00015609.local');
    assert.equal(serverNameFor('192.168.1.5', 'wallbox.local.'), 'wallbox.local');
    assert.equal(serverNameFor('192.168.1.5'), undefined);
    assert.equal(serverNameFor('fe80::1'), undefined);
    assert.equal(serverNameFor('fe80::1%eth0'), undefined);
    assert.equal(serverNameFor('host.local', '10.0.0.1'), undefined);
  });

  it('tls.connect returns before the TCP connection exists, so the cap precedes the ClientHello', async () => {
    const server = net.createServer((raw) => raw.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: (server.address() as net.AddressInfo).port,
        rejectUnauthorized: false,
      });
      socket.on('error', () => undefined);
      // connectShipTls calls setMaxSendFragment at exactly this point.
      assert.equal(socket.connecting, true);
      assert.equal(socket.setMaxSendFragment(SHIP_MAX_SEND_FRAGMENT_BYTES), true);
      socket.destroy();
    } finally {
      server.close();
    }
  });
});

describe('SHIP TLS handshakes on loopback', () => {
  let a: NodeIdentity;
  let b: NodeIdentity;
  let ctxA: ShipTlsContext;
  let ctxB: ShipTlsContext;
  let server: TestServer;

  before(async () => {
    a = await testIdentity('a');
    b = await testIdentity('b');
    ctxA = createShipTlsContext(a);
    ctxB = createShipTlsContext(b);
  });
  // A fresh server per test, so a refused or failed handshake cannot leak into the next test.
  beforeEach(async () => {
    server = await startServer(ctxA, { ownSki: a.ski });
  });
  afterEach(() => server.close());

  it('authenticates both ways and reads the SKI on both sides (TLS 1.3 by default)', async () => {
    const client = await connectShipTls({ host: '127.0.0.1', port: server.port, ctx: ctxB });
    try {
      assert.equal(client.getProtocol(), 'TLSv1.3');
      assert.equal(client.alpnProtocol, false, 'no ALPN');
      assert.deepEqual(peerSkiOf(client, { expectedSki: a.ski, ownSki: b.ski }), {
        ok: true,
        ski: a.ski,
        legacy: false,
        keySha256: keySha256Of(a.certificatePem),
      });
      const accepted = await server.next();
      assert.deepEqual(accepted.result, {
        ok: true,
        ski: b.ski,
        legacy: false,
        keySha256: keySha256Of(b.certificatePem),
      });
      assert.equal(await firstLine(client), `hello ${b.ski}`);
    } finally {
      client.destroy();
    }
  });

  it('a Go-like client (X25519 key share, P-256 supported) gets X25519 without a retry', async () => {
    // Recorded ship-go ClientHello: supported groups x25519, secp256r1, ...; one key share, x25519.
    const goLike = foreignContext(b, { ecdhCurve: 'X25519:P-256:P-384' });
    const client = await plainConnect(server.port, goLike);
    try {
      assert.equal(client.getProtocol(), 'TLSv1.3');
      assert.equal(keyExchangeGroup(client), 'X25519');
      await server.next();
    } finally {
      client.destroy();
    }
  });

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`a client that knows only P-256 (secp256r1) gets P-256 (${maxVersion})`, async () => {
      const p256Only = foreignContext(b, { ecdhCurve: 'P-256', maxVersion });
      const client = await plainConnect(server.port, p256Only);
      try {
        assert.equal(client.getProtocol(), maxVersion);
        assert.equal(keyExchangeGroup(client), 'prime256v1');
        await server.next();
      } finally {
        client.destroy();
      }
    });
  }

  for (const [name, cipher] of [
    ['CBC (mandatory, checklist item 4)', 'ECDHE-ECDSA-AES128-SHA256'],
    ['GCM (checklist item 5)', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  ] as const) {
    it(`completes TLS 1.2 with ${name} when the client offers only that suite`, async () => {
      const only = foreignContext(b, { ciphers: cipher, maxVersion: 'TLSv1.2' });
      const client = await connectShipTls({ host: '127.0.0.1', port: server.port, ctx: only });
      try {
        assert.equal(client.getProtocol(), 'TLSv1.2');
        assert.equal(client.getCipher().standardName.includes('ECDHE_ECDSA'), true);
        const accepted = await server.next();
        assert.equal(accepted.protocol, 'TLSv1.2');
        assert.equal(accepted.cipher, cipher);
        assert.deepEqual(accepted.result, {
          ok: true,
          ski: b.ski,
          legacy: false,
          keySha256: keySha256Of(b.certificatePem),
        });
        assert.equal(peerSkiOf(client, { expectedSki: a.ski }).ok, true);
        assert.equal(await firstLine(client), `hello ${b.ski}`);
      } finally {
        client.destroy();
      }
    });

    it(`our client completes TLS 1.2 with ${name} against a server offering only that suite`, async () => {
      const jeebusLike = await startServer(
        foreignContext(a, { ciphers: cipher, maxVersion: 'TLSv1.2' }),
      );
      try {
        const client = await connectShipTls({
          host: '127.0.0.1',
          port: jeebusLike.port,
          ctx: ctxB,
        });
        assert.equal(client.getProtocol(), 'TLSv1.2');
        assert.equal(client.getCipher().name, cipher);
        assert.equal(peerSkiOf(client, { expectedSki: a.ski }).ok, true);
        assert.deepEqual((await jeebusLike.next()).result, {
          ok: true,
          ski: b.ski,
          legacy: false,
          keySha256: keySha256Of(b.certificatePem),
        });
        client.destroy();
      } finally {
        await jeebusLike.close();
      }
    });
  }

  it('negotiates CCM8 at TLS 1.2 when OpenSSL has it', { skip: !isCcm8Supported() }, async () => {
    const only = foreignContext(b, { ciphers: 'ECDHE-ECDSA-AES128-CCM8', maxVersion: 'TLSv1.2' });
    const client = await connectShipTls({ host: '127.0.0.1', port: server.port, ctx: only });
    try {
      assert.equal(client.getCipher().name, 'ECDHE-ECDSA-AES128-CCM8');
      assert.equal((await server.next()).result.ok, true);
    } finally {
      client.destroy();
    }
  });

  it('fails the handshake when the client offers only non-ECDSA suites', async () => {
    const rsaOnly = foreignContext(b, {
      ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA256',
      maxVersion: 'TLSv1.2',
    });
    await assert.rejects(
      connectShipTls({ host: '127.0.0.1', port: server.port, ctx: rsaOnly }),
      (error: unknown) =>
        error instanceof TransportError &&
        /TLS connection to 127\.0\.0\.1:\d+ failed: .*handshake failure/.test(error.message),
    );
  });

  it('refuses a client without certificate before any application byte (checklist item 3)', async () => {
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const anonymous = foreignContext(undefined, { maxVersion });
      // At TLS 1.2 the server's Finished is still unsent when it drops the connection, so the
      // client sees a reset during the handshake; at 1.3 the client finishes first and then
      // sees the connection closed. Either way no application byte comes back.
      const answer = await plainConnect(server.port, anonymous).then(
        (client) => {
          client.on('error', () => undefined);
          client.write('GET / HTTP/1.1\r\n\r\n');
          return firstLine(client);
        },
        () => '',
      );
      const accepted = await server.next();
      assert.equal(accepted.result.ok, false);
      if (!accepted.result.ok) {
        assert.equal(accepted.result.error.code, 'SHIPHUB_ERR_CERT_INVALID');
        assert.match(accepted.result.error.message, /the peer presented no client certificate/);
      }
      assert.equal(answer, '', `no answer at ${maxVersion}`);
    }
  });

  for (const kind of ['wrong', 'missing', 'short', 'rsa'] as const) {
    it(`server refuses a client certificate of kind "${kind}"`, async () => {
      const cert = await testCertificate(kind);
      const client = await connectShipTls({
        host: '127.0.0.1',
        port: server.port,
        ctx: foreignContext(cert),
      });
      client.on('error', () => undefined);
      const accepted = await server.next();
      assert.equal(accepted.result.ok, false);
      if (!accepted.result.ok) assert.equal(accepted.result.error.code, 'SHIPHUB_ERR_CERT_INVALID');
      assert.equal(await firstLine(client), '');
    });
  }

  it('client refuses a server whose SKI extension does not match its key (checklist item 6)', async () => {
    const wrong = await testCertificate('wrong');
    const spoofing = await startServer(createShipTlsContext(wrong));
    try {
      const client = await connectShipTls({ host: '127.0.0.1', port: spoofing.port, ctx: ctxB });
      const result = peerSkiOf(client, { expectedSki: wrong.extensionHex as Ski });
      assert.equal(result.ok, false);
      if (!result.ok) assert.equal(result.error.code, 'SHIPHUB_ERR_CERT_INVALID');
      client.destroy();
    } finally {
      await spoofing.close();
    }
  });

  it('client refuses a server with another SKI than expected (checklist item 7)', async () => {
    const client = await connectShipTls({ host: '127.0.0.1', port: server.port, ctx: ctxB });
    try {
      const other = await testIdentity('c');
      const result = peerSkiOf(client, { expectedSki: other.ski });
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.error.code, 'SHIPHUB_ERR_SKI_MISMATCH');
        assert.ok(result.error.message.includes(a.ski) && result.error.message.includes(other.ski));
      }
      await server.next();
    } finally {
      client.destroy();
    }
  });

  it('refuses a connection to ourselves', async () => {
    const client = await connectShipTls({ host: '127.0.0.1', port: server.port, ctx: ctxA });
    client.on('error', () => undefined);
    const accepted = await server.next();
    assert.equal(accepted.result.ok, false);
    if (!accepted.result.ok)
      assert.equal(accepted.result.error.code, 'SHIPHUB_ERR_SELF_CONNECTION');
    client.destroy();
  });

  it('accepts a legacy certificate only with the opt-in, by its extension', async () => {
    const legacy = await testCertificate('legacy');
    const lenient = await startServer(ctxA, { acceptLegacySki: true });
    try {
      const client = await connectShipTls({
        host: '127.0.0.1',
        port: lenient.port,
        ctx: foreignContext(legacy),
      });
      assert.deepEqual((await lenient.next()).result, {
        ok: true,
        ski: legacy.extensionHex,
        legacy: true,
        keySha256: keySha256Of(legacy.certificatePem),
      });
      client.destroy();
      const strict = await connectShipTls({
        host: '127.0.0.1',
        port: server.port,
        ctx: foreignContext(legacy),
      });
      strict.on('error', () => undefined);
      assert.equal((await server.next()).result.ok, false);
      strict.destroy();
    } finally {
      await lenient.close();
    }
  });

  it('accepts an Elli certificate (BOOLEAN TRUE encoded as 0x01) through OpenSSL', async () => {
    const elli = await testCertificate('elli');
    const client = await connectShipTls({
      host: '127.0.0.1',
      port: server.port,
      ctx: foreignContext(elli),
    });
    try {
      assert.deepEqual((await server.next()).result, {
        ok: true,
        ski: elli.keySki,
        legacy: false,
        keySha256: keySha256Of(elli.certificateDer),
      });
    } finally {
      client.destroy();
    }
  });

  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`never resumes a session, so the client certificate is checked every time (${maxVersion})`, async () => {
      // A client that asks for resumption (plain Node context, tickets allowed).
      const resumer = foreignContext(b, { maxVersion });
      const first = await plainConnect(server.port, resumer);
      const session = await new Promise<Buffer | undefined>((resolve) => {
        let last: Buffer | undefined;
        first.on('session', (s: Buffer) => (last = s));
        first.on('data', () => undefined);
        first.once('close', () => resolve(last));
        setImmediate(() => first.end());
      });
      assert.equal((await server.next()).result.ok, true);
      const second = await plainConnect(
        server.port,
        resumer,
        session === undefined ? {} : { session },
      );
      try {
        assert.equal(second.isSessionReused(), false);
        assert.deepEqual((await server.next()).result, {
          ok: true,
          ski: b.ski,
          legacy: false,
          keySha256: keySha256Of(b.certificatePem),
        });
        assert.equal(second.getTLSTicket(), undefined, 'no TLS 1.2 ticket was issued');
      } finally {
        second.destroy();
      }
    });
  }

  it('refuses TLS 1.2 renegotiation', async () => {
    const renegotiator = foreignContext(b, { maxVersion: 'TLSv1.2' });
    const client = await plainConnect(server.port, renegotiator);
    await server.next();
    const failure = await new Promise<Error>((resolve) => {
      client.once('error', resolve);
      client.renegotiate({ rejectUnauthorized: false }, (error) => {
        if (error) resolve(error);
      });
      client.write('ping');
    });
    assert.match(failure.message, /renegotiation/);
    client.destroy();
  });
});

describe('connectShipTls failures', () => {
  let ctx: ShipTlsContext;
  let silent: SilentServer;
  let silentPort: number;

  before(async () => {
    ctx = createShipTlsContext(await testIdentity('b'));
    // Accepts TCP and never answers the ClientHello.
    silent = await startSilentServer();
    silentPort = silent.port;
  });
  after(() => silent.stop());

  it('times out with SHIPHUB_ERR_CONNECT_TIMEOUT (virtual clock)', async () => {
    const clock = new FakeClock();
    let tcpConnected!: () => void;
    const connected = new Promise<void>((resolve) => (tcpConnected = resolve));
    const pending = connectShipTls({
      host: '127.0.0.1',
      port: silentPort,
      ctx,
      timeoutMs: 5000,
      clock,
      onTcpConnected: () => tcpConnected(),
    });
    // The deadline covers TLS too: let TCP connect, then the silent server never answers.
    await connected;
    clock.advance(5000);
    await assert.rejects(
      pending,
      (error: unknown) =>
        error instanceof TimeoutError &&
        error.code === 'SHIPHUB_ERR_CONNECT_TIMEOUT' &&
        error.message.includes(`127.0.0.1:${silentPort}`),
    );
  });

  it('rejects with the abort reason', async () => {
    const controller = new AbortController();
    const pending = connectShipTls({
      host: '127.0.0.1',
      port: silentPort,
      ctx,
      signal: controller.signal,
    });
    const reason = new Error('shutting down');
    controller.abort(reason);
    await assert.rejects(pending, (error: unknown) => error === reason);
    await assert.rejects(
      connectShipTls({ host: '127.0.0.1', port: silentPort, ctx, signal: controller.signal }),
      (error: unknown) => error === reason,
    );
  });

  it('names the target when the connection is refused', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      connectShipTls({ host: '127.0.0.1', port, ctx }),
      (error: unknown) =>
        error instanceof TransportError &&
        error.code === 'SHIPHUB_ERR_TRANSPORT' &&
        error.message.startsWith(`TLS connection to 127.0.0.1:${port} failed: `),
    );
  });

  it('rejects (does not throw) for an unusable port', async () => {
    await assert.rejects(
      connectShipTls({ host: '127.0.0.1', port: 70000, ctx }),
      (error: unknown) =>
        error instanceof TransportError && /cannot connect to/.test(error.message),
    );
  });

  it('reports a peer that closes during the handshake', async () => {
    const closer = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => closer.listen(0, '127.0.0.1', resolve));
    try {
      await assert.rejects(
        connectShipTls({
          host: '127.0.0.1',
          port: (closer.address() as net.AddressInfo).port,
          ctx,
        }),
        (error: unknown) => error instanceof TransportError,
      );
    } finally {
      closer.close();
    }
  });
});
