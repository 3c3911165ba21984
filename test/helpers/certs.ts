/**
 * Test certificates: real node identities (cached per process, since key generation and signing
 * cost a few milliseconds each) and deliberately broken certificates for the refusal tests.
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  webcrypto,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadX509, skiOfPublicKey } from '../../src/trust/certificate.js';
import { createIdentity, type NodeIdentity } from '../../src/trust/identity.js';
import { skiFromBytes, type Ski } from '../../src/ship/ski.js';

/** The SKI of the P-256 key d = 1 (protocol reference §1.1). */
export const VECTOR_SKI = 'b467a3999eb5efa671de0032f08a9c9e5efda0e1' as Ski;
/** Uncompressed generator point of P-256 = public key of d = 1. */
export const VECTOR_PUBLIC_POINT_HEX =
  '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296' +
  '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5';

const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');

/** The P-256 private key d = 1, built from its JWK (public point = generator G). */
export function vectorPrivateKey(): KeyObject {
  return createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: b64url('00'.repeat(31) + '01'),
      x: b64url(VECTOR_PUBLIC_POINT_HEX.slice(2, 66)),
      y: b64url(VECTOR_PUBLIC_POINT_HEX.slice(66)),
    },
  });
}

const identities = new Map<string, Promise<NodeIdentity>>();

/** A cached identity per name (same name = same key within one test process). */
export function testIdentity(name = 'a'): Promise<NodeIdentity> {
  let identity = identities.get(name);
  if (identity === undefined) {
    identity = createIdentity({ commonName: `test-${name}`, organization: 'ship-hub tests' });
    identities.set(name, identity);
  }
  return identity;
}

/** A certificate in one of the broken (or odd) variants below, with its key. */
export interface TestCertificate {
  readonly kind: TestCertificateKind;
  readonly certificatePem: string;
  readonly certificateDer: Uint8Array;
  readonly privateKeyPem: string;
  /** SHA-1 of the public key (what a conformant peer identifies it by). */
  readonly keySki: Ski;
  /** The SubjectKeyIdentifier extension value in hex, if any. */
  readonly extensionHex: string | undefined;
  /**
   * What a TLS context for this certificate should call "own SKI": the extension if it is 20
   * bytes, else the key SKI.
   */
  readonly ski: Ski;
}

/**
 * - `wrong`: P-256, SKI extension = SHA-1 of something else (a spoofed identity).
 * - `legacy`: P-256, SKI extension = SHA-1 of the SEC1 private key DER (old ship-go / evcc).
 * - `missing`: P-256 without SubjectKeyIdentifier extension.
 * - `short`: P-256 with an 8-byte SubjectKeyIdentifier.
 * - `duplicate`: two SubjectKeyIdentifier extensions (correct one first).
 * - `rsa`: RSA 2048 key with a correct method-1 SKI.
 * - `p384`: ECDSA P-384 with a correct SKI.
 * - `elli`: a correct P-256 certificate whose BOOLEAN TRUE values are encoded as 0x01.
 * - `big`: a correct P-256 certificate padded to about 4 KB with a SubjectAlternativeName
 *   (to see how handshake records are fragmented).
 */
export type TestCertificateKind =
  'wrong' | 'legacy' | 'missing' | 'short' | 'duplicate' | 'rsa' | 'p384' | 'elli' | 'big';

const crypto = webcrypto;

const certificates = new Map<TestCertificateKind, Promise<TestCertificate>>();

/** A cached broken certificate of the given kind. */
export function testCertificate(kind: TestCertificateKind): Promise<TestCertificate> {
  let certificate = certificates.get(kind);
  if (certificate === undefined) {
    certificate = buildCertificate(kind);
    certificates.set(kind, certificate);
  }
  return certificate;
}

/**
 * A fresh P-256 certificate whose SubjectKeyIdentifier extension claims `ski` while its key is
 * another: an impostor of a paired device where legacy SKIs are accepted (SKIs are public).
 */
export function certificateClaiming(ski: Ski): Promise<TestCertificate> {
  return buildCertificate('wrong', ski);
}

async function generateKeys(kind: TestCertificateKind): Promise<webcrypto.CryptoKeyPair> {
  if (kind === 'rsa') {
    return crypto.subtle.generateKey(
      {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      },
      true,
      ['sign', 'verify'],
    );
  }
  const namedCurve = kind === 'p384' ? 'P-384' : 'P-256';
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign', 'verify']);
}

async function buildCertificate(
  kind: TestCertificateKind,
  claimedSki?: Ski,
): Promise<TestCertificate> {
  const x509 = await loadX509();
  const keys = await generateKeys(kind);
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keySki = skiOfPublicKey(spki);

  const sha1 = (data: Uint8Array | string) => createHash('sha1').update(data).digest('hex');
  const extensions: InstanceType<typeof x509.Extension>[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.BasicConstraintsExtension(true, undefined, true),
  ];
  let extensionHex: string | undefined = keySki;
  switch (kind) {
    case 'wrong':
      extensionHex = claimedSki ?? sha1('somebody else');
      break;
    case 'legacy':
      extensionHex = sha1(privateKey.export({ type: 'sec1', format: 'der' }));
      break;
    case 'missing':
      extensionHex = undefined;
      break;
    case 'short':
      extensionHex = '0102030405060708';
      break;
    case 'duplicate':
      extensions.push(new x509.SubjectKeyIdentifierExtension(sha1('second identity')));
      break;
    case 'big': {
      const names = Array.from({ length: 120 }, (_, i) => ({
        type: 'dns' as const,
        value: `host-${String(i).padStart(3, '0')}.padding.example`,
      }));
      extensions.push(new x509.SubjectAlternativeNameExtension(names));
      break;
    }
    case 'rsa':
    case 'p384':
    case 'elli':
      break;
  }
  if (extensionHex !== undefined) {
    extensions.unshift(new x509.SubjectKeyIdentifierExtension(extensionHex));
  }
  const signingAlgorithm =
    kind === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5' }
      : { name: 'ECDSA', hash: kind === 'p384' ? 'SHA-384' : 'SHA-256' };
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01' + sha1(kind).slice(0, 14),
      name: [{ CN: [`broken-${kind}`] }],
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      signingAlgorithm,
      keys,
      extensions,
    },
    crypto,
  );
  let der: Uint8Array = new Uint8Array(certificate.rawData);
  if (kind === 'elli') der = elliQuirk(der, privateKey);
  const certificatePem = toPem(der);
  return {
    kind,
    certificatePem,
    certificateDer: der,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    keySki,
    extensionHex,
    ski: extensionHex !== undefined && extensionHex.length === 40 ? (extensionHex as Ski) : keySki,
  };
}

/**
 * What verifyPeerCertificate reports as `keySha256` for a P-256 certificate: SHA-256 of the EC
 * point, the last 65 bytes of its SubjectPublicKeyInfo (computed here with Node's X.509 parser).
 */
export function keySha256Of(certificate: string | Uint8Array): string {
  const spki = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256')
    .update(spki.subarray(spki.length - 65))
    .digest('hex');
}

/** PEM of a certificate DER. */
export function toPem(der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}

// --- tiny DER helpers for the Elli variant ---------------------------------------------------

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derElement(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** Offsets of the children of the outer SEQUENCE of `der`. */
function topLevelChildren(der: Uint8Array): { start: number; end: number }[] {
  const read = (offset: number) => {
    let length = der[offset + 1]!;
    let header = 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
      header += count;
    }
    return { header, end: offset + header + length };
  };
  const outer = read(0);
  const out: { start: number; end: number }[] = [];
  for (let offset = outer.header; offset < outer.end;) {
    const child = read(offset);
    out.push({ start: offset, end: child.end });
    offset = child.end;
  }
  return out;
}

/**
 * Re-encodes every `01 01 FF` (BOOLEAN TRUE) in the TBSCertificate as `01 01 01`, as Elli
 * wallboxes do, and signs the result again so the certificate stays valid for TLS.
 */
function elliQuirk(der: Uint8Array, key: KeyObject): Uint8Array {
  const [tbsRange, algRange] = topLevelChildren(der);
  const tbs = Buffer.from(der.subarray(tbsRange!.start, tbsRange!.end));
  // Only inside the extensions (they follow the public key, whose random bytes must stay).
  const extensionsStart = tbs.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x1d]));
  if (extensionsStart < 0) throw new Error('no extensions to patch');
  let patched = 0;
  for (let i = extensionsStart; i + 2 < tbs.length; i++) {
    if (tbs[i] === 0x01 && tbs[i + 1] === 0x01 && tbs[i + 2] === 0xff) {
      tbs[i + 2] = 0x01;
      patched++;
    }
  }
  if (patched === 0) throw new Error('no BOOLEAN TRUE found to patch');
  const signature = sign('sha256', tbs, key);
  const algorithm = der.subarray(algRange!.start, algRange!.end);
  const bitString = derElement(0x03, Buffer.concat([Buffer.from([0]), signature]));
  return new Uint8Array(derElement(0x30, Buffer.concat([tbs, algorithm, bitString])));
}

/** Copy of {@link skiFromBytes} for hex input, for readable tests. */
export function skiOfHex(hex: string): Ski {
  return skiFromBytes(Buffer.from(hex, 'hex'));
}

// --- openssl ---------------------------------------------------------------------------------

/** True if Debian's `openssl` binary can be run. */
export function haveOpenssl(): boolean {
  const result = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 5000 });
  return result.status === 0;
}

/** Runs `openssl` with a timeout and returns stdout, throwing with stderr on failure. */
export function openssl(args: string[], input?: string): string {
  const result = spawnSync('openssl', args, {
    encoding: 'utf8',
    timeout: 10_000,
    ...(input !== undefined ? { input } : {}),
  });
  if (result.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr || String(result.error)}`);
  }
  return result.stdout;
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix = 'ship-hub-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
