/**
 * Merging received function data (spine-protocol.md §3.2–§3.5; conformance checklist items
 * 36–41), plus a replay of the recorded openeebus measurement notifies.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeDatagramText } from '../../../src/spine/codec/datagram.js';
import { mergeFunctionData } from '../../../src/spine/merge/merge.js';
import type { SpineCmd, SpineFilter } from '../../../src/spine/model/datagram.js';
import { loadSessionDatagrams } from '../../helpers/spine-vectors.js';

const PARTIAL: SpineFilter = { cmdControl: 'partial' };

function cmd(name: string, value: unknown, filter?: SpineFilter[]): SpineCmd {
  return { ...(filter ? { function: name, filter } : {}), data: { name, value } };
}

const M = (measurementId: number, number: number, extra: Record<string, unknown> = {}) => ({
  measurementId,
  valueType: 'value',
  value: { number, scale: 0 },
  ...extra,
});

const STORED = { measurementData: [M(0, 100), M(1, 10), M(4, 1_578_231)] };

describe('mergeFunctionData', () => {
  it('without filter replaces everything, and says when a list shrank (checklist 37)', () => {
    const result = mergeFunctionData(
      STORED,
      cmd('measurementListData', { measurementData: [M(0, 5)] }),
      'notify',
    );
    assert.ok(result.ok);
    assert.deepEqual(result.data, { measurementData: [M(0, 5)] });
    assert.equal(result.warnings.length, 1);
  });

  it('partial merges by measurementId + valueType, others keep their values (checklist 36)', () => {
    const result = mergeFunctionData(
      STORED,
      cmd(
        'measurementListData',
        {
          measurementData: [
            M(4, 1_578_300, { valueState: 'normal' }),
            M(1, 11),
            { measurementId: 1, valueType: 'averageValue', value: { number: 9, scale: 0 } },
            M(7, 70),
          ],
        },
        [PARTIAL],
      ),
      'notify',
    );
    assert.ok(result.ok);
    assert.deepEqual(result.data.measurementData, [
      M(0, 100),
      M(1, 11),
      { measurementId: 1, valueType: 'averageValue', value: { number: 9, scale: 0 } },
      M(4, 1_578_300, { valueState: 'normal' }),
      M(7, 70),
    ]);
  });

  it('an item without valueType is matched as valueType "value", not copied to all (§3.4)', () => {
    const result = mergeFunctionData(
      STORED,
      cmd(
        'measurementListData',
        { measurementData: [{ measurementId: 1, value: { number: 12, scale: 0 } }] },
        [PARTIAL],
      ),
      'notify',
    );
    assert.ok(result.ok);
    assert.deepEqual(result.data.measurementData, [M(0, 100), M(1, 12), M(4, 1_578_231)]);
  });

  it('an item without any identifier is applied to every item, with a warning (spine-go)', () => {
    const result = mergeFunctionData(
      STORED,
      cmd('measurementListData', { measurementData: [{ valueState: 'error' }] }, [PARTIAL]),
      'notify',
    );
    assert.ok(result.ok);
    assert.ok(
      (result.data.measurementData as Array<{ valueState?: string }>).every(
        (m) => m.valueState === 'error',
      ),
    );
    assert.equal(result.warnings.length, 1);
  });

  it('delete with selector removes the entry (§3.5 example, checklist 38)', () => {
    const result = mergeFunctionData(
      STORED,
      cmd('measurementListData', {}, [
        {
          cmdControl: 'delete',
          selectors: { name: 'measurementListDataSelectors', value: { measurementId: 4 } },
        },
      ]),
      'notify',
    );
    assert.ok(result.ok);
    assert.deepEqual(result.data.measurementData, [M(0, 100), M(1, 10)]);
  });

  it('delete with selector + elements clears the element only; elements alone clear it everywhere', () => {
    const limits = {
      loadControlLimitData: [
        {
          limitId: 0,
          isLimitChangeable: true,
          isLimitActive: true,
          timePeriod: { endTime: 'PT2H' },
          value: { number: 4200, scale: 0 },
        },
        {
          limitId: 1,
          isLimitChangeable: true,
          isLimitActive: false,
          timePeriod: { endTime: 'PT1H' },
          value: { number: 0, scale: 0 },
        },
      ],
    };
    const one = mergeFunctionData(
      limits,
      cmd('loadControlLimitListData', {}, [
        {
          cmdControl: 'delete',
          selectors: { name: 'loadControlLimitListDataSelectors', value: { limitId: 0 } },
          elements: {
            name: 'loadControlLimitDataElements',
            value: { timePeriod: {}, limitId: {} },
          },
        },
      ]),
      'notify',
    );
    assert.ok(one.ok);
    const [first, second] = one.data.loadControlLimitData as Array<Record<string, unknown>>;
    assert.equal(first?.timePeriod, undefined);
    assert.equal(first?.limitId, 0, 'identifiers are never cleared');
    assert.deepEqual(second?.timePeriod, { endTime: 'PT1H' });
    const all = mergeFunctionData(
      limits,
      cmd('loadControlLimitListData', {}, [
        {
          cmdControl: 'delete',
          elements: { name: 'loadControlLimitDataElements', value: { value: { scale: {} } } },
        },
      ]),
      'notify',
    );
    assert.ok(all.ok);
    assert.deepEqual(
      (all.data.loadControlLimitData as Array<{ value: unknown }>).map((l) => l.value),
      [{ number: 4200 }, { number: 0 }],
    );
  });

  it('delete + partial: delete first, the limit loses timePeriod and keeps the new value (E8c, checklist 39)', () => {
    const stored = {
      loadControlLimitData: [
        {
          limitId: 0,
          isLimitChangeable: true,
          isLimitActive: false,
          timePeriod: { endTime: 'PT2H' },
          value: { number: 0, scale: 0 },
        },
      ],
    };
    const text =
      '{"datagram":[{"header":[{"addressSource":[{"entity":[1]},{"feature":5}]},{"addressDestination":[{"entity":[1]},{"feature":2}]},{"msgCounter":20},{"cmdClassifier":"write"},{"ackRequest":true}]},{"payload":[{"cmd":[[{"function":"loadControlLimitListData"},{"filter":[[{"cmdControl":[{"delete":[]}]},{"loadControlLimitListDataSelectors":[{"limitId":0}]},{"loadControlLimitDataElements":[{"timePeriod":[]}]}],[{"cmdControl":[{"partial":[]}]}]]},{"loadControlLimitListData":[{"loadControlLimitData":[[{"limitId":0},{"isLimitActive":true},{"value":[{"number":4200},{"scale":0}]}]]}]}]]}]}]}';
    const decoded = decodeDatagramText(text);
    assert.ok(decoded.ok);
    const result = mergeFunctionData(stored, decoded.datagram.payload.cmd[0]!, 'write');
    assert.ok(result.ok);
    assert.deepEqual(result.data.loadControlLimitData, [
      {
        limitId: 0,
        isLimitChangeable: true,
        isLimitActive: true,
        value: { number: 4200, scale: 0 },
      },
    ]);
  });

  it('a write to a non-changeable entry is refused and nothing changes (checklist 40)', () => {
    const stored = {
      loadControlLimitData: [
        { limitId: 0, isLimitChangeable: true, value: { number: 1, scale: 0 } },
        { limitId: 1, isLimitChangeable: false, value: { number: 2, scale: 0 } },
        { limitId: 2, value: { number: 3, scale: 0 } },
      ],
    };
    for (const limitId of [1, 2]) {
      const result = mergeFunctionData(
        stored,
        cmd(
          'loadControlLimitListData',
          {
            loadControlLimitData: [
              { limitId: 0, value: { number: 5, scale: 0 } },
              { limitId, value: { number: 6, scale: 0 } },
            ],
          },
          [PARTIAL],
        ),
        'write',
      );
      assert.deepEqual(result.ok ? 'ok' : result.errorNumber, 7);
    }
    // The same data as a notify from a server is simply stored.
    assert.ok(
      mergeFunctionData(
        stored,
        cmd(
          'loadControlLimitListData',
          { loadControlLimitData: [{ limitId: 1, value: { number: 6, scale: 0 } }] },
          [PARTIAL],
        ),
        'notify',
      ).ok,
    );
  });

  it('a partial write without scale keeps the stored scale (TC_SPINE_RTS_005, checklist 41)', () => {
    for (const scale of [0, 2]) {
      const stored = {
        loadControlLimitData: [
          { limitId: 0, isLimitChangeable: true, value: { number: 42, scale } },
        ],
      };
      const result = mergeFunctionData(
        stored,
        cmd(
          'loadControlLimitListData',
          { loadControlLimitData: [{ limitId: 0, value: { number: 5 } }] },
          [PARTIAL],
        ),
        'write',
      );
      assert.ok(result.ok);
      assert.deepEqual(result.data.loadControlLimitData, [
        { limitId: 0, isLimitChangeable: true, value: { number: 5, scale } },
      ]);
    }
  });

  it('a write adds no entries unless allowed; a notify does', () => {
    const stored = {
      deviceConfigurationKeyValueData: [
        { keyId: 0, isValueChangeable: true, value: { scaledNumber: { number: 4200, scale: 0 } } },
      ],
    };
    const write = cmd(
      'deviceConfigurationKeyValueListData',
      { deviceConfigurationKeyValueData: [{ keyId: 1, value: { duration: 'PT2H' } }] },
      [PARTIAL],
    );
    const refused = mergeFunctionData(stored, write, 'write');
    assert.ok(refused.ok);
    assert.equal((refused.data.deviceConfigurationKeyValueData as unknown[]).length, 1);
    assert.equal(refused.warnings.length, 1);
    const allowed = mergeFunctionData(stored, write, 'write', { writeMayAdd: true });
    assert.ok(allowed.ok);
    assert.equal((allowed.data.deviceConfigurationKeyValueData as unknown[]).length, 2);
  });

  it('partial with selectors changes every matching item and adds none', () => {
    const stored = {
      electricalConnectionParameterDescriptionData: [
        { electricalConnectionId: 0, parameterId: 0, acMeasuredPhases: 'abc' },
        { electricalConnectionId: 0, parameterId: 1, acMeasuredPhases: 'a' },
        { electricalConnectionId: 1, parameterId: 0, acMeasuredPhases: 'a' },
      ],
    };
    const result = mergeFunctionData(
      stored,
      cmd(
        'electricalConnectionParameterDescriptionListData',
        { electricalConnectionParameterDescriptionData: [{ voltageType: 'ac' }] },
        [
          {
            cmdControl: 'partial',
            selectors: {
              name: 'electricalConnectionParameterDescriptionListDataSelectors',
              value: { electricalConnectionId: 0 },
            },
          },
        ],
      ),
      'notify',
    );
    assert.ok(result.ok);
    assert.deepEqual(
      (
        result.data.electricalConnectionParameterDescriptionData as Array<{ voltageType?: string }>
      ).map((p) => p.voltageType),
      ['ac', 'ac', undefined],
    );
  });

  it('heartbeat data replace whole; filters on non-list or unknown functions get error 8', () => {
    const heartbeat = {
      timestamp: '2025-01-15T10:00:00Z',
      heartbeatCounter: 17,
      heartbeatTimeout: 'PT4S',
    };
    const replaced = mergeFunctionData(
      { heartbeatCounter: 16 },
      cmd('deviceDiagnosisHeartbeatData', heartbeat),
      'notify',
    );
    assert.ok(replaced.ok);
    assert.deepEqual(replaced.data, heartbeat);
    const partial = mergeFunctionData(
      {},
      cmd('deviceDiagnosisHeartbeatData', heartbeat, [PARTIAL]),
      'notify',
    );
    assert.deepEqual(partial.ok ? 'ok' : partial.errorNumber, 8);
    const twoPartials = mergeFunctionData(
      STORED,
      cmd('measurementListData', {}, [PARTIAL, PARTIAL]),
      'notify',
    );
    assert.deepEqual(twoPartials.ok ? 'ok' : twoPartials.errorNumber, 8);
    const noData = mergeFunctionData(STORED, { function: 'x' }, 'notify');
    assert.deepEqual(noData.ok ? 'ok' : noData.errorNumber, 6);
  });

  it('reads lists in every received form (`{}` for an empty list, one object for one item)', () => {
    const result = mergeFunctionData(
      { measurementData: {} },
      cmd('measurementListData', { measurementData: M(3, 30) }, [PARTIAL]),
      'notify',
    );
    assert.ok(result.ok);
    assert.deepEqual(result.data.measurementData, [M(3, 30)]);
  });
});

describe('merge replay: the openeebus heat pump measurement traffic', () => {
  it('every measurementListData reply/notify from HP merges; the end state holds every id seen', () => {
    let stored: unknown = undefined;
    const ids = new Set<number>();
    let applied = 0;
    for (const r of loadSessionDatagrams()) {
      if (r.file !== 'openeebus-hems-vs-openeebus-heatpump.txt' || r.direction !== 'HP>HEMS')
        continue;
      const decoded = decodeDatagramText(r.payloadText);
      assert.ok(decoded.ok);
      const { cmdClassifier } = decoded.datagram.header;
      if (cmdClassifier !== 'notify' && cmdClassifier !== 'reply') continue;
      for (const c of decoded.datagram.payload.cmd) {
        if (c.data?.name !== 'measurementListData') continue;
        const result = mergeFunctionData(stored, c, cmdClassifier);
        assert.ok(result.ok, r.id);
        stored = result.data;
        applied++;
        const value = c.data.value as { measurementData?: unknown };
        for (const m of Array.isArray(value.measurementData) ? value.measurementData : []) {
          ids.add((m as { measurementId: number }).measurementId);
        }
      }
    }
    assert.ok(applied >= 7, `${applied} measurement datagrams`);
    const final = (stored as { measurementData: Array<{ measurementId: number }> }).measurementData;
    assert.deepEqual(new Set(final.map((m) => m.measurementId)), ids);
  });
});
