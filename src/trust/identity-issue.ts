/**
 * Issuing the node identity (SHIP §12.1, §12.2): a new P-256 key with a self-signed certificate
 * in the profile described in identity.ts, and renewal of a certificate for the same key (the
 * SKI stays, so paired peers keep trusting us). No files here: identity-files.ts stores them.
 */
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ConfigError, InternalError } from '../ship/errors.js';
import type { Ski } from '../ship/ski.js';
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
export const NOT_BEFORE_BACKDATE_MS = 5 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;
export const KEY_DIR_MODE = 0o700;

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
export const crypto = webcrypto;
export const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A positive serial: 16 random bytes, first byte 0x01..0x7f (no sign bit, minimal DER). */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString('hex');
}

/** Checks that a key is EC P-256; `source` names where it came from, for the message. */
export function assertP256(key: KeyObject, source: string): void {
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

export function subjectName(subject: IdentitySubject): Record<string, string[]>[] {
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
export async function importKeyPair(privateKey: KeyObject): Promise<webcrypto.CryptoKeyPair> {
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const [priv, pub] = await Promise.all([
    crypto.subtle.importKey('pkcs8', pkcs8, EC_P256, true, ['sign']),
    crypto.subtle.importKey('spki', spki, EC_P256, true, ['verify']),
  ]);
  return { privateKey: priv, publicKey: pub };
}

/** Builds a NodeIdentity from PEM texts after checking that they belong together. */
export function identityFrom(certificatePem: string, privateKey: KeyObject): NodeIdentity {
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
export async function issue(
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
