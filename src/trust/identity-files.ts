/**
 * The node identity on disk: saving the key (mode 0600) and certificate atomically, loading and
 * checking them, creating them on first start, and renewing or reissuing the certificate from
 * the stored key (same SKI, SHIP §12.2). The certificate profile is in identity-issue.ts.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, rename, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../ship/errors.js';
import { writeFileAtomic, writeFileExclusive } from '../util/atomic-file.js';
import { errnoCode } from '../util/errno.js';
import { inspectCertificate, loadX509 } from './certificate.js';
import {
  assertP256,
  CERT_FILE_MODE,
  createIdentity,
  DEFAULT_VALIDITY_DAYS,
  errorText,
  identityFrom,
  issue,
  KEY_DIR_MODE,
  KEY_FILE_MODE,
  renewIdentity,
  subjectName,
  type IdentitySubject,
  type NodeIdentity,
  type RenewOptions,
} from './identity-issue.js';

export async function exists(path: string): Promise<boolean> {
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

export async function readText(path: string, what: string): Promise<string> {
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
export async function loadPrivateKeyFile(keyPath: string): Promise<KeyObject> {
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
export function parseCertificateText(certText: string, certPath: string): X509Certificate {
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
