/**
 * README's library section lists the hub's events: one table row per member of `HubEvents`
 * (src/hub/types.ts), no row for an event that does not exist.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** build/test/unit/ → repository root. */
const ROOT = new URL('../../../', import.meta.url);

describe('README.md', () => {
  it('has one event table row per HubEvents member', () => {
    const readme = readFileSync(new URL('README.md', ROOT), 'utf8');
    const types = readFileSync(new URL('src/hub/types.ts', ROOT), 'utf8');
    const start = types.indexOf('export interface HubEvents {');
    assert.ok(start >= 0, 'src/hub/types.ts declares HubEvents');
    const body = types.slice(start, types.indexOf('\n}', start));
    const events = [...body.matchAll(/^ {2}(\w+): \[/gm)].map((m) => m[1]!).sort();
    const lines = readme.slice(readme.indexOf('| Event | Arguments | When |')).split('\n');
    const table = lines.slice(
      0,
      lines.findIndex((line) => !line.startsWith('|')),
    );
    const rows = table.flatMap((line) => /^\| `(\w+)` \|/.exec(line)?.[1] ?? []);
    assert.ok(events.length > 10, 'found the events');
    assert.deepEqual([...rows].sort(), events);
  });
});
