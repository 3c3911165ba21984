import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  inspectCertificate,
  skiOfPublicKey,
  verifyPeerCertificate,
  type PeerCertificateResult,
} from '../../../src/trust/certificate.js';
import { createIdentity } from '../../../src/trust/identity.js';
import { TrustError } from '../../../src/ship/errors.js';
import type { Ski } from '../../../src/ship/ski.js';
import {
  haveOpenssl,
  openssl,
  tempDir,
  testCertificate,
  testIdentity,
  VECTOR_PUBLIC_POINT_HEX,
  VECTOR_SKI,
  vectorPrivateKey,
  keySha256Of,
} from '../../helpers/certs.js';

function refused(result: PeerCertificateResult): TrustError {
  assert.equal(result.ok, false, 'expected the certificate to be refused');
  if (result.ok) throw new Error('unreachable');
  assert.ok(result.error instanceof TrustError);
  return result.error;
}

describe('SKI test vector (protocol reference §1.1, checklist item 1)', () => {
  it('the P-256 key d = 1 has SKI b467a399...', () => {
    const spki = createPublicKey(vectorPrivateKey()).export({ type: 'spki', format: 'der' });
    assert.equal(spki.subarray(-65).toString('hex'), VECTOR_PUBLIC_POINT_HEX);
    assert.equal(skiOfPublicKey(spki), VECTOR_SKI);
  });

  it('a certificate issued for d = 1 carries the vector SKI in its extension', async () => {
    const pem = vectorPrivateKey().export({ type: 'pkcs8', format: 'pem' }) as string;
    const identity = await createIdentity({ commonName: 'vector', privateKeyPem: pem });
    assert.equal(identity.ski, VECTOR_SKI);
    const info = inspectCertificate(identity.certificateDer);
    assert.equal(info.extensionSki, VECTOR_SKI);
    assert.equal(info.ski, VECTOR_SKI);
    assert.deepEqual(verifyPeerCertificate(identity.certificateDer), {
      ok: true,
      ski: VECTOR_SKI,
      legacy: false,
      keySha256: keySha256Of(identity.certificateDer),
    });
  });

  it('skiOfPublicKey refuses what is not a SubjectPublicKeyInfo', () => {
    assert.throws(
      () => skiOfPublicKey(new Uint8Array([1, 2, 3])),
      (e: unknown) => e instanceof TrustError && e.code === 'SHIPHUB_ERR_CERT_INVALID',
    );
  });
});

describe('inspectCertificate', () => {
  it('describes our own certificate', async () => {
    const identity = await testIdentity('a');
    const info = inspectCertificate(identity.certificateDer);
    assert.equal(info.keyType, 'ec');
    assert.equal(info.curve, 'P-256');
    assert.equal(info.signatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(info.extensionLength, 20);
    assert.equal(info.extensionMatchesKey, true);
    assert.equal(info.selfIssued, true);
    assert.match(info.subject, /CN=test-a/);
    const node = new X509Certificate(identity.certificateDer);
    assert.equal(info.fingerprintSha256, node.fingerprint256);
    assert.equal(info.notAfter.getTime(), new Date(node.validTo).getTime());
    assert.equal(info.notBefore.getTime(), new Date(node.validFrom).getTime());
    assert.equal(info.serialNumber.toUpperCase(), node.serialNumber.toUpperCase());
  });

  it('reports a mismatching, a short and a missing extension', async () => {
    const wrong = await testCertificate('wrong');
    const w = inspectCertificate(wrong.certificateDer);
    assert.equal(w.ski, wrong.keySki);
    assert.equal(w.extensionSki, wrong.extensionHex);
    assert.equal(w.extensionMatchesKey, false);

    const short = inspectCertificate((await testCertificate('short')).certificateDer);
    assert.equal(short.extensionLength, 8);
    assert.equal(short.extensionHex, '0102030405060708');
    assert.equal(short.extensionSki, undefined);

    const missing = inspectCertificate((await testCertificate('missing')).certificateDer);
    assert.equal(missing.extensionLength, undefined);
    assert.equal(missing.extensionMatchesKey, false);
  });

  it('reads RSA and P-384 keys', async () => {
    const rsa = inspectCertificate((await testCertificate('rsa')).certificateDer);
    assert.equal(rsa.keyType, 'rsa');
    assert.equal(rsa.curve, undefined);
    assert.equal(rsa.signatureAlgorithm, 'sha256WithRSAEncryption');
    const p384 = inspectCertificate((await testCertificate('p384')).certificateDer);
    assert.equal(p384.curve, 'P-384');
  });

  it('is lenient about the Elli BOOLEAN encoding (0x01 for TRUE)', async () => {
    const elli = await testCertificate('elli');
    const der = Buffer.from(elli.certificateDer);
    assert.ok(der.includes(Buffer.from([0x01, 0x01, 0x01])), 'the quirk is in the test cert');
    assert.ok(!der.includes(Buffer.from([0x01, 0x01, 0xff])), 'no DER TRUE is left');
    const info = inspectCertificate(elli.certificateDer);
    assert.equal(info.ski, elli.keySki);
    assert.equal(info.extensionMatchesKey, true);
    assert.deepEqual(verifyPeerCertificate(elli.certificateDer), {
      ok: true,
      ski: elli.keySki,
      legacy: false,
      keySha256: keySha256Of(elli.certificateDer),
    });
  });

  it('throws a TrustError for garbage', () => {
    assert.throws(
      () => inspectCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01])),
      (e: unknown) => e instanceof TrustError && e.code === 'SHIPHUB_ERR_CERT_INVALID',
    );
  });
});

describe('verifyPeerCertificate (SHIP §12.2, checklist items 6-7)', () => {
  it('accepts a good certificate and returns the SKI of its key', async () => {
    const identity = await testIdentity('a');
    assert.deepEqual(verifyPeerCertificate(identity.certificateDer), {
      ok: true,
      ski: identity.ski,
      legacy: false,
      keySha256: keySha256Of(identity.certificateDer),
    });
    assert.deepEqual(
      verifyPeerCertificate(identity.certificateDer, { expectedSki: identity.ski }),
      {
        ok: true,
        ski: identity.ski,
        legacy: false,
        keySha256: keySha256Of(identity.certificateDer),
      },
    );
  });

  it('refuses a certificate without SubjectKeyIdentifier', async () => {
    const cert = await testCertificate('missing');
    const error = refused(verifyPeerCertificate(cert.certificateDer));
    assert.equal(error.code, 'SHIPHUB_ERR_CERT_INVALID');
    assert.match(error.message, /without a SubjectKeyIdentifier/);
    assert.ok(error.message.includes(cert.keySki), 'names the SKI its key would have');
  });

  it('refuses an 8-byte SubjectKeyIdentifier', async () => {
    const cert = await testCertificate('short');
    const error = refused(verifyPeerCertificate(cert.certificateDer));
    assert.equal(error.code, 'SHIPHUB_ERR_CERT_INVALID');
    assert.match(error.message, /8 bytes \(0102030405060708\).*20 bytes/);
  });

  it('refuses an extension that is not SHA-1 of the key, even with the right expectation', async () => {
    const cert = await testCertificate('wrong');
    for (const options of [{}, { expectedSki: cert.extensionHex as Ski }]) {
      const error = refused(verifyPeerCertificate(cert.certificateDer, options));
      assert.equal(error.code, 'SHIPHUB_ERR_CERT_INVALID');
      assert.ok(error.message.includes(cert.extensionHex!), 'names the claimed SKI');
      assert.ok(error.message.includes(cert.keySki), 'names the SKI of the key');
      assert.match(error.hint ?? '', /legacy SKI option/);
    }
  });

  it('accepts a legacy certificate by its extension only when opted in', async () => {
    const cert = await testCertificate('legacy');
    refused(verifyPeerCertificate(cert.certificateDer));
    assert.deepEqual(verifyPeerCertificate(cert.certificateDer, { acceptLegacySki: true }), {
      ok: true,
      ski: cert.extensionHex,
      legacy: true,
      keySha256: keySha256Of(cert.certificateDer),
    });
    // The opt-in does not relax the other checks.
    const short = await testCertificate('short');
    refused(verifyPeerCertificate(short.certificateDer, { acceptLegacySki: true }));
    // A conformant certificate is not reported as legacy when the option is on.
    const good = await testIdentity('a');
    assert.deepEqual(verifyPeerCertificate(good.certificateDer, { acceptLegacySki: true }), {
      ok: true,
      ski: good.ski,
      legacy: false,
      keySha256: keySha256Of(good.certificateDer),
    });
  });

  it('refuses an RSA key', async () => {
    const cert = await testCertificate('rsa');
    const error = refused(verifyPeerCertificate(cert.certificateDer));
    assert.equal(error.code, 'SHIPHUB_ERR_CERT_INVALID');
    assert.match(error.message, /RSA key.*ECDSA/);
  });

  it('refuses ECDSA on another curve (P-384): SHIP §9.1 prescribes secp256r1', async () => {
    const cert = await testCertificate('p384');
    const error = refused(verifyPeerCertificate(cert.certificateDer));
    assert.equal(error.code, 'SHIPHUB_ERR_CERT_INVALID');
    assert.match(error.message, /P-384.*secp256r1 \(P-256\)/);
  });

  it('refuses two SubjectKeyIdentifier extensions', async () => {
    const cert = await testCertificate('duplicate');
    const error = refused(verifyPeerCertificate(cert.certificateDer));
    assert.match(error.message, /2 SubjectKeyIdentifier extensions/);
  });

  it('refuses our own SKI (self connection)', async () => {
    const identity = await testIdentity('a');
    const error = refused(verifyPeerCertificate(identity.certificateDer, { ownSki: identity.ski }));
    assert.equal(error.code, 'SHIPHUB_ERR_SELF_CONNECTION');
    assert.ok(error.message.includes(identity.ski));
  });

  it('refuses an SKI other than the expected one', async () => {
    const identity = await testIdentity('a');
    const other = await testIdentity('b');
    const error = refused(
      verifyPeerCertificate(identity.certificateDer, { expectedSki: other.ski }),
    );
    assert.equal(error.code, 'SHIPHUB_ERR_SKI_MISMATCH');
    assert.ok(error.message.includes(identity.ski), 'names what the peer presented');
    assert.ok(error.message.includes(other.ski), 'names what we expected');
    assert.match(error.hint ?? '', /re-pair/);
  });

  it('refuses garbage without throwing', () => {
    for (const der of [new Uint8Array(0), new Uint8Array([0x30, 0x80]), new Uint8Array(64)]) {
      assert.equal(refused(verifyPeerCertificate(der)).code, 'SHIPHUB_ERR_CERT_INVALID');
    }
  });

  it('never throws on truncated or corrupted certificates', async () => {
    const der = (await testIdentity('a')).certificateDer;
    for (let cut = 0; cut < der.length; cut += 7) {
      const result = verifyPeerCertificate(der.subarray(0, cut));
      assert.equal(result.ok, false);
    }
    for (let i = 0; i < der.length; i += 3) {
      const copy = new Uint8Array(der);
      copy[i] = copy[i]! ^ 0xff;
      verifyPeerCertificate(copy); // must not throw, whatever it decides
    }
  });
});

describe('the one-pass identity walk of verifyPeerCertificate', () => {
  // verifyPeerCertificate decodes only what identifies a peer (it runs on every handshake);
  // inspectCertificate decodes everything from the same walk. On any input both must see the
  // same key and the same SubjectKeyIdentifier.
  function agree(der: Uint8Array): void {
    let info: ReturnType<typeof inspectCertificate> | undefined;
    try {
      info = inspectCertificate(der);
    } catch {
      info = undefined;
    }
    const result = verifyPeerCertificate(der, { acceptLegacySki: true });
    if (
      info === undefined ||
      info.keyType !== 'ec' ||
      info.curve !== 'P-256' ||
      info.extensionLength !== 20
    ) {
      // The full walk found a problem that makes the certificate unusable for SHIP (or the
      // identity walk found one in a field the full walk does not look at).
      if (info !== undefined && (info.keyType !== 'ec' || info.curve !== 'P-256')) {
        assert.equal(result.ok, false);
      }
      return;
    }
    assert.equal(result.ok, true, 'readable EC certificate with a 20-byte SKI');
    if (result.ok) {
      assert.equal(result.ski, info.extensionMatchesKey ? info.ski : info.extensionSki);
      assert.equal(result.legacy, !info.extensionMatchesKey);
    }
  }

  it('agrees with the full walk on valid, legacy, RSA, P-384 and mutated certificates', async () => {
    const ders = [
      (await testIdentity('a')).certificateDer,
      (await testCertificate('legacy')).certificateDer,
      (await testCertificate('rsa')).certificateDer,
      (await testCertificate('p384')).certificateDer,
    ];
    let readable = 0;
    for (const der of ders) {
      agree(der);
      for (let i = 0; i < der.length; i++) {
        for (const flip of [0x01, 0x80]) {
          const copy = new Uint8Array(der);
          copy[i] = copy[i]! ^ flip;
          agree(copy);
          if (verifyPeerCertificate(copy, { acceptLegacySki: true }).ok) readable += 1;
        }
      }
    }
    // Most single-bit flips land in names, dates or signatures, which neither walk needs.
    assert.ok(readable > 500, `only ${readable} mutated certificates were readable`);
  });
});

describe('agreement with OpenSSL', { skip: !haveOpenssl() && 'openssl is not installed' }, () => {
  it("OpenSSL's subjectKeyIdentifier=hash gives the same SKI as our key hash", () => {
    const dir = tempDir();
    try {
      const key = join(dir.path, 'k.pem');
      const cert = join(dir.path, 'c.pem');
      openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        '/CN=openssl',
        '-days',
        '1',
        '-addext',
        'subjectKeyIdentifier=hash',
      ]);
      const der = new X509Certificate(readFileSync(cert)).raw;
      const info = inspectCertificate(der);
      assert.equal(info.extensionMatchesKey, true);
      assert.deepEqual(verifyPeerCertificate(der), {
        ok: true,
        ski: info.ski,
        legacy: false,
        keySha256: keySha256Of(der),
      });
    } finally {
      dir.remove();
    }
  });

  it('OpenSSL prints the SKI extension of our certificate as our SKI', async () => {
    const identity = await testIdentity('a');
    const text = openssl(
      ['x509', '-noout', '-ext', 'subjectKeyIdentifier'],
      identity.certificatePem,
    );
    const printed = /\n\s*([0-9A-F:]{59})/.exec(text)?.[1]?.replace(/:/g, '').toLowerCase();
    assert.equal(printed, identity.ski);
  });
});
