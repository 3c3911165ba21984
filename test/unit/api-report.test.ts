/**
 * The public API is deliberate (issue 11 item 6): the committed report docs/api/ship-hub.api.md
 * is what the build exports, and every type used in an exported signature is exported too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderApiReport } from '../helpers/api-report.js';

/** build/test/unit/ → repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

describe('public API (src/index.ts)', () => {
  const report = renderApiReport(ROOT);

  it('matches the committed report docs/api/ship-hub.api.md', () => {
    const committed = readFileSync(`${ROOT}/docs/api/ship-hub.api.md`, 'utf8');
    assert.equal(
      committed,
      report.text,
      'the public API changed: npm run build && node scripts/gen-api-report.mjs, and review the diff',
    );
  });

  it('exports every type its signatures use', () => {
    assert.deepEqual(report.unexported, []);
  });

  it('keeps the internals out: no handshake machine, no hub policy functions', () => {
    for (const internal of ['step', 'PHASE_OF', 'DEFAULT_SME_LIMITS', 'decideDoubleConnection']) {
      assert.ok(!report.text.includes(`\`${internal}\`\n`), internal);
    }
    assert.ok(report.text.includes('## function `createHub`'));
  });
});
