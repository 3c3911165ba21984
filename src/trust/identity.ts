/**
 * The node identity: a P-256 key and a self-signed certificate whose SubjectKeyIdentifier is
 * the SKI (SHIP §12.1, §12.2), created, loaded, saved and renewed here.
 *
 * Certificate profile (what ship-go creates, protocol reference §1.3): ECDSA P-256 key,
 * signature ECDSA-SHA256, X.509 v3, random positive serial, KeyUsage digitalSignature,
 * BasicConstraints CA:true, SubjectKeyIdentifier = SHA-1 over the 65-byte uncompressed public
 * point (RFC 5280 §4.2.1.2 method 1), 10 years of validity. Renewal keeps the key and with it
 * the SKI, so paired peers keep trusting us.
 */
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError, InternalError } from '../ship/errors.js';
import type { Ski } from '../ship/ski.js';
import { writeFileAtomic, writeFileExclusive } from '../util/atomic-file.js';
import { errnoCode } from '../util/errno.js';
import { fingerprintSha256, inspectCertificate, loadX509, skiOfPublicKey } from './certificate.js';

/** Default certificate lifetime: 10 years, as ship-go (protocol reference §1.3). */
export const DEFAULT_VALIDITY_DAYS = 3650;
/** Default warning window of {@link expiryWarning}. */
export const DEFAULT_EXPIRY_WARNING_DAYS = 30;
/**
 * notBefore is set this far in the past so a peer whose clock runs a little behind ours does
 * not see a "not yet valid" certificate (SHIP §12.1.1 makes validity checks optional, but some
 * TLS stacks still do them).
 */
const NOT_BEFORE_BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const KEY_FILE_MODE = 0o600;
const CERT_FILE_MODE = 0o644;
const KEY_DIR_MODE = 0o700;

/** A SHIP node identity: key, certificate and the SKI derived from the key. */
export interface NodeIdentity {
  /** The certificate (PEM), as given to TLS. */
  readonly certificatePem: string;
  /** The private key (PKCS#8 PEM). Keep it out of logs. */
  readonly privateKeyPem: string;
  /** The certificate (DER). */
  readonly certificateDer: Uint8Array;
  /** SHA-1 of the public key; equal to the certificate's SubjectKeyIdentifier (SHIP §12.2). */
  readonly ski: Ski;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject as OpenSSL prints it, one RDN per line. */
  readonly subject: string;
  /** Serial number, lowercase hex; changes on every renewal. */
  readonly serialNumber: string;
  /** SHA-256 of the certificate DER, `AB:CD:...`. */
  readonly fingerprintSha256: string;
}

/** Subject fields of a new node certificate. SHIP nodes ignore the CN (protocol reference §1.3). */
export interface IdentitySubject {
  /** CN, e.g. `<model>-<serial>`; 1 to 64 characters. */
  readonly commonName: string;
  readonly organization?: string;
  readonly organizationalUnit?: string;
  /** Two-letter ISO 3166 country code. */
  readonly country?: string;
}

/** Options of {@link createIdentity}. */
export interface CreateIdentityOptions extends IdentitySubject {
  /** Lifetime in days; default {@link DEFAULT_VALIDITY_DAYS}. */
  readonly validityDays?: number;
  /**
   * Re-issue for an existing key (PEM, PKCS#8 or SEC1): the SKI stays the same, which is what a
   * certificate renewal needs. Without it a new P-256 key is generated.
   */
  readonly privateKeyPem?: string;
  /** Issue time; default now. */
  readonly now?: Date;
}

/** Node's WebCrypto, passed explicitly so @peculiar/x509's global provider is never touched. */
const crypto = webcrypto;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A positive serial: 16 random bytes, first byte 0x01..0x7f (no sign bit, minimal DER). */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString('hex');
}

/** Checks that a key is EC P-256; `source` names where it came from, for the message. */
function assertP256(key: KeyObject, source: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const what =
      key.asymmetricKeyType === 'ec'
        ? `an EC key on ${curve ?? 'an unknown curve'}`
        : `an ${String(key.asymmetricKeyType).toUpperCase()} key`;
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `${source} holds ${what}; SHIP needs an ECDSA key on P-256 (SHIP §9.1, §12.1)`,
    );
  }
}

function subjectName(subject: IdentitySubject): Record<string, string[]>[] {
  const { commonName, organization, organizationalUnit, country } = subject;
  if (commonName.length === 0 || commonName.length > 64) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `the certificate common name must have 1 to 64 characters, got ${commonName.length}`,
    );
  }
  if (country !== undefined && !/^[A-Z]{2}$/.test(country)) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `the certificate country must be a two-letter code such as "DE", got "${country}"`,
    );
  }
  const name: Record<string, string[]>[] = [];
  if (country !== undefined) name.push({ C: [country] });
  if (organization !== undefined && organization !== '') name.push({ O: [organization] });
  if (organizationalUnit !== undefined && organizationalUnit !== '') {
    name.push({ OU: [organizationalUnit] });
  }
  name.push({ CN: [commonName] });
  return name;
}

/** Imports a PEM private key into WebCrypto (with its public half) for signing. */
async function importKeyPair(privateKey: KeyObject): Promise<webcrypto.CryptoKeyPair> {
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const [priv, pub] = await Promise.all([
    crypto.subtle.importKey('pkcs8', pkcs8, EC_P256, true, ['sign']),
    crypto.subtle.importKey('spki', spki, EC_P256, true, ['verify']),
  ]);
  return { privateKey: priv, publicKey: pub };
}

/** Builds a NodeIdentity from PEM texts after checking that they belong together. */
function identityFrom(certificatePem: string, privateKey: KeyObject): NodeIdentity {
  const certificate = new X509Certificate(certificatePem);
  const certificateDer = new Uint8Array(certificate.raw);
  const info = inspectCertificate(certificateDer);
  return Object.freeze({
    certificatePem: certificate.toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certificateDer,
    ski: info.ski,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    subject: certificate.subject,
    serialNumber: info.serialNumber,
    fingerprintSha256: fingerprintSha256(certificateDer),
  });
}

/**
 * Issues the self-signed certificate. `name` is a JSON name for a new subject, or the DER of
 * an existing subject (renewal keeps it byte for byte).
 */
async function issue(
  privateKey: KeyObject,
  name: Record<string, string[]>[] | Uint8Array,
  validityDays: number,
  now: Date,
): Promise<NodeIdentity> {
  if (!Number.isInteger(validityDays) || validityDays < 1) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `the certificate validity must be a whole number of days >= 1, got ${validityDays}`,
    );
  }
  const x509 = await loadX509();
  const keys = await importKeyPair(privateKey);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  // SHIP §12.2: the SKI is SHA-1 over the subjectPublicKey bit string; computed by our own code
  // so the extension and every SKI we report come from one function.
  const ski = skiOfPublicKey(spki);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: name instanceof Uint8Array ? new x509.Name(name) : name,
      notBefore: new Date(now.getTime() - NOT_BEFORE_BACKDATE_MS),
      notAfter: new Date(now.getTime() + validityDays * DAY_MS),
      signingAlgorithm: ECDSA_SHA256,
      keys,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.SubjectKeyIdentifierExtension(ski),
      ],
    },
    crypto,
  );
  const identity = identityFrom(certificate.toString('pem'), privateKey);
  if (identity.ski !== ski) {
    throw new InternalError(
      'SHIPHUB_ERR_INTERNAL',
      `issued certificate has SKI ${identity.ski}, expected ${ski}`,
    );
  }
  return identity;
}

/**
 * Creates a node identity: a new P-256 key (or the given one) and a self-signed certificate in
 * the SHIP profile (see the module comment).
 *
 * @throws ConfigError for an invalid subject, validity or key.
 */
export async function createIdentity(options: CreateIdentityOptions): Promise<NodeIdentity> {
  let privateKey: KeyObject;
  if (options.privateKeyPem !== undefined) {
    try {
      privateKey = createPrivateKey(options.privateKeyPem);
    } catch (error) {
      throw new ConfigError(
        'SHIPHUB_ERR_CONFIG',
        `the given private key is not a PEM private key (${errorText(error)})`,
        { cause: error },
      );
    }
    assertP256(privateKey, 'the given private key');
  } else {
    const pair = await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
    privateKey = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  }
  return issue(
    privateKey,
    subjectName(options),
    options.validityDays ?? DEFAULT_VALIDITY_DAYS,
    options.now ?? new Date(),
  );
}

/** Options of {@link renewIdentity} and {@link renewCertificate}. */
export interface RenewOptions {
  /** Lifetime in days from `now`; default {@link DEFAULT_VALIDITY_DAYS}. */
  readonly validityDays?: number;
  /** Issue time; default now. */
  readonly now?: Date;
}

/**
 * Re-issues the certificate of `identity` with the same key and subject and a new serial and
 * validity. The SKI stays the same, so peers that paired with us keep trusting us (SHIP §12.2).
 */
export async function renewIdentity(
  identity: NodeIdentity,
  options: RenewOptions = {},
): Promise<NodeIdentity> {
  const x509 = await loadX509();
  const subject = new x509.X509Certificate(identity.certificateDer).subjectName.toArrayBuffer();
  const renewed = await issue(
    createPrivateKey(identity.privateKeyPem),
    new Uint8Array(subject),
    options.validityDays ?? DEFAULT_VALIDITY_DAYS,
    options.now ?? new Date(),
  );
  if (renewed.ski !== identity.ski) {
    throw new InternalError(
      'SHIPHUB_ERR_INTERNAL',
      `renewal changed the SKI from ${identity.ski} to ${renewed.ski}`,
    );
  }
  return renewed;
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw new ConfigError('SHIPHUB_ERR_CONFIG', `cannot access ${path}: ${errorText(error)}`, {
      cause: error,
    });
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory'
            : `cannot be read (${errorText(error)})`;
    throw new ConfigError('SHIPHUB_ERR_CONFIG', `${what} ${path} ${reason}`, { cause: error });
  }
}

/**
 * Writes the identity: the key with mode 0600 (its directory is created with 0700 if missing),
 * the certificate with mode 0644. Each file is replaced atomically (temporary file, fsync,
 * rename, directory fsync), so a crash leaves the old or the new file, never half of one.
 */
export async function saveIdentity(
  identity: NodeIdentity,
  certPath: string,
  keyPath: string,
  options: { exclusive?: boolean } = {},
): Promise<void> {
  await mkdir(dirname(resolve(keyPath)), { recursive: true, mode: KEY_DIR_MODE });
  // With `exclusive` (a new identity) neither file may exist: another process that created an
  // identity at the same moment keeps its files and we fail, instead of one SKI silently
  // replacing the other on disk.
  const write = options.exclusive === true ? writeFileExclusive : writeFileAtomic;
  const save = async (path: string, what: string, data: string, mode: number) => {
    try {
      await write(path, data, { mode });
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw error;
      throw new ConfigError(
        'SHIPHUB_ERR_CONFIG',
        `${what} ${path} appeared while this identity was being created (another process ` +
          'created one at the same time?); it was not overwritten. Start again to load it',
        { cause: error },
      );
    }
  };
  // The key first: a crash in between leaves a key without a certificate, which
  // loadOrCreateIdentity refuses instead of generating a new key over it.
  await save(keyPath, 'private key file', identity.privateKeyPem, KEY_FILE_MODE);
  await save(certPath, 'certificate file', identity.certificatePem, CERT_FILE_MODE);
}

/**
 * Reads and checks a private key file: a regular file that group and others cannot read, an
 * unencrypted PEM key on P-256. Every problem is a ConfigError naming the file.
 */
async function loadPrivateKeyFile(keyPath: string): Promise<KeyObject> {
  if (process.platform !== 'win32') {
    let mode: number;
    try {
      const info = await stat(keyPath);
      // A directory's mode says nothing about a key's readability: name the real problem.
      if (info.isDirectory()) {
        throw new ConfigError(
          'SHIPHUB_ERR_CONFIG',
          `private key file ${keyPath} is a directory, not a file; point private_key_file at ` +
            'the key file (e.g. certs/ship.key)',
        );
      }
      mode = info.mode & 0o777;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      await readText(keyPath, 'private key file'); // throws the same readable message
      throw error;
    }
    if ((mode & 0o077) !== 0) {
      const who = (mode & 0o007) !== 0 ? 'others' : 'its group';
      throw new ConfigError(
        'SHIPHUB_ERR_CONFIG',
        `private key file ${keyPath} is readable by ${who} (mode ${mode.toString(8).padStart(4, '0')}); ` +
          `run chmod 600 ${keyPath}`,
      );
    }
  }
  const keyText = await readText(keyPath, 'private key file');
  if (keyText.includes('ENCRYPTED PRIVATE KEY') || keyText.includes('Proc-Type: 4,ENCRYPTED')) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `private key file ${keyPath} is encrypted; ship-hub needs an unencrypted key (protected by ` +
        'file mode 0600)',
    );
  }
  if (!/-----BEGIN (EC |)PRIVATE KEY-----/.test(keyText)) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `private key file ${keyPath} is not a PEM private key (no "-----BEGIN PRIVATE KEY-----" line)`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyText);
  } catch (error) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `private key file ${keyPath} cannot be parsed (${errorText(error)})`,
      { cause: error },
    );
  }
  assertP256(privateKey, `private key file ${keyPath}`);
  return privateKey;
}

/** Parses a PEM certificate file's text; a ConfigError naming the file otherwise. */
function parseCertificateText(certText: string, certPath: string): X509Certificate {
  if (!certText.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `certificate file ${certPath} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line)`,
    );
  }
  try {
    return new X509Certificate(certText);
  } catch (error) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `certificate file ${certPath} cannot be parsed (${errorText(error)})`,
      { cause: error },
    );
  }
}

/**
 * Loads and checks an identity saved by {@link saveIdentity} (or provided by an installer).
 *
 * @throws ConfigError naming the file and the problem when a file is missing or unreadable,
 *   is not PEM, the key file is readable by group or others, the key is not P-256, key and
 *   certificate do not belong together, or the certificate's SubjectKeyIdentifier is missing or
 *   is not SHA-1 of its key.
 */
export async function loadIdentity(certPath: string, keyPath: string): Promise<NodeIdentity> {
  const certText = await readText(certPath, 'certificate file');
  const privateKey = await loadPrivateKeyFile(keyPath);

  const certificate = parseCertificateText(certText, certPath);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `certificate file ${certPath} does not belong to private key file ${keyPath} (different ` +
        'public keys); restore the matching pair from a backup, or re-issue the certificate ' +
        'from the key with `ship-hub cert renew` (the SKI follows the key)',
    );
  }
  const info = inspectCertificate(new Uint8Array(certificate.raw));
  if (info.extensionHex === undefined) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `certificate file ${certPath} has no SubjectKeyIdentifier extension, which SHIP §12.2 ` +
        `requires; re-issue it from the same key with \`ship-hub cert renew\` (SKI ${info.ski})`,
    );
  }
  if (!info.extensionMatchesKey) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `certificate file ${certPath} claims SKI ${info.extensionHex}, but its key hashes to ` +
        `${info.ski} (SHIP §12.2); conformant peers refuse it. Re-issue it from the same key ` +
        '(`ship-hub cert renew`); ' +
        `the SKI becomes ${info.ski} and peers paired with the old one must re-pair`,
    );
  }
  return identityFrom(certificate.toString(), privateKey);
}

/**
 * Checks the identity files without creating anything: the loaded identity when both exist and
 * belong together, undefined when neither exists (a first start creates them). If only one of
 * the two exists it throws: a key is never overwritten, since a new key means a new SKI and
 * every peer would have to pair again.
 *
 * @throws ConfigError naming the file and the problem (see {@link loadIdentity}).
 */
export async function checkIdentityFiles(
  certPath: string,
  keyPath: string,
): Promise<NodeIdentity | undefined> {
  const [haveCert, haveKey] = await Promise.all([exists(certPath), exists(keyPath)]);
  if (haveCert && haveKey) return loadIdentity(certPath, keyPath);
  if (haveKey) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `private key file ${keyPath} exists but certificate file ${certPath} does not; refusing to ` +
        'create a new identity over an existing key. Restore the certificate, or re-issue it ' +
        'from this key with `ship-hub cert renew` (the SKI stays the same)',
    );
  }
  if (haveCert) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `certificate file ${certPath} exists but private key file ${keyPath} does not; restore ` +
        'the key from a backup, or delete the certificate to create a new identity (new SKI: ' +
        'every peer must pair again)',
    );
  }
  return undefined;
}

/** Options of {@link loadOrCreateIdentity}. */
export interface LoadOrCreateIdentityOptions extends IdentitySubject {
  readonly certPath: string;
  readonly keyPath: string;
  /** Lifetime of a newly created certificate; default {@link DEFAULT_VALIDITY_DAYS}. */
  readonly validityDays?: number;
  readonly now?: Date;
}

/**
 * Loads the identity, or creates and saves one on first start (both files missing). If only
 * one of the two files exists, it fails instead of generating anything: a key is never
 * overwritten, since a new key means a new SKI and every peer would have to pair again.
 */
export async function loadOrCreateIdentity(
  options: LoadOrCreateIdentityOptions,
): Promise<{ identity: NodeIdentity; created: boolean }> {
  const { certPath, keyPath } = options;
  const existing = await checkIdentityFiles(certPath, keyPath);
  if (existing !== undefined) return { identity: existing, created: false };
  const identity = await createIdentity(options);
  await saveIdentity(identity, certPath, keyPath, { exclusive: true });
  return { identity, created: true };
}

/** Options of {@link renewCertificate}. */
export interface RenewCertificateOptions extends RenewOptions {
  readonly certPath: string;
  readonly keyPath: string;
}

/**
 * Renews the certificate on disk: loads and checks the identity, re-issues the certificate with
 * the same key and subject, and replaces the certificate file atomically. The key file is not
 * touched and the SKI stays the same.
 */
export async function renewCertificate(options: RenewCertificateOptions): Promise<NodeIdentity> {
  const current = await loadIdentity(options.certPath, options.keyPath);
  const renewed = await renewIdentity(current, options);
  await writeFileAtomic(options.certPath, renewed.certificatePem, { mode: CERT_FILE_MODE });
  return renewed;
}

/** Options of {@link reissueCertificate}. */
export interface ReissueCertificateOptions extends RenewCertificateOptions {
  /** Subject of the new certificate when the old one cannot supply it (missing or unreadable). */
  readonly subject: IdentitySubject;
}

/** What {@link reissueCertificate} found and did. */
export interface ReissueResult {
  readonly identity: NodeIdentity;
  /**
   * The certificate before: `valid` (renewed, subject kept), `missing`, or `mismatched` (not a
   * certificate of this key, not parseable, or its SubjectKeyIdentifier is absent or wrong).
   */
  readonly previous: 'valid' | 'missing' | 'mismatched';
  /** Where the replaced certificate was kept (`mismatched` only). */
  readonly keptAt?: string;
}

/**
 * Issues the certificate from the key on disk, whatever state the certificate is in: renewed
 * when it is valid (as {@link renewCertificate}), issued anew when it is missing or does not
 * belong to the key. The key file is never touched, so the SKI (SHA-1 of the key, SHIP §12.2)
 * stays the one every paired peer knows. A replaced certificate is kept beside it as
 * `<certificate>.replaced-<UTC time>`.
 *
 * @throws ConfigError when the key file is missing or unusable (nothing is written then).
 */
export async function reissueCertificate(
  options: ReissueCertificateOptions,
): Promise<ReissueResult> {
  const { certPath, keyPath } = options;
  const privateKey = await loadPrivateKeyFile(keyPath);
  const now = options.now ?? new Date();
  const validityDays = options.validityDays ?? DEFAULT_VALIDITY_DAYS;
  if (!(await exists(certPath))) {
    const identity = await issue(privateKey, subjectName(options.subject), validityDays, now);
    await writeFileAtomic(certPath, identity.certificatePem, { mode: CERT_FILE_MODE });
    return { identity, previous: 'missing' };
  }
  let old: X509Certificate | undefined;
  try {
    old = parseCertificateText(await readText(certPath, 'certificate file'), certPath);
  } catch (error) {
    // An unreadable file (permissions) is not replaced; a broken certificate is.
    if (!(error instanceof ConfigError) || /cannot be read/.test(error.message)) throw error;
  }
  if (old !== undefined && old.checkPrivateKey(privateKey)) {
    const info = inspectCertificate(new Uint8Array(old.raw));
    if (info.extensionMatchesKey) {
      const identity = await renewCertificate(options);
      return { identity, previous: 'valid' };
    }
  }
  // Not this key's certificate: keep the subject if it can be read, never the public key.
  let name: Record<string, string[]>[] | Uint8Array = subjectName(options.subject);
  if (old !== undefined) {
    const x509 = await loadX509();
    name = new Uint8Array(new x509.X509Certificate(old.raw).subjectName.toArrayBuffer());
  }
  const identity = await issue(privateKey, name, validityDays, now);
  const keptAt = `${certPath}.replaced-${now.toISOString().replace(/[:.]/g, '-')}`;
  await rename(certPath, keptAt);
  await writeFileAtomic(certPath, identity.certificatePem, { mode: CERT_FILE_MODE });
  return { identity, previous: 'mismatched', keptAt };
}

/**
 * A message for the operator when the certificate expires within `days` (or has expired), else
 * undefined. Peers must not refuse an expired certificate of a trusted key (SHIP §12.1.1), so
 * this is a warning only; renewal with the same key keeps the SKI.
 */
export function expiryWarning(
  identity: Pick<NodeIdentity, 'notAfter'>,
  now: Date,
  days: number = DEFAULT_EXPIRY_WARNING_DAYS,
): string | undefined {
  const left = identity.notAfter.getTime() - now.getTime();
  const when = identity.notAfter.toISOString();
  if (left <= 0) {
    return (
      `the node certificate expired on ${when}; SHIP peers should still accept it (SHIP ` +
      '§12.1.1), but renew it with the same key (the SKI stays the same)'
    );
  }
  if (left <= days * DAY_MS) {
    const inDays = Math.floor(left / DAY_MS);
    return (
      `the node certificate expires on ${when} (in ${inDays} day${inDays === 1 ? '' : 's'}); ` +
      'renew it with the same key (the SKI stays the same)'
    );
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// SHIP ID
// ---------------------------------------------------------------------------------------------

/** jeebus limits the SHIP ID to 63 bytes (protocol reference §1.2). */
const SHIP_ID_MAX_BYTES = 63;

/**
 * The default SHIP ID `<Brand>-<Model>-<Serial>` (eebus-go's default, protocol reference §1.2).
 * Characters other than `A-Z a-z 0-9 . _ -` are dropped, empty parts are skipped, the word
 * "datagram" is removed in any case (ship-go v0.6 treats any message containing it as data,
 * §11 item 24) and the result is cut to 63 bytes.
 *
 * @throws ConfigError if nothing usable is left.
 */
export function shipIdFrom(brand: string, model: string, serial: string): string {
  const clean = (part: string) => part.replace(/[^A-Za-z0-9._-]/g, '');
  let id = [brand, model, serial]
    .map(clean)
    .filter((p) => p !== '')
    .join('-');
  // Removing one occurrence can join two halves into a new one ("datdatagramagram").
  for (let previous = ''; previous !== id;) {
    previous = id;
    id = id.replace(/datagram/gi, '');
  }
  id = id.slice(0, SHIP_ID_MAX_BYTES).replace(/^[-.]+|[-.]+$/g, '');
  if (id === '') {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `cannot build a SHIP ID from brand "${brand}", model "${model}" and serial "${serial}": ` +
        'no letters or digits left',
    );
  }
  return id;
}
