/**
 * SKI (Subject Key Identifier), the identity of a SHIP node (SHIP §12.2): 20 bytes, written as
 * 40 lowercase hexadecimal digits without separators, as ship-go announces it in mDNS.
 */
declare const skiBrand: unique symbol;
/** A normalised SKI: exactly 40 lowercase hex digits. Build one with {@link parseSki}. */
export type Ski = string & { readonly [skiBrand]: true };

const SKI_HEX = /^[0-9a-f]{40}$/;
/** Separators people and vendors put into SKIs: spaces, dashes (ship-go), colons and dots (WWCP). */
const SKI_SEPARATORS = /[\s\-:.]/g;

/** Normalises an SKI typed by a person or sent by a peer; returns undefined if it is not one. */
export function parseSki(text: string): Ski | undefined {
  const normalised = text.replace(SKI_SEPARATORS, '').toLowerCase();
  return SKI_HEX.test(normalised) ? (normalised as Ski) : undefined;
}

/** Like {@link parseSki} but throws a TypeError naming the bad input. */
export function toSki(text: string): Ski {
  const ski = parseSki(text);
  if (ski === undefined) {
    throw new TypeError(
      `not an SKI: "${text}" (expected 40 hexadecimal digits; spaces, dashes and colons are allowed)`,
    );
  }
  return ski;
}

/** True if `text` already is a normalised SKI. */
export function isSki(text: string): text is Ski {
  return SKI_HEX.test(text);
}

/** Numeric order of the 20 bytes; on normalised lowercase hex, string order is the same. */
export function compareSki(a: Ski, b: Ski): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** SKI from 20 raw bytes. */
export function skiFromBytes(bytes: Uint8Array): Ski {
  if (bytes.length !== 20) throw new TypeError(`an SKI has 20 bytes, got ${bytes.length}`);
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex as Ski;
}

/** Short form for logs and prompts, as in the seed ("a1b2c3d4e5f6..."). */
export function shortSki(ski: string): string {
  return ski.length > 12 ? `${ski.slice(0, 12)}...` : ski;
}
