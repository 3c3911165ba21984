/** Small helpers for values that came out of JSON.parse. */

/** Object (not null, not an array): what JSON calls an object. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A value from a local file or setting for "expected …, got …" messages: its JSON text, cut to
 * `maxChars`; `nothing` for a missing value. For values a peer sent, the SHIP codec uses its own
 * `describe` (src/ship/codec/elements.ts), which never echoes object contents.
 */
export function describeValue(value: unknown, maxChars = 60): string {
  if (value === undefined) return 'nothing';
  let rendered: string;
  try {
    // undefined for functions and symbols, whatever its type says.
    const text = JSON.stringify(value) as unknown;
    rendered = typeof text === 'string' ? text : typeof value;
  } catch {
    rendered = typeof value; // a BigInt or a cycle: never in parsed JSON, but never throw here
  }
  return rendered.length > maxChars ? `${rendered.slice(0, maxChars - 3)}...` : rendered;
}
