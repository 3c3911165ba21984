/**
 * JSON text and UTF-8 helpers shared by the SHIP encoders (SHIP §13.4.2 framing, SHIP §11 JSON).
 *
 * We aim to be byte-identical with ship-go, the implementation most SHIP devices were tested
 * against: its Go `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings, which
 * `JSON.stringify` does not. Both forms are the same JSON; the escaping only makes golden-vector
 * comparisons exact and keeps us indistinguishable from ship-go on the wire.
 *
 * Control characters follow `JSON.stringify` (`\b`, `\f`, `\n`, `\r`, `\t`, otherwise `\u00XX`),
 * which matches Go 1.22 and later; older Go wrote `\u0008`/`\u000c`. No SHIP field carries them.
 */

/** The characters Go's json.Marshal escapes and JSON.stringify leaves as they are. */
const GO_ONLY_ESCAPES = /[<>&\u2028\u2029]/g;

function goEscape(char: string): string {
  switch (char) {
    case '<':
      return '\\u003c';
    case '>':
      return '\\u003e';
    case '&':
      return '\\u0026';
    case '\u2028':
      return '\\u2028';
    default:
      return '\\u2029';
  }
}

/**
 * Applies Go's extra escaping to JSON text produced by `JSON.stringify`. Safe on whole documents:
 * outside strings `JSON.stringify` emits none of these characters.
 */
export function escapeLikeGo(json: string): string {
  return json.replace(GO_ONLY_ESCAPES, goEscape);
}

/** A JSON string literal as ship-go writes it. */
export function jsonString(value: string): string {
  return escapeLikeGo(JSON.stringify(value));
}

/**
 * One TextEncoder for the module. Encoding is stateless (unlike a streaming decoder), so sharing
 * it holds no per-connection state, in line with the house style's "no module-level state".
 */
const utf8Encoder = new TextEncoder();

/**
 * A SHIP message (SHIP §13.4.2): the type byte followed by the UTF-8 bytes of `text`.
 *
 * Hot path for data messages: the first attempt allocates exactly `1 + text.length` bytes, which
 * is the final size when the text is ASCII (every JSON SHIP produces, unless a string value holds
 * non-ASCII characters). Otherwise the remainder is encoded into a worst-case buffer and copied
 * once to its exact size, so callers always get an array that owns its whole buffer.
 */
export function frameText(typeByte: number, text: string): Uint8Array {
  const length = text.length;
  const ascii = new Uint8Array(length + 1);
  ascii[0] = typeByte;
  const first = utf8Encoder.encodeInto(text, ascii.subarray(1));
  // Every UTF-16 code unit takes at least one UTF-8 byte, so "all read" means "exactly full".
  if (first.read === length) return ascii;
  const done = 1 + first.written;
  // encodeInto stops on a code point boundary, so the rest never starts with half a pair.
  const rest = text.slice(first.read);
  const wide = new Uint8Array(done + rest.length * 3);
  wide.set(ascii.subarray(0, done));
  const second = utf8Encoder.encodeInto(rest, wide.subarray(done));
  return wide.slice(0, done + second.written);
}
