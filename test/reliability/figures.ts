/**
 * Figures for docs/reliability.md: when RELIABILITY_FIGURES names a file, a test appends its
 * measured figures there as one JSON line ({ name, ...figures }); scripts/reliability.mjs runs
 * the tests with it set and writes the document from the lines. Without it, nothing happens.
 */
import { appendFileSync } from 'node:fs';

export function recordFigures(name: string, figures: Record<string, unknown>): void {
  const file = process.env.RELIABILITY_FIGURES;
  if (file === undefined || file === '') return;
  appendFileSync(file, `${JSON.stringify({ name, ...figures })}\n`);
}
