import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderErrorsDoc } from '../../../src/ops/errors-doc.js';
import { FAILURES } from '../../../src/errors.js';

/** build/test/unit/ops/ → repository root. */
const ROOT = new URL('../../../../', import.meta.url);

describe('docs/errors.md', () => {
  it('is what the failure tables generate (node scripts/gen-errors-doc.mjs)', () => {
    const committed = readFileSync(new URL('docs/errors.md', ROOT), 'utf8');
    assert.equal(
      committed,
      renderErrorsDoc(),
      'docs/errors.md differs from the failure tables: npm run build && node scripts/gen-errors-doc.mjs',
    );
  });

  it('lists every code once, with its class, close and hint', () => {
    const doc = renderErrorsDoc();
    for (const [code, info] of Object.entries(FAILURES)) {
      const rows = doc.split('\n').filter((line) => line.startsWith(`| \`${code}\` |`));
      assert.equal(rows.length, 1, code);
      assert.ok(rows[0]!.includes(`| ${info.errorClass} |`), code);
      assert.ok(rows[0]!.includes(info.hint), code);
      if (info.close !== undefined) assert.ok(rows[0]!.includes(`| ${info.close.code} `), code);
    }
  });
});
