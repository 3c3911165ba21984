import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { loadX509 } from '../../../src/trust/certificate.js';
import {
  createIdentity,
  expiryWarning,
  loadIdentity,
  loadOrCreateIdentity,
  renewCertificate,
  renewIdentity,
  saveIdentity,
  shipIdFrom,
  type NodeIdentity,
} from '../../../src/trust/identity.js';
import { ConfigError } from '../../../src/ship/errors.js';
import { tempDir, testCertificate, testIdentity } from '../../helpers/certs.js';

const DAY_MS = 86_400_000;

function configError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'SHIPHUB_ERR_CONFIG');
    assert.match(error.message, pattern);
    return true;
  };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('createIdentity: own certificate profile (checklist item 2)', () => {
  let identity: NodeIdentity;
  const now = new Date('2026-03-01T12:00:00Z');
  before(async () => {
    identity = await createIdentity({
      commonName: 'EVSE-1234',
      organization: 'Demo',
      organizationalUnit: 'Hub',
      country: 'DE',
      now,
    });
  });

  it('is a self-signed X.509 v3 ECDSA P-256 / SHA-256 certificate', async () => {
    const node = new X509Certificate(identity.certificatePem);
    assert.equal(node.publicKey.asymmetricKeyType, 'ec');
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(node.issuer, node.subject);
    assert.ok(node.verify(node.publicKey), 'signed by its own key');
    assert.ok(node.checkPrivateKey(createPrivateKey(identity.privateKeyPem)));
    // node.ca stays false: OpenSSL's X509_check_ca also wants keyCertSign in KeyUsage, which
    // the SHIP profile (ship-go: digitalSignature only) does not set. Checked below instead.

    const x509 = await loadX509();
    const cert = new x509.X509Certificate(identity.certificateDer);
    const signature = cert.signatureAlgorithm as unknown as {
      name: string;
      hash: { name: string };
    };
    assert.equal(signature.name, 'ECDSA');
    assert.equal(signature.hash.name, 'SHA-256');
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    assert.ok(ski, 'has a SubjectKeyIdentifier');
    assert.equal(ski.keyId.length, 40, '20 bytes');
    assert.equal(ski.keyId, identity.ski);
    const computed = await x509.SubjectKeyIdentifierExtension.create(await cert.publicKey.export());
    assert.equal(computed.keyId, identity.ski, "@peculiar/x509's method-1 hash agrees");
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    assert.equal(usage?.usages, x509.KeyUsageFlags.digitalSignature);
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    assert.equal(constraints?.ca, true);
    assert.match(cert.subject, /CN=EVSE-1234/);
    assert.match(cert.subject, /O=Demo/);
    assert.match(cert.subject, /OU=Hub/);
    assert.match(cert.subject, /C=DE/);
  });

  it('is valid for 10 years from now, with a positive serial', () => {
    assert.equal(identity.notAfter.getTime(), now.getTime() + 3650 * DAY_MS);
    assert.ok(identity.notBefore.getTime() <= now.getTime());
    assert.ok(now.getTime() - identity.notBefore.getTime() <= 10 * 60_000);
    assert.match(identity.serialNumber, /^[0-7][0-9a-f]{31}$/);
    assert.notEqual(identity.serialNumber, '0'.repeat(32));
  });

  it('describes itself consistently', () => {
    const node = new X509Certificate(identity.certificatePem);
    assert.equal(identity.fingerprintSha256, node.fingerprint256);
    assert.equal(identity.subject, node.subject);
    assert.deepEqual(identity.certificateDer, new Uint8Array(node.raw));
    assert.match(identity.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(Object.isFrozen(identity));
  });

  it('gives every identity its own key, SKI and serial', async () => {
    const other = await createIdentity({ commonName: 'EVSE-1234' });
    assert.notEqual(other.ski, identity.ski);
    assert.notEqual(other.serialNumber, identity.serialNumber);
  });

  it('refuses invalid subjects, validity and keys', async () => {
    await assert.rejects(createIdentity({ commonName: '' }), configError(/common name/));
    await assert.rejects(createIdentity({ commonName: 'x'.repeat(65) }), configError(/1 to 64/));
    await assert.rejects(
      createIdentity({ commonName: 'x', country: 'Germany' }),
      configError(/two-letter code/),
    );
    await assert.rejects(
      createIdentity({ commonName: 'x', validityDays: 0 }),
      configError(/whole number of days/),
    );
    const rsa = await testCertificate('rsa');
    await assert.rejects(
      createIdentity({ commonName: 'x', privateKeyPem: rsa.privateKeyPem }),
      configError(/holds an RSA key; SHIP needs an ECDSA key on P-256/),
    );
    const p384 = await testCertificate('p384');
    await assert.rejects(
      createIdentity({ commonName: 'x', privateKeyPem: p384.privateKeyPem }),
      configError(/EC key on secp384r1/),
    );
    await assert.rejects(
      createIdentity({ commonName: 'x', privateKeyPem: 'nonsense' }),
      configError(/not a PEM private key/),
    );
  });

  it('re-issues for an existing key with the same SKI', async () => {
    const again = await createIdentity({
      commonName: 'other name',
      privateKeyPem: identity.privateKeyPem,
    });
    assert.equal(again.ski, identity.ski);
    assert.notEqual(again.serialNumber, identity.serialNumber);
  });
});

describe('saving and loading', () => {
  const dir = tempDir();
  after(() => dir.remove());
  let n = 0;
  const paths = () => {
    n++;
    return {
      certPath: join(dir.path, `case${n}`, 'cert.pem'),
      keyPath: join(dir.path, `case${n}`, 'private', 'key.pem'),
    };
  };

  it('round-trips and keeps the SKI; key 0600 in a 0700 directory, cert 0644', async () => {
    const identity = await testIdentity('a');
    const { certPath, keyPath } = paths();
    await saveIdentity(identity, certPath, keyPath);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(certPath).mode & 0o777, 0o644);
    assert.equal(statSync(join(keyPath, '..')).mode & 0o777, 0o700);
    const loaded = await loadIdentity(certPath, keyPath);
    assert.equal(loaded.ski, identity.ski);
    assert.equal(loaded.certificatePem, identity.certificatePem);
    assert.equal(loaded.privateKeyPem, identity.privateKeyPem);
    assert.equal(loaded.notAfter.getTime(), identity.notAfter.getTime());
    assert.equal(loaded.fingerprintSha256, identity.fingerprintSha256);
    // No temporary files are left behind.
    assert.deepEqual(readdirSync(join(keyPath, '..')), ['key.pem']);
  });

  it('overwrites atomically and keeps exact modes', async () => {
    const { certPath, keyPath } = paths();
    await saveIdentity(await testIdentity('a'), certPath, keyPath);
    await saveIdentity(await testIdentity('b'), certPath, keyPath);
    assert.equal((await loadIdentity(certPath, keyPath)).ski, (await testIdentity('b')).ski);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  });

  it('a key path that is a directory is reported as a directory, not as "readable by others"', async () => {
    const { certPath, keyPath } = paths();
    await saveIdentity(await testIdentity('a'), certPath, keyPath);
    const dirKey = join(keyPath, '..', 'keydir');
    mkdirSync(dirKey, { mode: 0o755 });
    await assert.rejects(loadIdentity(certPath, dirKey), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(`private key file ${escape(dirKey)} is a directory`));
      assert.doesNotMatch(error.message, /readable by/);
      return true;
    });
  });

  it('a new identity never replaces files that appeared meanwhile (exclusive create)', async () => {
    const { certPath, keyPath } = paths();
    const first = await testIdentity('a');
    await saveIdentity(first, certPath, keyPath, { exclusive: true });
    const keyBefore = readFileSync(keyPath, 'utf8');
    const certBefore = readFileSync(certPath, 'utf8');
    await assert.rejects(
      saveIdentity(await testIdentity('b'), certPath, keyPath, { exclusive: true }),
      configError(/private key file .* appeared while this identity was being created/),
    );
    assert.equal(readFileSync(keyPath, 'utf8'), keyBefore);
    assert.equal(readFileSync(certPath, 'utf8'), certBefore);
    assert.equal((await loadIdentity(certPath, keyPath)).ski, first.ski);
    assert.deepEqual(readdirSync(join(keyPath, '..')), ['key.pem'], 'no temporary files left');
  });

  it('refuses a key file readable by others, naming the file and the fix', async () => {
    const { certPath, keyPath } = paths();
    await saveIdentity(await testIdentity('a'), certPath, keyPath);
    chmodSync(keyPath, 0o644);
    await assert.rejects(
      loadIdentity(certPath, keyPath),
      configError(
        new RegExp(
          `private key file ${escape(keyPath)} is readable by others \\(mode 0644\\); run chmod 600 ${escape(keyPath)}`,
        ),
      ),
    );
    chmodSync(keyPath, 0o640);
    await assert.rejects(loadIdentity(certPath, keyPath), configError(/readable by its group/));
  });

  it('refuses a certificate that belongs to another key', async () => {
    const { certPath, keyPath } = paths();
    await saveIdentity(await testIdentity('a'), certPath, keyPath);
    writeFileSync(certPath, (await testIdentity('b')).certificatePem);
    await assert.rejects(
      loadIdentity(certPath, keyPath),
      configError(new RegExp(`${escape(certPath)} does not belong to private key file`)),
    );
  });

  it('names missing and non-PEM files', async () => {
    const { certPath, keyPath } = paths();
    await assert.rejects(
      loadIdentity(certPath, keyPath),
      configError(new RegExp(`certificate file ${escape(certPath)} does not exist`)),
    );
    await saveIdentity(await testIdentity('a'), certPath, keyPath);
    writeFileSync(certPath, 'hello');
    await assert.rejects(
      loadIdentity(certPath, keyPath),
      configError(new RegExp(`${escape(certPath)} is not a PEM certificate`)),
    );
    writeFileSync(certPath, (await testIdentity('a')).certificatePem);
    writeFileSync(keyPath, 'hello', { mode: 0o600 });
    await assert.rejects(
      loadIdentity(certPath, keyPath),
      configError(new RegExp(`private key file ${escape(keyPath)} is not a PEM private key`)),
    );
    writeFileSync(keyPath, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    await assert.rejects(
      loadIdentity(certPath, keyPath),
      configError(new RegExp(`${escape(keyPath)} cannot be parsed`)),
    );
    const other = paths();
    await saveIdentity(await testIdentity('a'), other.certPath, other.keyPath);
    await assert.rejects(
      loadIdentity(other.certPath, join(dir.path, 'nope.pem')),
      configError(/private key file .*nope\.pem does not exist/),
    );
  });

  it('refuses certificates whose SKI extension is missing or does not match the key', async () => {
    for (const [kind, pattern] of [
      ['missing', /has no SubjectKeyIdentifier extension/],
      ['wrong', /claims SKI [0-9a-f]{40}, but its key hashes to [0-9a-f]{40}/],
    ] as const) {
      const cert = await testCertificate(kind);
      const { certPath, keyPath } = paths();
      mkdirSync(join(keyPath, '..'), { recursive: true });
      writeFileSync(certPath, cert.certificatePem);
      writeFileSync(keyPath, cert.privateKeyPem, { mode: 0o600 });
      await assert.rejects(loadIdentity(certPath, keyPath), configError(pattern));
    }
  });

  it('refuses an RSA key file', async () => {
    const cert = await testCertificate('rsa');
    const { certPath, keyPath } = paths();
    mkdirSync(join(keyPath, '..'), { recursive: true });
    writeFileSync(certPath, cert.certificatePem);
    writeFileSync(keyPath, cert.privateKeyPem, { mode: 0o600 });
    await assert.rejects(loadIdentity(certPath, keyPath), configError(/holds an RSA key/));
  });
});

describe('loadOrCreateIdentity', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('creates on first start and loads afterwards', async () => {
    const certPath = join(dir.path, 'one', 'cert.pem');
    const keyPath = join(dir.path, 'one', 'key.pem');
    const first = await loadOrCreateIdentity({ certPath, keyPath, commonName: 'hub' });
    assert.equal(first.created, true);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    const second = await loadOrCreateIdentity({ certPath, keyPath, commonName: 'hub' });
    assert.equal(second.created, false);
    assert.equal(second.identity.ski, first.identity.ski);
  });

  it('never creates a new key over an existing one', async () => {
    const certPath = join(dir.path, 'two', 'cert.pem');
    const keyPath = join(dir.path, 'two', 'key.pem');
    await saveIdentity(await testIdentity('a'), certPath, keyPath);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(certPath);
    const keyBefore = readFileSync(keyPath, 'utf8');
    await assert.rejects(
      loadOrCreateIdentity({ certPath, keyPath, commonName: 'hub' }),
      configError(/private key file .* exists but certificate file .* does not; refusing/),
    );
    assert.equal(readFileSync(keyPath, 'utf8'), keyBefore);
    assert.equal(existsSync(certPath), false);
  });

  it('refuses a certificate without its key', async () => {
    const certPath = join(dir.path, 'three', 'cert.pem');
    const keyPath = join(dir.path, 'three', 'key.pem');
    mkdirSync(join(dir.path, 'three'));
    writeFileSync(certPath, (await testIdentity('a')).certificatePem);
    await assert.rejects(
      loadOrCreateIdentity({ certPath, keyPath, commonName: 'hub' }),
      configError(/certificate file .* exists but private key file .* does not/),
    );
    assert.equal(existsSync(keyPath), false);
  });
});

describe('renewal', () => {
  const dir = tempDir();
  after(() => dir.remove());

  it('renewIdentity keeps key, SKI and subject and changes serial and notAfter', async () => {
    const identity = await testIdentity('a');
    const later = new Date(identity.notBefore.getTime() + 400 * DAY_MS);
    const renewed = await renewIdentity(identity, { now: later });
    assert.equal(renewed.ski, identity.ski);
    assert.equal(renewed.privateKeyPem, identity.privateKeyPem);
    assert.equal(renewed.subject, identity.subject);
    assert.notEqual(renewed.serialNumber, identity.serialNumber);
    assert.equal(renewed.notAfter.getTime(), later.getTime() + 3650 * DAY_MS);
  });

  it('renewCertificate replaces only the certificate file', async () => {
    const certPath = join(dir.path, 'cert.pem');
    const keyPath = join(dir.path, 'key.pem');
    const identity = await testIdentity('b');
    await saveIdentity(identity, certPath, keyPath);
    const keyStat = statSync(keyPath);
    const renewed = await renewCertificate({
      certPath,
      keyPath,
      validityDays: 30,
      now: new Date(identity.notBefore.getTime() + DAY_MS),
    });
    assert.equal(renewed.ski, identity.ski);
    assert.notEqual(renewed.serialNumber, identity.serialNumber);
    assert.equal(statSync(keyPath).ino, keyStat.ino, 'key file untouched');
    assert.equal(statSync(keyPath).mtimeMs, keyStat.mtimeMs);
    assert.equal(statSync(certPath).mode & 0o777, 0o644);
    const loaded = await loadIdentity(certPath, keyPath);
    assert.equal(loaded.serialNumber, renewed.serialNumber);
    assert.equal(loaded.ski, identity.ski);
  });
});

describe('expiryWarning (checklist item 8: warn, never refuse)', () => {
  const notAfter = new Date('2030-01-31T00:00:00Z');
  it('is silent while far from expiry', () => {
    assert.equal(expiryWarning({ notAfter }, new Date('2029-12-01T00:00:00Z')), undefined);
  });
  it('warns within the window and names the date', () => {
    const message = expiryWarning({ notAfter }, new Date('2030-01-11T00:00:00Z'));
    assert.match(message ?? '', /expires on 2030-01-31T00:00:00.000Z \(in 20 days\)/);
    assert.match(message ?? '', /same key/);
    assert.equal(
      expiryWarning({ notAfter }, new Date('2029-12-01T00:00:00Z'), 90) !== undefined,
      true,
    );
  });
  it('says when it has expired', () => {
    assert.match(expiryWarning({ notAfter }, new Date('2031-01-01')) ?? '', /expired on/);
  });
});

describe('shipIdFrom (protocol reference §1.2)', () => {
  it('joins brand, model and serial', () => {
    assert.equal(shipIdFrom('Demo', 'EVSE', '234567890'), 'Demo-EVSE-234567890');
  });
  it('drops characters outside [A-Za-z0-9._-] and empty parts', () => {
    assert.equal(shipIdFrom('Dëmo GmbH', 'EVSE/2', ''), 'DmoGmbH-EVSE2');
    assert.equal(shipIdFrom('', 'HCU1', '1234'), 'HCU1-1234');
  });
  it('never contains "datagram" (ship-go v0.6 routing heuristic)', () => {
    assert.equal(shipIdFrom('Datagram', 'x', 'y'), 'x-y');
    assert.doesNotMatch(shipIdFrom('datdatagramagram', 'DATAGRAM', 'da-tagram'), /datagram/i);
  });
  it('is at most 63 bytes', () => {
    const id = shipIdFrom('B'.repeat(40), 'M'.repeat(40), 'S'.repeat(40));
    assert.equal(Buffer.byteLength(id), 63);
  });
  it('refuses when nothing is left', () => {
    assert.throws(() => shipIdFrom('!!', '', '§'), configError(/cannot build a SHIP ID/));
  });
});
