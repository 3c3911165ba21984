/**
 * What our TLS puts on the wire, seen by a TCP proxy that parses TLS record headers:
 * SHIP §9.2 record size (outgoing TLSPlaintext.length <= 1024, handshake included), and the
 * ClientHello's SNI (SHIP §9.4) and ALPN (none).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import {
  connectShipTls,
  createShipTlsContext,
  SHIP_MAX_SEND_FRAGMENT_BYTES,
  wrapServerSocket,
  type ShipTlsContext,
} from '../../../src/transport/tls.js';
import type { NodeIdentity } from '../../../src/trust/identity.js';
import { testCertificate, testIdentity, type TestCertificate } from '../../helpers/certs.js';

const RECORD_HANDSHAKE = 22;
const RECORD_APPLICATION_DATA = 23;
/** Per-record overhead we allow on top of 1024 bytes of plaintext (IV, MAC, tag, padding). */
const RECORD_OVERHEAD_ALLOWANCE = 256;
const PAYLOAD_BYTES = 20 * 1024;

interface TlsRecord {
  readonly type: number;
  readonly length: number;
}

interface Capture {
  /** Records from the client to the server. */
  readonly up: TlsRecord[];
  /** Records from the server to the client. */
  readonly down: TlsRecord[];
  /** Raw bytes of the first client record (the ClientHello). */
  clientHello?: Buffer;
}

/** A TCP proxy that splits each direction into TLS records (header: type, version, length). */
async function startProxy(targetPort: number): Promise<{
  port: number;
  captures: Capture[];
  close(): Promise<void>;
}> {
  const captures: Capture[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((down) => {
    const capture: Capture = { up: [], down: [] };
    captures.push(capture);
    const up = net.connect(targetPort, '127.0.0.1');
    for (const socket of [down, up]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        down.destroy();
        up.destroy();
      });
    }
    const parser = (records: TlsRecord[], first: boolean) => {
      let buffered = Buffer.alloc(0);
      return (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 5) {
          const length = buffered.readUInt16BE(3);
          if (buffered.length < 5 + length) break;
          if (first && capture.clientHello === undefined) {
            capture.clientHello = Buffer.from(buffered.subarray(0, 5 + length));
          }
          records.push({ type: buffered[0]!, length });
          buffered = buffered.subarray(5 + length);
        }
      };
    };
    down.on('data', parser(capture.up, true));
    up.on('data', parser(capture.down, false));
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    captures,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}

/**
 * A server that, once the client has sent PAYLOAD_BYTES, answers with PAYLOAD_BYTES in one
 * write and closes. `capped: false` builds a plain TLSSocket without the SHIP record cap (the
 * control case that proves the proxy sees large records when they happen).
 */
async function startBulkServer(
  ctx: ShipTlsContext,
  capped = true,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const socket = capped
      ? wrapServerSocket(raw, ctx)
      : new tls.TLSSocket(raw, {
          isServer: true,
          secureContext: ctx.secureContext,
          requestCert: true,
          rejectUnauthorized: false,
        });
    socket.on('error', () => undefined);
    let received = 0;
    socket.on('data', (data: Buffer) => {
      received += data.length;
      if (received >= PAYLOAD_BYTES) socket.end(Buffer.alloc(PAYLOAD_BYTES, 0x5a));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function restricted(
  material: Pick<NodeIdentity, 'certificatePem' | 'privateKeyPem' | 'ski'> | TestCertificate,
  options: tls.SecureContextOptions,
): ShipTlsContext {
  return {
    secureContext: tls.createSecureContext({
      key: material.privateKeyPem,
      cert: material.certificatePem,
      ...options,
    }),
    ski: material.ski,
    ciphers: options.ciphers ?? '',
  };
}

/** Runs one exchange through the proxy: 20 KB up in one write, 20 KB down in one write. */
async function exchange(
  serverCtx: ShipTlsContext,
  clientCtx: ShipTlsContext,
  serverCapped = true,
): Promise<{ capture: Capture; protocol: string | null; cipher: string; received: number }> {
  const server = await startBulkServer(serverCtx, serverCapped);
  const proxy = await startProxy(server.port);
  try {
    const client = await connectShipTls({ host: '127.0.0.1', port: proxy.port, ctx: clientCtx });
    const protocol = client.getProtocol();
    const cipher = client.getCipher().name;
    let received = 0;
    client.on('data', (data: Buffer) => (received += data.length));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.write(Buffer.alloc(PAYLOAD_BYTES, 0xa5));
    await closed;
    // Let the proxy parse the last chunks.
    await new Promise((resolve) => setImmediate(resolve));
    const capture = proxy.captures[0];
    assert.ok(capture, 'the proxy saw the connection');
    return { capture, protocol, cipher, received };
  } finally {
    await proxy.close();
    await server.close();
  }
}

function assertCapped(records: readonly TlsRecord[], direction: string, plaintext: boolean): void {
  for (const record of records) {
    const limit =
      plaintext && record.type === RECORD_HANDSHAKE
        ? SHIP_MAX_SEND_FRAGMENT_BYTES
        : SHIP_MAX_SEND_FRAGMENT_BYTES + RECORD_OVERHEAD_ALLOWANCE;
    assert.ok(
      record.length <= limit,
      `${direction}: record of type ${record.type} has ${record.length} bytes (limit ${limit})`,
    );
  }
}

function sum(records: readonly TlsRecord[], type: number): { count: number; bytes: number } {
  const matching = records.filter((r) => r.type === type);
  return { count: matching.length, bytes: matching.reduce((total, r) => total + r.length, 0) };
}

describe('SHIP §9.2: every record we send carries at most 1024 bytes of plaintext', () => {
  let a: NodeIdentity;
  let b: NodeIdentity;
  before(async () => {
    a = await testIdentity('a');
    b = await testIdentity('b');
  });

  for (const [label, clientOptions] of [
    ['TLS 1.3', undefined],
    ['TLS 1.2 CBC', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }],
    ['TLS 1.2 GCM', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }],
  ] as const) {
    it(`20 KB in both directions, ${label}`, async () => {
      const clientCtx = clientOptions ? restricted(b, clientOptions) : createShipTlsContext(b);
      const result = await exchange(createShipTlsContext(a), clientCtx);
      assert.equal(result.received, PAYLOAD_BYTES);
      assert.equal(result.protocol, label === 'TLS 1.3' ? 'TLSv1.3' : 'TLSv1.2');
      if (clientOptions) assert.equal(result.cipher, clientOptions.ciphers);
      const plaintextHandshake = label !== 'TLS 1.3';
      assertCapped(result.capture.up, 'client to server', plaintextHandshake);
      assertCapped(result.capture.down, 'server to client', plaintextHandshake);
      // 20 KB needs at least 20 application records each way.
      assert.ok(sum(result.capture.up, RECORD_APPLICATION_DATA).count >= 20);
      assert.ok(sum(result.capture.down, RECORD_APPLICATION_DATA).count >= 20);
    });
  }

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`handshake records are split too: a 3.5 KB certificate on both sides (${version})`, async () => {
      const big = await testCertificate('big');
      assert.ok(big.certificateDer.length > 3 * SHIP_MAX_SEND_FRAGMENT_BYTES);
      const bigCtx = createShipTlsContext(big);
      const clientCtx = restricted(big, { maxVersion: version });
      const result = await exchange(bigCtx, clientCtx);
      assert.equal(result.protocol, version);
      assertCapped(result.capture.up, 'client to server', version === 'TLSv1.2');
      assertCapped(result.capture.down, 'server to client', version === 'TLSv1.2');
      if (version === 'TLSv1.2') {
        // The Certificate messages travel in clear: at least 4 handshake records each way.
        assert.ok(sum(result.capture.down, RECORD_HANDSHAKE).count >= 4);
        assert.ok(sum(result.capture.down, RECORD_HANDSHAKE).bytes > big.certificateDer.length);
        assert.ok(sum(result.capture.up, RECORD_HANDSHAKE).bytes > big.certificateDer.length);
      }
    });
  }

  it('control: without the cap the same proxy sees records above 1024 bytes', async () => {
    const big = await testCertificate('big');
    const result = await exchange(createShipTlsContext(big), createShipTlsContext(b), false);
    const largest = Math.max(...result.capture.down.map((r) => r.length));
    assert.ok(largest > 4 * SHIP_MAX_SEND_FRAGMENT_BYTES, `largest record ${largest}`);
    // Our client is still capped.
    assertCapped(result.capture.up, 'client to server', false);
  });
});

// --- ClientHello ---------------------------------------------------------------------------

/** Extensions of a ClientHello record, by type. */
function clientHelloExtensions(record: Buffer): Map<number, Buffer> {
  let offset = 5; // record header
  assert.equal(record[0], RECORD_HANDSHAKE);
  assert.equal(record[offset], 1, 'handshake type ClientHello');
  offset += 4 + 2 + 32; // handshake header, legacy_version, random
  offset += 1 + record[offset]!; // session id
  offset += 2 + record.readUInt16BE(offset); // cipher suites
  offset += 1 + record[offset]!; // compression methods
  const end = offset + 2 + record.readUInt16BE(offset);
  offset += 2;
  const extensions = new Map<number, Buffer>();
  while (offset < end) {
    const type = record.readUInt16BE(offset);
    const length = record.readUInt16BE(offset + 2);
    extensions.set(type, record.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return extensions;
}

const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

function serverNameOf(record: Buffer): string | undefined {
  const extension = clientHelloExtensions(record).get(EXT_SERVER_NAME);
  if (extension === undefined) return undefined;
  // server_name_list length (2), name type (1) = host_name, name length (2), name.
  assert.equal(extension[2], 0);
  const length = extension.readUInt16BE(3);
  return extension.subarray(5, 5 + length).toString('ascii');
}

describe('ClientHello: SNI (SHIP §9.4) and no ALPN', () => {
  let ctx: ShipTlsContext;
  let server: { port: number; close(): Promise<void> };
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  before(async () => {
    ctx = createShipTlsContext(await testIdentity('b'));
    server = await startBulkServer(createShipTlsContext(await testIdentity('a')));
    proxy = await startProxy(server.port);
  });
  after(async () => {
    await proxy.close();
    await server.close();
  });

  async function helloFor(host: string, servername?: string): Promise<Buffer> {
    const before = proxy.captures.length;
    const socket = await connectShipTls({
      host,
      port: proxy.port,
      ctx,
      ...(servername !== undefined ? { servername } : {}),
    });
    socket.destroy();
    const capture = proxy.captures[before];
    assert.ok(capture?.clientHello, 'ClientHello captured');
    return capture.clientHello;
  }

  it('sends the host name without trailing dot as SNI', async () => {
    const hello = await helloFor('127.0.0.1', 'wallbox-00015609.local.');
    assert.equal(serverNameOf(hello), 'wallbox-00015609.local');
  });

  it('sends no SNI for an IP literal', async () => {
    assert.equal(serverNameOf(await helloFor('127.0.0.1')), undefined);
    assert.equal(serverNameOf(await helloFor('127.0.0.1', '127.0.0.1')), undefined);
  });

  it('offers no ALPN', async () => {
    assert.equal(clientHelloExtensions(await helloFor('127.0.0.1')).has(EXT_ALPN), false);
  });
});
