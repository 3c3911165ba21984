import type { Readable } from 'node:stream';

/**
 * Collects a child's NDJSON log lines (the daemon logs JSON when stdout is not a terminal) into
 * `lines`; a line that is not JSON is kept as `{ msg }`. `onLine` runs after each line.
 */
export function collectJsonLines(
  stream: Readable,
  lines: Array<Record<string, unknown>>,
  onLine?: () => void,
): void {
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
      onLine?.();
    }
  });
}
