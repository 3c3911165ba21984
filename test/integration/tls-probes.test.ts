/**
 * Probes a SHIP TLS server (net.createServer + wrapServerSocket + peerSkiOf, refusing peers by
 * destroying the socket) with Debian's `openssl s_client`, an independent TLS implementation:
 * old protocol versions, non-ECDSA suites, missing and spoofed client certificates must be
 * refused before any application byte; a good certificate must get an answer.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createShipTlsContext, peerSkiOf, wrapServerSocket } from '../../src/transport/tls.js';
import type { PeerCertificateResult } from '../../src/trust/certificate.js';
import type { NodeIdentity } from '../../src/trust/identity.js';
import {
  haveOpenssl,
  keySha256Of,
  tempDir,
  testCertificate,
  testIdentity,
} from '../helpers/certs.js';

const PROBE_TIMEOUT_MS = 10_000;
const HTTP_ANSWER = 'HTTP/1.1 200 OK';
const opensslMissing = !haveOpenssl();

interface Probe {
  readonly exitCode: number | null;
  readonly output: string;
}

describe(
  'openssl s_client probes against the SHIP TLS server',
  {
    skip:
      opensslMissing && 'openssl is not installed (apt-get install openssl); TLS probes skipped',
  },
  () => {
    const dir = tempDir('ship-hub-probes-');
    const children = new Set<ChildProcess>();
    const sockets = new Set<net.Socket>();
    const decisions: PeerCertificateResult[] = [];
    let server: net.Server;
    let port: number;
    let serverIdentity: NodeIdentity;
    const files: Record<string, { cert: string; key: string }> = {};

    before(async () => {
      serverIdentity = await testIdentity('a');
      const ctx = createShipTlsContext(serverIdentity);
      server = net.createServer((raw) => {
        sockets.add(raw);
        raw.on('close', () => sockets.delete(raw));
        raw.on('error', () => undefined);
        const socket = wrapServerSocket(raw, ctx);
        socket.on('error', () => undefined);
        socket.once('secure', () => {
          const decision = peerSkiOf(socket, { ownSki: serverIdentity.ski });
          decisions.push(decision);
          if (!decision.ok) {
            socket.destroy();
            return;
          }
          socket.once('data', () => {
            socket.end(`${HTTP_ANSWER}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`);
          });
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as net.AddressInfo).port;

      const good = await testIdentity('b');
      const wrong = await testCertificate('wrong');
      for (const [name, material] of [
        ['good', good],
        ['wrong', wrong],
      ] as const) {
        const cert = join(dir.path, `${name}.crt`);
        const key = join(dir.path, `${name}.key`);
        writeFileSync(cert, material.certificatePem);
        writeFileSync(key, material.privateKeyPem, { mode: 0o600 });
        files[name] = { cert, key };
      }
    });

    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      dir.remove();
    });

    /** Runs s_client, sends an HTTP request, and collects everything it prints. */
    function probe(args: string[], client?: 'good' | 'wrong'): Promise<Probe> {
      const credentials = client ? ['-cert', files[client]!.cert, '-key', files[client]!.key] : [];
      const child = spawn(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', ...credentials, ...args],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      children.add(child);
      let output = '';
      child.stdout.on('data', (data: Buffer) => (output += data.toString()));
      child.stderr.on('data', (data: Buffer) => (output += data.toString()));
      child.stdin.on('error', () => undefined);
      child.stdin.end('GET / HTTP/1.1\r\nHost: ship\r\n\r\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
      return new Promise((resolve) => {
        child.once('close', (exitCode) => {
          clearTimeout(timer);
          children.delete(child);
          resolve({ exitCode, output });
        });
      });
    }

    async function lastDecision(before: number): Promise<PeerCertificateResult | undefined> {
      await new Promise((resolve) => setImmediate(resolve));
      return decisions.length > before ? decisions[decisions.length - 1] : undefined;
    }

    for (const [version, flag] of [
      ['TLS 1.0', '-tls1'],
      ['TLS 1.1', '-tls1_1'],
    ] as const) {
      it(`refuses ${version}`, async () => {
        const seen = decisions.length;
        // SECLEVEL=0 so Debian's client really offers the old version instead of refusing
        // locally ("no protocols available").
        const result = await probe([flag, '-cipher', 'DEFAULT:@SECLEVEL=0'], 'good');
        assert.doesNotMatch(result.output, /no protocols available/);
        assert.match(result.output, /alert protocol version|unsupported protocol|wrong version/i);
        assert.ok(!result.output.includes(HTTP_ANSWER));
        assert.notEqual(result.exitCode, 0);
        assert.equal(await lastDecision(seen), undefined, 'no handshake completed');
      });
    }

    for (const cipher of ['AES128-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256']) {
      it(`refuses the non-ECDSA suite ${cipher} at TLS 1.2`, async () => {
        const seen = decisions.length;
        const result = await probe(['-tls1_2', '-cipher', cipher], 'good');
        assert.match(result.output, /handshake failure/i);
        assert.ok(!result.output.includes(HTTP_ANSWER));
        assert.equal(await lastDecision(seen), undefined, 'no handshake completed');
      });
    }

    for (const flag of ['-tls1_2', '-tls1_3']) {
      it(`refuses a client without certificate before any application byte (${flag})`, async () => {
        const seen = decisions.length;
        const result = await probe([flag]);
        assert.ok(!result.output.includes(HTTP_ANSWER), result.output);
        const decision = await lastDecision(seen);
        assert.ok(decision && !decision.ok, 'the server refused the peer');
        assert.match(decision.error.message, /no client certificate/);
      });

      it(`refuses a certificate whose SKI extension does not match its key (${flag})`, async () => {
        const seen = decisions.length;
        const result = await probe([flag], 'wrong');
        assert.ok(!result.output.includes(HTTP_ANSWER), result.output);
        const decision = await lastDecision(seen);
        assert.ok(decision && !decision.ok, 'the server refused the peer');
        assert.equal(decision.error.code, 'SHIPHUB_ERR_CERT_INVALID');
        assert.match(decision.error.message, /claims SKI/);
      });
    }

    for (const [flag, expected] of [
      [['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256'], /ECDHE-ECDSA-AES128-SHA256/],
      [['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], /ECDHE-ECDSA-AES128-GCM-SHA256/],
      [['-tls1_3'], /TLSv1\.3/],
    ] as const) {
      it(`accepts a good certificate (${flag.join(' ')})`, async () => {
        const seen = decisions.length;
        const result = await probe([...flag], 'good');
        assert.ok(result.output.includes(HTTP_ANSWER), result.output);
        assert.match(result.output, expected);
        const decision = await lastDecision(seen);
        const b = await testIdentity('b');
        assert.deepEqual(decision, {
          ok: true,
          ski: b.ski,
          legacy: false,
          keySha256: keySha256Of(b.certificatePem),
        });
      });
    }
  },
);
