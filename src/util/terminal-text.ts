/**
 * Text from the network (mDNS TXT values and instance names, SHIP hello and handshake contents,
 * certificate fields, a peer's close reason) ends up in front of the operator: log lines, the
 * pairing prompt, `discover`, `probe`, `trust list`. A terminal executes control characters it is
 * given, so a device announcing the brand `Evil\x1b[2JCorp` could clear the screen, and `\r` or
 * cursor movement can overwrite a line with fake prompt text ("SKI: <the SKI you expect>").
 * Bidirectional overrides (Trojan Source, CVE-2021-42574) reorder what is displayed without
 * changing what is stored. Every remote string is therefore passed through
 * {@link safeTerminalText} where it is rendered for a person; stored values (trusted_devices.json,
 * structured log fields) stay as received, so nothing is lost and nothing is escaped twice.
 */

/**
 * C0 controls (including \t, \n and \r: a one-line field must stay one line), DEL, C1 controls
 * (U+0080–U+009F: U+009B is CSI on terminals that honour 8-bit controls), and the bidi formatting
 * characters the Trojan Source paper lists: ALM, LRM, RLM, the embeddings and overrides
 * U+202A–U+202E and the isolates U+2066–U+2069.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** What JSON.stringify leaves raw but a terminal would still act on (JSON escapes C0 itself). */
const UNSAFE_BEYOND_C0 = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const ELLIPSIS = '…';

/** `\x1b` for a code below U+0100, `\u202e` above: the notation people know from JS and C. */
function visibleEscape(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `value` with every control and bidi formatting character replaced by a visible escape
 * (`Evil\x1b[2JCorp` is shown as the 15 characters `Evil\x1b[2JCorp`), so the result is one
 * line that the terminal only displays. Printable text, including backslashes and non-ASCII
 * letters, is unchanged.
 *
 * With `maxLength`, a longer result is cut to at most `maxLength` UTF-16 units, ending in "…":
 * a 255-byte TXT value must not push the SKI of a pairing prompt off the screen. The cut never
 * splits an escape or a surrogate pair.
 */
export function safeTerminalText(value: string, maxLength?: number): string {
  const escaped = UNSAFE.test(value) ? value.replace(UNSAFE_ALL, visibleEscape) : value;
  if (maxLength === undefined || escaped.length <= maxLength) return escaped;
  const budget = Math.max(0, maxLength - ELLIPSIS.length);
  let out = '';
  // Whole pieces only: one code point of the original, or one escape.
  for (const char of value) {
    const piece = UNSAFE.test(char) ? visibleEscape(char) : char;
    if (out.length + piece.length > budget) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

/**
 * Text already laid out for a terminal by our own code, whose newlines and colour codes must stay
 * (a pino-pretty line, a JSON line): DEL, C1 controls and bidi formatting characters, which only
 * a remote value can have brought in, are written as `\u` escapes; C0 is left alone. pino-pretty
 * shows structured fields as JSON, which escapes C0 but not these, so its output goes through
 * here.
 */
export function safeRenderedText(text: string): string {
  return text.replace(
    UNSAFE_BEYOND_C0,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * `JSON.stringify(value)` safe to print on a terminal: JSON escapes C0 controls already, this
 * also writes DEL, C1 controls and bidi formatting characters as `\u` escapes. Those characters
 * can only occur inside JSON strings, where `\u` escapes mean the same character, so the line
 * parses to exactly the same value.
 */
export function terminalJson(value: unknown): string {
  return safeRenderedText(JSON.stringify(value));
}
