/**
 * Properties of the partial/delete merge rules (spine-protocol.md §3.2, §3.3), with fast-check
 * over measurementListData (keys measurementId + valueType):
 * - a partial notify keeps every stored item it does not name, and afterwards every sent item
 *   is present with its sent fields;
 * - applying the same partial notify twice equals applying it once;
 * - delete with a measurementId selector removes exactly the items with that id;
 * - a full notify (no filter) is a snapshot: the result is what was sent;
 * - mergeFunctionData never throws on arbitrary stored or received data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergeFunctionData } from '../../src/spine/merge/merge.js';
import type { SpineCmd } from '../../src/spine/model/datagram.js';

interface Measurement {
  measurementId: number;
  valueType: string;
  value: { number: number; scale: number };
  valueState?: string;
}

const arbMeasurement: fc.Arbitrary<Measurement> = fc.record(
  {
    measurementId: fc.nat({ max: 8 }),
    valueType: fc.constantFrom('value', 'averageValue', 'maxValue'),
    value: fc.record(
      { number: fc.integer(), scale: fc.integer({ min: -3, max: 3 }) },
      { noNullPrototype: true },
    ),
    valueState: fc.constantFrom('normal', 'outOfRange', 'error'),
  },
  { requiredKeys: ['measurementId', 'valueType', 'value'], noNullPrototype: true },
);

/** Lists with unique keys, as a server holds them. */
const arbList = fc.uniqueArray(arbMeasurement, {
  selector: (m) => `${m.measurementId}/${m.valueType}`,
  maxLength: 10,
});

const key = (m: { measurementId: number; valueType: string }) =>
  `${m.measurementId}/${m.valueType}`;

function partial(items: Measurement[]): SpineCmd {
  return {
    function: 'measurementListData',
    filter: [{ cmdControl: 'partial' }],
    data: { name: 'measurementListData', value: { measurementData: items } },
  };
}

function listOf(data: Record<string, unknown>): Measurement[] {
  return data.measurementData as Measurement[];
}

describe('merge properties', () => {
  it('partial notify: unnamed items stay, named items carry the sent fields, keys stay unique', () => {
    fc.assert(
      fc.property(arbList, arbList, (stored, sent) => {
        const result = mergeFunctionData({ measurementData: stored }, partial(sent), 'notify');
        assert.ok(result.ok);
        const merged = listOf(result.data);
        const sentKeys = new Set(sent.map(key));
        for (const item of stored) {
          if (sentKeys.has(key(item))) continue;
          assert.deepEqual(
            merged.find((m) => key(m) === key(item)),
            item,
          );
        }
        for (const item of sent) {
          const found = merged.find((m) => key(m) === key(item));
          assert.ok(found);
          for (const [field, value] of Object.entries(item))
            assert.deepEqual(found[field as keyof Measurement], value);
        }
        assert.equal(new Set(merged.map(key)).size, merged.length);
        assert.equal(merged.length, new Set([...stored.map(key), ...sent.map(key)]).size);
        const ids = merged.map((m) => m.measurementId);
        assert.deepEqual(
          ids,
          [...ids].sort((a, b) => a - b),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('applying the same partial notify twice equals applying it once', () => {
    fc.assert(
      fc.property(arbList, arbList, (stored, sent) => {
        const once = mergeFunctionData({ measurementData: stored }, partial(sent), 'notify');
        assert.ok(once.ok);
        const twice = mergeFunctionData(once.data, partial(sent), 'notify');
        assert.ok(twice.ok);
        assert.deepEqual(twice.data, once.data);
      }),
      { numRuns: 1000 },
    );
  });

  it('delete with a measurementId selector removes exactly those items', () => {
    fc.assert(
      fc.property(arbList, fc.nat({ max: 8 }), (stored, id) => {
        const result = mergeFunctionData(
          { measurementData: stored },
          {
            function: 'measurementListData',
            filter: [
              {
                cmdControl: 'delete',
                selectors: { name: 'measurementListDataSelectors', value: { measurementId: id } },
              },
            ],
            data: { name: 'measurementListData', value: {} },
          },
          'notify',
        );
        assert.ok(result.ok);
        assert.deepEqual(
          listOf(result.data),
          stored.filter((m) => m.measurementId !== id),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('a notify without filter is a snapshot', () => {
    fc.assert(
      fc.property(arbList, arbList, (stored, sent) => {
        const result = mergeFunctionData(
          { measurementData: stored },
          { data: { name: 'measurementListData', value: { measurementData: sent } } },
          'notify',
        );
        assert.ok(result.ok);
        assert.deepEqual(result.data, { measurementData: sent });
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary data and filters', () => {
    fc.assert(
      fc.property(
        fc.anything({ maxDepth: 4 }),
        fc.anything({ maxDepth: 4 }),
        fc.anything({ maxDepth: 3 }),
        fc.constantFrom(
          'measurementListData',
          'loadControlLimitListData',
          'deviceDiagnosisHeartbeatData',
          'x',
        ),
        fc.constantFrom('notify' as const, 'reply' as const, 'write' as const),
        (stored, value, selector, name, mode) => {
          mergeFunctionData(
            stored,
            {
              filter: [
                {
                  cmdControl: 'delete',
                  selectors: { name: 'aSelectors', value: selector },
                  elements: { name: 'bElements', value: selector },
                },
                { cmdControl: 'partial', selectors: { name: 'cSelectors', value: selector } },
              ],
              data: { name, value },
            },
            mode,
          );
          mergeFunctionData(
            stored,
            { filter: [{ cmdControl: 'partial' }], data: { name, value } },
            mode,
          );
        },
      ),
      { numRuns: 2000 },
    );
  });
});
