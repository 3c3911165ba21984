/**
 * docs/metrics.md stays true to src/ops/metrics.ts (issue 11 item 9): every series the registry
 * exposes is documented with its type and known label values, and every documented series exists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHubMetrics } from '../../../src/ops/metrics.js';

/** build/test/unit/ops/ → repository root. */
const ROOT = new URL('../../../../', import.meta.url);

interface Series {
  type: string;
  /** label → known values; empty for an open label such as `reason`. */
  labels: Map<string, string[]>;
}

/** Rows `| \`shiphub_x\` | type | \`label\` = \`a\`, \`b\` | meaning |` of the Prometheus table. */
function documented(): Map<string, Series> {
  const doc = readFileSync(new URL('docs/metrics.md', ROOT), 'utf8');
  const rows = new Map<string, Series>();
  for (const line of doc.split('\n')) {
    const match = /^\| `(shiphub_[a-z_]+)` \| ([a-z]+) \| ([^|]*) \|/.exec(line);
    if (match === null) continue;
    const labels = new Map<string, string[]>();
    const [label, values] = match[3]!.split('=');
    const name = /`([a-z_]+)`/.exec(label ?? '')?.[1];
    if (name !== undefined) {
      labels.set(
        name,
        [...(values ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1]!),
      );
    }
    rows.set(match[1]!, { type: match[2]!, labels });
  }
  return rows;
}

/** The series of the registry without prom-client's default process metrics. */
async function exposed(): Promise<Map<string, Series>> {
  const text = await createHubMetrics({ defaultMetrics: false }).text();
  const series = new Map<string, Series>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    series.set(match[1]!, { type: match[2]!, labels: new Map() });
  }
  for (const match of text.matchAll(/^(shiphub_[a-z_]+)\{([^}]*)\}/gm)) {
    const name = match[1]!.replace(/_(bucket|sum|count)$/, '');
    const entry = series.get(name) ?? series.get(match[1]!);
    if (entry === undefined) continue;
    for (const pair of match[2]!.matchAll(/([a-z_]+)="([^"]*)"/g)) {
      if (pair[1] === 'le') continue;
      const values = entry.labels.get(pair[1]!) ?? [];
      if (!values.includes(pair[2]!)) values.push(pair[2]!);
      entry.labels.set(pair[1]!, values);
    }
  }
  return series;
}

describe('docs/metrics.md', () => {
  it('documents exactly the series of src/ops/metrics.ts, with their types', async () => {
    const doc = documented();
    const code = await exposed();
    assert.deepEqual([...doc.keys()].sort(), [...code.keys()].sort());
    for (const [name, series] of code) assert.equal(doc.get(name)?.type, series.type, name);
  });

  it('lists the label values the registry starts with', async () => {
    const doc = documented();
    for (const [name, series] of await exposed()) {
      for (const [label, values] of series.labels) {
        assert.deepEqual(
          [...(doc.get(name)?.labels.get(label) ?? [])].sort(),
          [...values].sort(),
          `${name}{${label}}`,
        );
      }
    }
  });
});
