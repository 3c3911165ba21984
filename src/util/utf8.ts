/** UTF-8 byte limits on text (DNS TXT values, WebSocket close reasons). */

const utf8 = new TextEncoder();

/** Length of `text` in UTF-8 bytes. */
export function utf8ByteLength(text: string): number {
  return utf8.encode(text).length;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (utf8ByteLength(text) <= maxBytes) return text;
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = utf8ByteLength(char);
    if (used + size > maxBytes) break;
    out += char;
    used += size;
  }
  return out;
}
