/**
 * Human output of the CLI that can carry text from devices, escaped for the terminal here, where
 * it is rendered; the trust file and the admin API keep the values as received.
 */
import { ShipHubError } from '../ship/errors.js';
import { safeTerminalText } from '../util/terminal-text.js';

/** Longest cell: a 255-byte brand must not push the other columns off the screen. */
const CELL_MAX = 64;

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : JSON.stringify(value);
  return safeTerminalText(text, CELL_MAX);
}

/**
 * Lines of a table with upper-case column headers, or "(none)" for no rows: `ship-hub pairing
 * list` and `trust list`, whose cells are what devices announced or sent in their hello (brand,
 * model, type) and the address they came from.
 */
export function formatTable(
  rows: ReadonlyArray<Record<string, unknown>>,
  columns: string[],
): string[] {
  if (rows.length === 0) return ['(none)'];
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...cells.map((row) => (row[i] ?? '').length)),
  );
  return [
    columns.map((c, i) => c.toUpperCase().padEnd(widths[i] ?? 0)).join('  '),
    ...cells.map((row) => row.map((text, i) => text.padEnd(widths[i] ?? 0)).join('  ')),
  ];
}

/**
 * The lines `ship-hub` writes to stderr for an error it ends with. A message can quote a device
 * (certificate fields, a close reason) or the daemon's answer, so each line is escaped. Only a
 * configuration error keeps its line breaks: it lists one problem of the local file a line.
 */
export function formatCliError(err: ShipHubError | TypeError): string[] {
  const lines =
    err instanceof ShipHubError && err.code === 'SHIPHUB_ERR_CONFIG'
      ? err.message.split('\n')
      : [err.message];
  const out = lines.map((line, i) => `${i === 0 ? 'ship-hub: ' : ''}${safeTerminalText(line)}`);
  if (err instanceof ShipHubError && err.hint !== undefined) {
    out.push(`  what to do: ${safeTerminalText(err.hint)}`);
  }
  return out;
}
