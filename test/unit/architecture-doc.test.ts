/**
 * docs/architecture.md stays true to the code (issue 11 item 9): its layer table names every
 * folder of src/ and no import goes against it; its folder tree lists exactly the files and
 * folders of src/ (two levels deep).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** build/test/unit/ → repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');
const DOC = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');

/** Layer of a path under src/: its first folder, or the file name for src/index.ts, src/errors.ts. */
function layerOf(file: string): string {
  return relative(SRC, file).split(sep)[0]!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** `| \`src/hub\` | \`util\`, \`ship\` | … |` → hub → [util, ship]. */
function documentedLayers(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of DOC.split('\n')) {
    const match = /^\| `src\/([^`]+)` \| ([^|]*) \|/.exec(line);
    if (match === null) continue;
    rows.set(
      match[1]!,
      [...match[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
    );
  }
  return rows;
}

/** The folder tree block: top-level entry → its listed children (folders end in '/'). */
function documentedTree(): Map<string, string[]> {
  const block = DOC.split('## Folder tree')[1]?.split('```')[1];
  assert.ok(block !== undefined, 'docs/architecture.md has a "## Folder tree" code block');
  const tree = new Map<string, string[]>();
  let current = '';
  for (const line of block.split('\n')) {
    const match = /^( +)(\S+)/.exec(line);
    if (match === null) continue;
    if (match[1]!.length === 2) {
      current = match[2]!;
      tree.set(current, []);
    } else if (match[1]!.length === 4) {
      tree.get(current)?.push(match[2]!);
    }
  }
  return tree;
}

function entriesOf(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name))
    .sort();
}

describe('docs/architecture.md', () => {
  it('has a layer row for every folder of src/', () => {
    const layers = documentedLayers();
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    for (const folder of folders) assert.ok(layers.has(folder), `no layer row for src/${folder}`);
  });

  it('allows every import between folders that src/ makes (no arrow against the layers)', () => {
    const layers = documentedLayers();
    const against: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = layerOf(file);
      if (from === 'index.ts') continue; // the package entry may import anything
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const target = normalize(join(dirname(file), match[1]!)).replace(/\.js$/, '.ts');
        const to = layerOf(target);
        if (to === from) continue;
        if (!(layers.get(from) ?? []).includes(to)) {
          against.push(`${relative(ROOT, file)} imports ${match[1]!} (${from} → ${to})`);
        }
      }
    }
    assert.deepEqual(against, []);
  });

  it('lists exactly the files and folders of src/ in its folder tree', () => {
    const tree = documentedTree();
    assert.deepEqual([...tree.keys()].sort(), entriesOf(SRC), 'top level of src/');
    for (const [entry, children] of tree) {
      if (!entry.endsWith('/')) continue;
      assert.deepEqual([...children].sort(), entriesOf(join(SRC, entry)), `src/${entry}`);
    }
  });
});
