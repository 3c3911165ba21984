// Writes docs/errors.md from the failure tables (run `npm run build` first).
// Usage: node scripts/gen-errors-doc.mjs [--check]   (--check: exit 1 if the file is out of date)
import { readFileSync, writeFileSync } from 'node:fs';
import { renderErrorsDoc } from '../build/src/ops/errors-doc.js';

const path = new URL('../docs/errors.md', import.meta.url);
const text = renderErrorsDoc();
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== text) {
    console.error('docs/errors.md is out of date: run node scripts/gen-errors-doc.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
}
