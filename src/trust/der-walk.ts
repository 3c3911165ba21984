/**
 * The lenient DER walk over X.509 certificates (RFC 5280 §4.1) that certificate.ts builds on: a
 * minimal tag-length-value reader, the lookup tables for key types, curves and signature
 * algorithms, and the walk that locates the SubjectPublicKeyInfo, the validity and the
 * SubjectKeyIdentifier extension (the SKI of SHIP §12.2) without interpreting BOOLEAN contents,
 * so certificates with the Elli quirk (protocol reference §1.3 / §11 item 12) are read like any
 * other. Pure byte work plus SHA-1; no policy: what to accept is decided in certificate.ts.
 */
import { createHash } from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// Minimal DER reader
// ---------------------------------------------------------------------------------------------

export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;
export const TAG_CONTEXT_0 = 0xa0;
export const TAG_CONTEXT_3 = 0xa3;

/** One tag-length-value element; its contents are `bytes[start, end)`. */
export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly offset: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

export class DerError extends Error {}

/** The byte at `offset`; a read past the end is a truncated certificate. */
function byteAt(bytes: Uint8Array, offset: number): number {
  const byte = bytes[offset];
  if (byte === undefined) throw new DerError(`truncated at byte ${offset}`);
  return byte;
}

export function readTlv(bytes: Uint8Array, offset: number, limit: number): Tlv {
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

export function expectTag(tlv: Tlv, tag: number, what: string): Tlv {
  if (tlv.tag !== tag) {
    throw new DerError(
      `${what}: expected tag 0x${tag.toString(16)}, found 0x${tlv.tag.toString(16)}`,
    );
  }
  return tlv;
}

/** The children of a constructed element. */
export function children(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let offset = parent.start;
  while (offset < parent.end) {
    const child = readTlv(bytes, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

export function decodeOid(bytes: Uint8Array, tlv: Tlv): string {
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

export function decodeTime(bytes: Uint8Array, tlv: Tlv): Date {
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

export const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';

export const KEY_TYPES: Readonly<Record<string, string>> = {
  [OID_EC_PUBLIC_KEY]: 'ec',
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.10': 'rsa-pss',
  '1.2.840.10040.4.1': 'dsa',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
};

export const CURVES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
};

export const SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
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
export function readSpki(
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
export function keyIdentifier(bytes: Uint8Array, extnValue: Tlv | undefined): Uint8Array {
  if (extnValue === undefined) throw new DerError('SubjectKeyIdentifier without a value');
  const inner = expectTag(
    readTlv(bytes, extnValue.start, extnValue.end),
    TAG_OCTET_STRING,
    'SubjectKeyIdentifier',
  );
  return bytes.subarray(inner.start, inner.end);
}

/** What {@link inspectCertificate} decodes beyond the walk. */
export interface CertificateDetails {
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
export function readDetails(der: Uint8Array, walk: CertificateWalk): CertificateDetails {
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
export const DER_OID_EC_PUBLIC_KEY = Uint8Array.of(
  0x06,
  0x07,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x02,
  0x01,
);
/** DER of the OID prime256v1 / secp256r1 (1.2.840.10045.3.1.7), tag and length included. */
export const DER_OID_P256 = Uint8Array.of(
  0x06,
  0x08,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x03,
  0x01,
  0x07,
);
/** DER of the OID id-ce-subjectKeyIdentifier (2.5.29.14), tag and length included. */
export const DER_OID_SUBJECT_KEY_IDENTIFIER = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x0e);

/** True if `bytes[offset, end)` holds exactly the bytes of `expected`. */
export function rangeEquals(
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
export interface CertificateWalk {
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
export function walkCertificate(der: Uint8Array): CertificateWalk {
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

export function sha1(data: Uint8Array): Uint8Array {
  return createHash('sha1').update(data).digest();
}

export function hex(bytes: Uint8Array): string {
  // A view, not a copy.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
