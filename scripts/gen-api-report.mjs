// Writes docs/api/ship-hub.api.md, the public API report (test/helpers/api-report.ts), from the
// build. Usage: npm run build && node scripts/gen-api-report.mjs
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderApiReport } from '../build/test/helpers/api-report.js';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const { text, unexported } = renderApiReport(root);
writeFileSync(new URL('../docs/api/ship-hub.api.md', import.meta.url), text);
if (unexported.length > 0) {
  process.stderr.write(
    `types used in the public API but not exported:\n  ${unexported.join('\n  ')}\n`,
  );
  process.exitCode = 1;
}
