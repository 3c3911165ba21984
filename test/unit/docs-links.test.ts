/**
 * The docs stay inside the repository (issue 11 item 9, "no link out of the repository"): every
 * markdown link in README.md and docs/ points to a file of the repository that exists, and no
 * page names a web address other than loopback or the reserved example domains.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** build/test/unit/ → repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function pages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(ROOT, 'docs', name));
  return [join(ROOT, 'README.md'), ...docs];
}

/** Addresses that are not "out of the repository": this machine and RFC 2606 examples. */
const LOCAL_ADDRESS = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\]|[a-z.-]*example)\b/;

describe('README.md and docs/', () => {
  it('link only to files of the repository, and those exist', () => {
    const broken: string[] = [];
    for (const page of pages()) {
      const text = readFileSync(page, 'utf8');
      for (const match of text.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        const target = match[1]!;
        if (!existsSync(join(dirname(page), target))) {
          broken.push(`${relative(ROOT, page)} → ${target}`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('name no web address outside this machine', () => {
    const outside: string[] = [];
    for (const page of pages()) {
      const text = readFileSync(page, 'utf8');
      for (const match of text.matchAll(/https?:\/\/[^\s)>`'"]+/g)) {
        if (!LOCAL_ADDRESS.test(match[0])) outside.push(`${relative(ROOT, page)}: ${match[0]}`);
      }
    }
    assert.deepEqual(outside, []);
  });
});
