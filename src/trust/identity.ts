/**
 * The node identity: a P-256 key and a self-signed certificate whose SubjectKeyIdentifier is
 * the SKI (SHIP §12.1, §12.2), created, loaded, saved and renewed here.
 *
 * Certificate profile (what ship-go creates, protocol reference §1.3): ECDSA P-256 key,
 * signature ECDSA-SHA256, X.509 v3, random positive serial, KeyUsage digitalSignature,
 * BasicConstraints CA:true, SubjectKeyIdentifier = SHA-1 over the 65-byte uncompressed public
 * point (RFC 5280 §4.2.1.2 method 1), 10 years of validity. Renewal keeps the key and with it
 * the SKI, so paired peers keep trusting us.
 *
 * This module is the public entry: issuing lives in identity-issue.ts, the files in
 * identity-files.ts; the expiry warning and the default SHIP ID are here.
 */
import { ConfigError } from '../ship/errors.js';
import { DAY_MS, DEFAULT_EXPIRY_WARNING_DAYS, type NodeIdentity } from './identity-issue.js';

export {
  createIdentity,
  DEFAULT_EXPIRY_WARNING_DAYS,
  DEFAULT_VALIDITY_DAYS,
  renewIdentity,
  type CreateIdentityOptions,
  type IdentitySubject,
  type NodeIdentity,
  type RenewOptions,
} from './identity-issue.js';
export {
  checkIdentityFiles,
  loadIdentity,
  loadOrCreateIdentity,
  reissueCertificate,
  renewCertificate,
  saveIdentity,
  type LoadOrCreateIdentityOptions,
  type ReissueCertificateOptions,
  type ReissueResult,
  type RenewCertificateOptions,
} from './identity-files.js';

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
