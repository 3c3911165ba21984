/**
 * Reading X.509 certificates the way SHIP needs it: the node identity is the SKI (SHIP §12.2),
 * i.e. SHA-1 over the `subjectPublicKey` BIT STRING (RFC 5280 §4.2.1.2 method 1), and the
 * certificate must carry the same 20 bytes in its SubjectKeyIdentifier extension.
 *
 * Peer certificates are read with a tiny, deliberately lenient DER walk (der-walk.ts) instead
 * of a strict ASN.1 parser: it only looks at the SubjectPublicKeyInfo, the validity and the
 * extension list, and never interprets BOOLEAN contents, so certificates with the Elli quirk (BOOLEAN TRUE
 * encoded as 0x01 instead of 0xFF, protocol reference §1.3 / §11 item 12) are read like any
 * other. The walk is synchronous and cheap, which matters because it runs once per accepted
 * connection.
 *
 * Creating certificates uses `@peculiar/x509`, loaded lazily by {@link loadX509} (see there for
 * why it is not a static import).
 */
import { createHash, hash, X509Certificate } from 'node:crypto';
import type * as X509Module from '@peculiar/x509';
import { TrustError } from '../ship/errors.js';
import { skiFromBytes, type Ski } from '../ship/ski.js';
import {
  bytesEqual,
  CURVES,
  DER_OID_EC_PUBLIC_KEY,
  DER_OID_P256,
  decodeOid,
  hex,
  KEY_TYPES,
  rangeEquals,
  readDetails,
  readSpki,
  readTlv,
  sha1,
  SIGNATURE_ALGORITHMS,
  TAG_OID,
  walkCertificate,
  type CertificateDetails,
  type CertificateWalk,
} from './der-walk.js';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/**
 * The SKI of a public key (SHIP §12.2): SHA-1 over the contents of the `subjectPublicKey` BIT
 * STRING of a SubjectPublicKeyInfo, i.e. over the 65-byte uncompressed point `04 || X || Y` for
 * P-256 (RFC 5280 §4.2.1.2 method 1). Not over the whole SPKI and never over the private key.
 *
 * @param spkiDer DER of a SubjectPublicKeyInfo (what `KeyObject.export({type:'spki'})` gives).
 * @throws TrustError `SHIPHUB_ERR_CERT_INVALID` if `spkiDer` is not a SubjectPublicKeyInfo.
 */
export function skiOfPublicKey(spkiDer: Uint8Array): Ski {
  try {
    const spki = readTlv(spkiDer, 0, spkiDer.length);
    return skiFromBytes(sha1(readSpki(spkiDer, spki).publicKey));
  } catch (error) {
    throw new TrustError(
      'SHIPHUB_ERR_CERT_INVALID',
      `not a SubjectPublicKeyInfo: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** What {@link inspectCertificate} reports about a certificate. */
export interface CertificateInfo {
  /** SHA-1 of the public key (SHIP §12.2): the identity we derive ourselves. */
  readonly ski: Ski;
  /** The SubjectKeyIdentifier extension, if present and exactly 20 bytes long. */
  readonly extensionSki?: Ski;
  /** Length in bytes of the SubjectKeyIdentifier extension value, if present. */
  readonly extensionLength?: number;
  /** The SubjectKeyIdentifier extension value in hex, whatever its length. */
  readonly extensionHex?: string;
  /** True if the extension is present and equals {@link ski}. */
  readonly extensionMatchesKey: boolean;
  /** `ec`, `rsa`, `ed25519`, ... or the dotted OID if unknown. */
  readonly keyType: string;
  /** For EC keys: `P-256`, `P-384`, ... or the dotted OID if unknown. */
  readonly curve?: string;
  /** `ecdsa-with-SHA256`, ... or the dotted OID if unknown. */
  readonly signatureAlgorithm: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Serial number in lowercase hex (two's complement bytes as encoded). */
  readonly serialNumber: string;
  /** Subject as OpenSSL prints it (one RDN per line); empty if only the lenient walk could read it. */
  readonly subject: string;
  /** Issuer, like {@link subject}. */
  readonly issuer: string;
  /** Issuer name equals subject name (self-signed node certificates, SHIP §12.1.1). */
  readonly selfIssued: boolean;
  /** SHA-256 of the DER, colon-separated uppercase hex as Node prints it. */
  readonly fingerprintSha256: string;
}

/** SHA-256 fingerprint in Node's format (`AB:CD:...`). */
export function fingerprintSha256(der: Uint8Array): string {
  return createHash('sha256')
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}

/**
 * Describes a certificate for logs, the CLI and checks. Lenient: the key, the validity and the
 * SKI extension come from a small DER walk that accepts the Elli BOOLEAN quirk; subject and
 * issuer come from Node's `X509Certificate` when OpenSSL can parse the certificate, and are
 * left empty otherwise instead of failing.
 *
 * @throws TrustError `SHIPHUB_ERR_CERT_INVALID` if not even the DER walk can read it.
 */
export function inspectCertificate(der: Uint8Array): CertificateInfo {
  let fields: CertificateDetails;
  try {
    fields = readDetails(der, walkCertificate(der));
  } catch (error) {
    throw new TrustError(
      'SHIPHUB_ERR_CERT_INVALID',
      `the certificate could not be read: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  let subject = '';
  let issuer = '';
  try {
    const parsed = new X509Certificate(der);
    subject = parsed.subject;
    issuer = parsed.issuer;
  } catch {
    // OpenSSL refused it; the lenient fields above are all SHIP needs.
  }
  const ski = skiFromBytes(sha1(fields.publicKey));
  const extension = fields.skiExtensions[0];
  const info: {
    -readonly [K in keyof CertificateInfo]: CertificateInfo[K];
  } = {
    ski,
    extensionMatchesKey:
      extension !== undefined && extension.length === 20 && hex(extension) === ski,
    keyType: KEY_TYPES[fields.keyAlgorithmOid] ?? fields.keyAlgorithmOid,
    signatureAlgorithm:
      SIGNATURE_ALGORITHMS[fields.signatureAlgorithmOid] ?? fields.signatureAlgorithmOid,
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    serialNumber: fields.serialNumber,
    subject,
    issuer,
    selfIssued: bytesEqual(fields.issuerDer, fields.subjectDer),
    fingerprintSha256: fingerprintSha256(der),
  };
  if (fields.curveOid !== undefined) info.curve = CURVES[fields.curveOid] ?? fields.curveOid;
  if (extension !== undefined) {
    info.extensionLength = extension.length;
    info.extensionHex = hex(extension);
    if (extension.length === 20) info.extensionSki = skiFromBytes(extension);
  }
  return info;
}

/** Options of {@link verifyPeerCertificate}. */
export interface VerifyPeerOptions {
  /**
   * Accept a certificate whose SKI extension is not SHA-1 of its key and identify the peer by
   * the extension value, as ship-go v0.6 does. Certificates of ship-go before v0.5.2 and of the
   * old evcc-io/eebus stack hash the private key instead. Off by default: the SHIP test
   * specification (TC_SHIP_SEC_001/002, SHIP §12.2) requires rejecting them.
   */
  readonly acceptLegacySki?: boolean | undefined;
  /** The SKI we expect (from mDNS or pairing); anything else is refused. */
  readonly expectedSki?: Ski | undefined;
  /** Our own SKI; a peer presenting it is ourselves (or a copy of our key). */
  readonly ownSki?: Ski | undefined;
}

/** Result of {@link verifyPeerCertificate}: the peer's SKI or the reason to refuse it. */
export type PeerCertificateResult =
  | {
      readonly ok: true;
      /** The peer's identity. */
      readonly ski: Ski;
      /** True if the peer was accepted by its extension only (`acceptLegacySki`). */
      readonly legacy: boolean;
      /**
       * SHA-256 of the peer's public key (the EC point of its SubjectPublicKeyInfo), hex: the
       * key pinned with a trust entry, so that a legacy certificate claiming a paired SKI with
       * another key cannot pass as that device.
       */
      readonly keySha256: string;
    }
  | { readonly ok: false; readonly error: TrustError };

const REFUSE_HINT =
  'The device needs a SHIP certificate: ECDSA P-256 key with a 20-byte SubjectKeyIdentifier ' +
  'equal to SHA-1 of its public key (SHIP §12.2).';

function refuse(
  code: 'SHIPHUB_ERR_CERT_INVALID' | 'SHIPHUB_ERR_SKI_MISMATCH' | 'SHIPHUB_ERR_SELF_CONNECTION',
  message: string,
  hint: string,
  cause?: unknown,
): PeerCertificateResult {
  return {
    ok: false,
    error: new TrustError(code, message, cause === undefined ? { hint } : { hint, cause }),
  };
}

/**
 * Decides whether the certificate a peer presented in the TLS handshake identifies an
 * acceptable SHIP node, and which SKI it has (SHIP §12.1/§12.2). Refuses: an unreadable
 * certificate, a key that is not EC (SHIP §9.1 suites are ECDHE_ECDSA only), a missing
 * SubjectKeyIdentifier extension, one that is not 20 bytes, one that is not SHA-1 of the key
 * (unless `acceptLegacySki`), our own SKI, and any SKI other than `expectedSki`.
 *
 * Validity dates and the issuer are not checked on purpose: SHIP §12.1.1 says such checks SHALL
 * NOT prevent communication with a trusted key.
 *
 * Never throws for bad input; the error is returned so the caller can close and log it.
 */
export function verifyPeerCertificate(
  der: Uint8Array,
  options: VerifyPeerOptions = {},
): PeerCertificateResult {
  let fields: CertificateWalk;
  try {
    fields = walkCertificate(der);
  } catch (error) {
    return refuse(
      'SHIPHUB_ERR_CERT_INVALID',
      `the peer presented a certificate that cannot be read (${error instanceof Error ? error.message : String(error)})`,
      REFUSE_HINT,
      error,
    );
  }
  if (
    !rangeEquals(der, fields.keyAlgorithm.offset, fields.keyAlgorithm.end, DER_OID_EC_PUBLIC_KEY)
  ) {
    const oid = decodeOid(der, fields.keyAlgorithm);
    const type = KEY_TYPES[oid] ?? `OID ${oid}`;
    return refuse(
      'SHIPHUB_ERR_CERT_INVALID',
      `the peer presented a certificate with an ${type.toUpperCase()} key, but SHIP requires an ` +
        'ECDSA key (SHIP §9.1 allows only ECDHE_ECDSA cipher suites)',
      REFUSE_HINT,
    );
  }
  const curve = fields.curve;
  if (curve === undefined || !rangeEquals(der, curve.offset, curve.end, DER_OID_P256)) {
    const name =
      curve?.tag === TAG_OID
        ? (CURVES[decodeOid(der, curve)] ?? `OID ${decodeOid(der, curve)}`)
        : 'no named curve';
    return refuse(
      'SHIPHUB_ERR_CERT_INVALID',
      `the peer presented a certificate with an ECDSA key on ${name}, but SHIP §9.1 requires ` +
        'the curve secp256r1 (P-256)',
      REFUSE_HINT,
    );
  }
  // One-shot hash straight to hex: this runs on every handshake (see walkCertificate).
  const computed = hash('sha1', fields.publicKey, 'hex') as Ski;
  const extensions = fields.skiExtensions;
  const extension = extensions[0];
  if (extension === undefined) {
    return refuse(
      'SHIPHUB_ERR_CERT_INVALID',
      'the peer presented a certificate without a SubjectKeyIdentifier extension; SHIP §12.2 ' +
        `identifies a node by it (its key hashes to ${computed})`,
      REFUSE_HINT,
    );
  }
  if (extensions.length > 1) {
    return refuse(
      'SHIPHUB_ERR_CERT_INVALID',
      `the peer presented a certificate with ${extensions.length} SubjectKeyIdentifier ` +
        'extensions; RFC 5280 allows one, and two could name two identities',
      REFUSE_HINT,
    );
  }
  if (extension.length !== 20) {
    return refuse(
      'SHIPHUB_ERR_CERT_INVALID',
      `the peer presented a SubjectKeyIdentifier of ${extension.length} bytes (${hex(extension)}); ` +
        `SHIP §12.2 requires 20 bytes, SHA-1 of the public key (${computed})`,
      REFUSE_HINT,
    );
  }
  const claimed = hex(extension) as Ski;
  let ski = computed;
  let legacy = false;
  if (claimed !== computed) {
    if (options.acceptLegacySki !== true) {
      return refuse(
        'SHIPHUB_ERR_CERT_INVALID',
        `the peer's certificate claims SKI ${claimed}, but its public key hashes to ${computed}; ` +
          'SHIP §12.2 (TC_SHIP_SEC_001/002) requires refusing such a certificate',
        'Old ship-go (< v0.5.2) and evcc-io/eebus devices hashed the private key instead. Ask the ' +
          'vendor for a firmware with a new certificate and re-pair, or enable the legacy SKI ' +
          'option to accept the device by the SKI its certificate claims.',
      );
    }
    // ship-go v0.6 trusts the extension as-is; the opt-in keeps such devices pairable.
    ski = claimed;
    legacy = true;
  }
  if (options.ownSki !== undefined && (ski === options.ownSki || computed === options.ownSki)) {
    return refuse(
      'SHIPHUB_ERR_SELF_CONNECTION',
      `the peer presented our own SKI ${options.ownSki}: this connection goes to ourselves, or ` +
        'another node uses a copy of our key',
      'Check that no other device was set up with a copy of this hub\u2019s key files, and that ' +
        'we do not dial our own mDNS announcement.',
    );
  }
  if (options.expectedSki !== undefined && ski !== options.expectedSki) {
    return refuse(
      'SHIPHUB_ERR_SKI_MISMATCH',
      `the peer presented SKI ${ski}, but we expected ${options.expectedSki}`,
      'Another device answered at this address, or the device got a new key (for example after ' +
        'a factory reset or replacement); if that is expected, remove and re-pair it.',
    );
  }
  return { ok: true, ski, legacy, keySha256: hash('sha256', fields.publicKey, 'hex') };
}

// ---------------------------------------------------------------------------------------------
// @peculiar/x509, loaded on demand
// ---------------------------------------------------------------------------------------------

let x509Module: Promise<typeof X509Module> | undefined;

/**
 * Loads `@peculiar/x509` (certificate generation) on demand. It builds on tsyringe, which throws
 * at import time unless a Reflect metadata polyfill is loaded first, so `reflect-metadata` (the
 * polyfill @peculiar/x509 documents) is loaded just before it. Only certificate creation and
 * tests use it; reading peer certificates does not, so importing ship-hub touches no globals.
 */
export function loadX509(): Promise<typeof X509Module> {
  x509Module ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return x509Module;
}
