/**
 * Reading X.509 certificates the way SHIP needs it: the node identity is the SKI (SHIP §12.2),
 * i.e. SHA-1 over the `subjectPublicKey` BIT STRING (RFC 5280 §4.2.1.2 method 1), and the
 * certificate must carry the same 20 bytes in its SubjectKeyIdentifier extension.
 *
 * Peer certificates are read with a tiny, deliberately lenient DER walk instead of a strict
 * ASN.1 parser: it only looks at the SubjectPublicKeyInfo, the validity and the extension list,
 * and never interprets BOOLEAN contents, so certificates with the Elli quirk (BOOLEAN TRUE
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

// ---------------------------------------------------------------------------------------------
// Minimal DER reader
// ---------------------------------------------------------------------------------------------

const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_SEQUENCE = 0x30;
const TAG_CONTEXT_0 = 0xa0;
const TAG_CONTEXT_3 = 0xa3;

/** One tag-length-value element; its contents are `bytes[start, end)`. */
interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly offset: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

class DerError extends Error {}

/** The byte at `offset`; a read past the end is a truncated certificate. */
function byteAt(bytes: Uint8Array, offset: number): number {
  const byte = bytes[offset];
  if (byte === undefined) throw new DerError(`truncated at byte ${offset}`);
  return byte;
}

function readTlv(bytes: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new DerError(`truncated element at byte ${offset}`);
  const tag = byteAt(bytes, offset);
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at byte ${offset}`);
  let length = byteAt(bytes, offset + 1);
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // 0x80 is BER's indefinite length, which DER forbids; 4 length bytes are plenty for X.509.
    if (count === 0 || count > 4) throw new DerError(`unsupported length form at byte ${offset}`);
    if (start + count > limit) throw new DerError(`truncated length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + byteAt(bytes, start + i);
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new DerError(`element at byte ${offset} runs past its container`);
  return { tag, offset, start, end };
}

function expectTag(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) {
    throw new DerError(
      `${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`,
    );
  }
  return tlv;
}

/** The children of a constructed element. */
function children(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let offset = parent.start;
  while (offset < parent.end) {
    const child = readTlv(bytes, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

function decodeOid(bytes: Uint8Array, tlv: Tlv): string {
  expectTag(tlv, TAG_OID, 'object identifier');
  const parts: number[] = [];
  let value = 0;
  for (let i = tlv.start; i < tlv.end; i++) {
    const b = byteAt(bytes, i);
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  return parts.join('.');
}

function decodeTime(bytes: Uint8Array, tlv: Tlv): Date {
  const text = Buffer.from(bytes.subarray(tlv.start, tlv.end)).toString('latin1');
  let match: RegExpExecArray | null;
  if (tlv.tag === TAG_UTC_TIME) {
    // RFC 5280 §4.1.2.5.1: YYMMDDHHMMSSZ, YY >= 50 means 19YY.
    match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text);
    if (match) {
      const yy = Number(match[1]);
      const year = yy >= 50 ? 1900 + yy : 2000 + yy;
      return new Date(
        Date.UTC(
          year,
          Number(match[2]) - 1,
          Number(match[3]),
          Number(match[4]),
          Number(match[5]),
          Number(match[6] ?? 0),
        ),
      );
    }
  } else if (tlv.tag === TAG_GENERALIZED_TIME) {
    match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(text);
    if (match) {
      return new Date(
        Date.UTC(
          Number(match[1]),
          Number(match[2]) - 1,
          Number(match[3]),
          Number(match[4]),
          Number(match[5]),
          Number(match[6] ?? 0),
        ),
      );
    }
  }
  throw new DerError(`unreadable time "${text}"`);
}

// ---------------------------------------------------------------------------------------------
// Certificate fields
// ---------------------------------------------------------------------------------------------

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';

const KEY_TYPES: Readonly<Record<string, string>> = {
  [OID_EC_PUBLIC_KEY]: 'ec',
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.10': 'rsa-pss',
  '1.2.840.10040.4.1': 'dsa',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
};

const CURVES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
};

const SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.101.112': 'Ed25519',
};

/** Reads a SubjectPublicKeyInfo element (a key on its own, not inside a certificate). */
function readSpki(
  bytes: Uint8Array,
  spki: Tlv,
): { readonly publicKey: Uint8Array; readonly keyAlgorithmOid: string } {
  expectTag(spki, TAG_SEQUENCE, 'SubjectPublicKeyInfo');
  const [algorithm, bitString] = children(bytes, spki);
  if (algorithm === undefined || bitString === undefined) {
    throw new DerError('SubjectPublicKeyInfo is incomplete');
  }
  const [oid] = children(bytes, expectTag(algorithm, TAG_SEQUENCE, 'key algorithm'));
  if (oid === undefined) throw new DerError('key algorithm without an OID');
  const keyAlgorithmOid = decodeOid(bytes, oid);
  expectTag(bitString, TAG_BIT_STRING, 'subjectPublicKey');
  if (bitString.end <= bitString.start) throw new DerError('empty subjectPublicKey');
  return {
    // The first content byte of a BIT STRING counts the unused bits (0 for keys).
    publicKey: bytes.subarray(bitString.start + 1, bitString.end),
    keyAlgorithmOid,
  };
}

/** The KeyIdentifier inside the extnValue OCTET STRING of a SubjectKeyIdentifier extension. */
function keyIdentifier(bytes: Uint8Array, extnValue: Tlv | undefined): Uint8Array {
  if (extnValue === undefined) throw new DerError('SubjectKeyIdentifier without a value');
  const inner = expectTag(
    readTlv(bytes, extnValue.start, extnValue.end),
    TAG_OCTET_STRING,
    'SubjectKeyIdentifier',
  );
  return bytes.subarray(inner.start, inner.end);
}

/** What {@link inspectCertificate} decodes beyond the walk. */
interface CertificateDetails {
  readonly publicKey: Uint8Array;
  readonly keyAlgorithmOid: string;
  readonly curveOid: string | undefined;
  readonly signatureAlgorithmOid: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  /** DER of issuer and subject Name, compared to tell a self-issued certificate. */
  readonly issuerDer: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly skiExtensions: readonly Uint8Array[];
}

/** Decodes the fields {@link walkCertificate} only located. */
function readDetails(der: Uint8Array, walk: CertificateWalk): CertificateDetails {
  const { certificate, tbs, fieldsBeforeKey } = walk;
  // version [0] EXPLICIT is absent in v1 certificates.
  const base = fieldsBeforeKey[0]?.tag === TAG_CONTEXT_0 ? 1 : 0;
  const field = (index: number, name: string): Tlv => {
    const tlv = fieldsBeforeKey[index];
    if (tlv === undefined) throw new DerError(`${name} missing`);
    return tlv;
  };
  const serial = expectTag(field(base, 'serialNumber'), TAG_INTEGER, 'serialNumber');
  const issuer = field(base + 2, 'issuer');
  const validity = field(base + 3, 'validity');
  const subject = field(base + 4, 'subject');
  const [notBefore, notAfter] = children(der, expectTag(validity, TAG_SEQUENCE, 'validity'));
  if (notBefore === undefined || notAfter === undefined) throw new DerError('validity incomplete');
  if (tbs.end >= certificate.end) throw new DerError('Certificate is incomplete');
  const signatureAlgorithm = readTlv(der, tbs.end, certificate.end);
  const [sigOid] = children(der, expectTag(signatureAlgorithm, TAG_SEQUENCE, 'signature'));
  if (sigOid === undefined) throw new DerError('signature algorithm without an OID');
  const keyAlgorithmOid = decodeOid(der, walk.keyAlgorithm);
  return {
    publicKey: walk.publicKey,
    keyAlgorithmOid,
    curveOid:
      keyAlgorithmOid === OID_EC_PUBLIC_KEY && walk.curve?.tag === TAG_OID
        ? decodeOid(der, walk.curve)
        : undefined,
    signatureAlgorithmOid: decodeOid(der, sigOid),
    notBefore: decodeTime(der, notBefore),
    notAfter: decodeTime(der, notAfter),
    serialNumber: Buffer.from(der.subarray(serial.start, serial.end)).toString('hex'),
    issuerDer: der.subarray(issuer.offset, issuer.end),
    subjectDer: der.subarray(subject.offset, subject.end),
    skiExtensions: walk.skiExtensions,
  };
}

/** DER of the OID id-ecPublicKey (1.2.840.10045.2.1), tag and length included. */
const DER_OID_EC_PUBLIC_KEY = Uint8Array.of(0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
/** DER of the OID prime256v1 / secp256r1 (1.2.840.10045.3.1.7), tag and length included. */
const DER_OID_P256 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);
/** DER of the OID id-ce-subjectKeyIdentifier (2.5.29.14), tag and length included. */
const DER_OID_SUBJECT_KEY_IDENTIFIER = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x0e);

/** True if `bytes[offset, end)` holds exactly the bytes of `expected`. */
function rangeEquals(
  bytes: Uint8Array,
  offset: number,
  end: number,
  expected: Uint8Array,
): boolean {
  if (end - offset !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[offset + i] !== expected[i]) return false;
  return true;
}

/**
 * What the one walk over a certificate finds: what identifying a peer needs (SHIP §12.2), decoded,
 * and where the other fields are, not decoded (only {@link inspectCertificate} decodes them).
 */
interface CertificateWalk {
  /** The outer Certificate SEQUENCE and its TBSCertificate. */
  readonly certificate: Tlv;
  readonly tbs: Tlv;
  /** The TBSCertificate fields before the key: [version,] serial, signature, issuer, validity, subject. */
  readonly fieldsBeforeKey: readonly Tlv[];
  /** The key algorithm OID element (tag, length, value), compared as bytes. */
  readonly keyAlgorithm: Tlv;
  /** The key algorithm's parameters element (the named curve for EC keys), if any. */
  readonly curve: Tlv | undefined;
  /** Contents of the subjectPublicKey BIT STRING, without the unused-bits byte. */
  readonly publicKey: Uint8Array;
  /** Every SubjectKeyIdentifier extension value found (RFC 5280 allows one). */
  readonly skiExtensions: readonly Uint8Array[];
}

/**
 * The one DER walk over a certificate, in one pass without building child lists, strings or
 * dates: it runs for every TLS handshake, on both ends, and most of the time in V8's interpreter,
 * so every step counts (docs/performance.md). {@link inspectCertificate} decodes the other fields
 * from the positions it records.
 */
function walkCertificate(der: Uint8Array): CertificateWalk {
  const certificate = expectTag(readTlv(der, 0, der.length), TAG_SEQUENCE, 'Certificate');
  const tbs = expectTag(
    readTlv(der, certificate.start, certificate.end),
    TAG_SEQUENCE,
    'TBSCertificate',
  );
  let field = readTlv(der, tbs.start, tbs.end);
  // version [0] EXPLICIT is absent in v1 certificates; then serial, signature, issuer, validity
  // and subject come before the SubjectPublicKeyInfo.
  let skip = field.tag === TAG_CONTEXT_0 ? 6 : 5;
  const fieldsBeforeKey: Tlv[] = [];
  while (skip-- > 0) {
    if (field.end >= tbs.end) throw new DerError('TBSCertificate is incomplete');
    fieldsBeforeKey.push(field);
    field = readTlv(der, field.end, tbs.end);
  }
  const spki = expectTag(field, TAG_SEQUENCE, 'SubjectPublicKeyInfo');
  const algorithm = expectTag(readTlv(der, spki.start, spki.end), TAG_SEQUENCE, 'key algorithm');
  if (algorithm.end >= spki.end) throw new DerError('SubjectPublicKeyInfo is incomplete');
  if (algorithm.start >= algorithm.end) throw new DerError('key algorithm without an OID');
  const keyAlgorithm = expectTag(
    readTlv(der, algorithm.start, algorithm.end),
    TAG_OID,
    'object identifier',
  );
  // For EC keys the parameters are the named curve's OID (RFC 5480 §2.1.1).
  const curve =
    keyAlgorithm.end < algorithm.end ? readTlv(der, keyAlgorithm.end, algorithm.end) : undefined;
  const bitString = expectTag(
    readTlv(der, algorithm.end, spki.end),
    TAG_BIT_STRING,
    'subjectPublicKey',
  );
  if (bitString.end <= bitString.start) throw new DerError('empty subjectPublicKey');

  const skiExtensions: Uint8Array[] = [];
  // issuerUniqueID [1] and subjectUniqueID [2] may come before extensions [3].
  for (let offset = spki.end; offset < tbs.end;) {
    const wrapper = readTlv(der, offset, tbs.end);
    offset = wrapper.end;
    if (wrapper.tag !== TAG_CONTEXT_3 || wrapper.start >= wrapper.end) continue;
    const list = expectTag(readTlv(der, wrapper.start, wrapper.end), TAG_SEQUENCE, 'extensions');
    for (let at = list.start; at < list.end;) {
      const extension = expectTag(readTlv(der, at, list.end), TAG_SEQUENCE, 'extension');
      at = extension.end;
      if (extension.start >= extension.end) continue;
      const oid = expectTag(readTlv(der, extension.start, extension.end), TAG_OID, 'extnID');
      if (!rangeEquals(der, oid.offset, oid.end, DER_OID_SUBJECT_KEY_IDENTIFIER)) continue;
      // extnID, critical BOOLEAN DEFAULT FALSE (contents not interpreted: Elli writes 0x01 for
      // TRUE), extnValue OCTET STRING wrapping the DER of KeyIdentifier ::= OCTET STRING.
      let value: Tlv | undefined;
      for (let part = oid.end; part < extension.end && value === undefined;) {
        const candidate = readTlv(der, part, extension.end);
        part = candidate.end;
        if (candidate.tag === TAG_OCTET_STRING) value = candidate;
      }
      skiExtensions.push(keyIdentifier(der, value));
    }
  }
  return {
    certificate,
    tbs,
    fieldsBeforeKey,
    keyAlgorithm,
    curve,
    // The first content byte of a BIT STRING counts the unused bits (0 for keys).
    publicKey: der.subarray(bitString.start + 1, bitString.end),
    skiExtensions,
  };
}

function sha1(data: Uint8Array): Uint8Array {
  return createHash('sha1').update(data).digest();
}

function hex(bytes: Uint8Array): string {
  // A view, not a copy.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

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
