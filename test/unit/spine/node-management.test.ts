/**
 * NodeManagement data helpers (spine-protocol.md §5.4 use case data and its real-world variance,
 * §5.5/§5.6 subscription and binding calls) and ISO 8601 durations (§8.1, §10).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeDatagram } from '../../../src/spine/codec/datagram.js';
import {
  buildRelationDelete,
  buildRelationRequest,
  readFeatureAddress,
  readRelationDelete,
  readRelationRequest,
  relationMatches,
} from '../../../src/spine/node-management/relations.js';
import { parseUseCaseData } from '../../../src/spine/node-management/use-cases.js';
import { formatDurationSeconds, parseDurationMs } from '../../../src/spine/session/duration.js';
import { spineVectorsDir } from '../../helpers/spine-vectors.js';

/** The use case data of a recorded device (object form). */
function deviceUseCases(folder: string): unknown {
  const text = readFileSync(
    join(spineVectorsDir(), 'devices', folder, 'usecase-data.json'),
    'utf8',
  );
  const message = JSON.parse(text) as { data: { payload: unknown } };
  const decoded = decodeDatagram(message.data.payload);
  assert.ok(decoded.ok, folder);
  return decoded.datagram.payload.cmd[0]!.data!.value;
}

describe('use case data of real devices (§5.4 variance)', () => {
  it('Porsche: one entry without address, actor EV, eight use cases', () => {
    const { useCases, warnings } = parseUseCaseData(
      deviceUseCases('porsche-mobile-charger-connect'),
    );
    assert.deepEqual(warnings, []);
    assert.equal(useCases.length, 1);
    assert.equal(useCases[0]!.address, undefined);
    assert.equal(useCases[0]!.actor, 'EV');
    assert.equal(useCases[0]!.useCases.length, 8);
  });

  it('Elli: address without entity, no availability, no sub revision', () => {
    const { useCases } = parseUseCaseData(deviceUseCases('elli-charger-connect-pro'));
    assert.ok(useCases.length > 0);
    assert.equal(useCases[0]!.address?.entity, undefined);
    assert.ok(useCases[0]!.address?.device);
    assert.ok(useCases.every((u) => u.useCases.every((c) => c.useCaseAvailable === undefined)));
  });

  it('every other recorded device parses without warnings', () => {
    for (const folder of [
      'evcc.io-evcc',
      'kostal-kostal-smart-energy-meter',
      'sma-home-manager-2',
      'spelsberg-wallbox-smart-pro',
      'viessmann-vitoconnect',
    ]) {
      const { useCases, warnings } = parseUseCaseData(deviceUseCases(folder));
      assert.deepEqual(warnings, [], folder);
      assert.ok(useCases.length > 0, folder);
    }
  });

  it('skips broken entries with warnings and keeps unknown actors', () => {
    const { useCases, warnings } = parseUseCaseData({
      useCaseInformation: [
        {
          actor: 'IdentifiableNode',
          useCaseSupport: [
            { useCaseName: 'x', scenarioSupport: [1, -1, 'a'] },
            { scenarioSupport: [1] },
          ],
        },
        { address: { entity: ['a'], feature: 2 } },
        'nonsense',
      ],
    });
    assert.deepEqual(useCases, [
      { actor: 'IdentifiableNode', useCases: [{ useCaseName: 'x', scenarios: [1] }] },
    ]);
    assert.equal(warnings.length, 3);
    assert.deepEqual(parseUseCaseData(undefined), { useCases: [], warnings: [] });
    const withAddress = parseUseCaseData({
      useCaseInformation: { address: { device: 'd', entity: ['x'], feature: 3 }, actor: 'CEM' },
    });
    assert.deepEqual(withAddress.useCases, [
      { actor: 'CEM', useCases: [], address: { device: 'd', feature: 3 } },
    ]);
  });
});

describe('subscription and binding calls (§5.5, §5.6)', () => {
  const client = { device: 'd:_n:A_1', entity: [1], feature: 3 };
  const server = { device: 'd:_n:B_1', entity: [1], feature: 4 };

  it('round-trips request and delete calls', () => {
    for (const kind of ['subscription', 'binding'] as const) {
      const request = readRelationRequest(
        kind,
        buildRelationRequest(kind, { client, server, serverFeatureType: 'Measurement' }),
      );
      assert.deepEqual(request, {
        ok: true,
        request: { client, server, serverFeatureType: 'Measurement' },
      });
      const del = readRelationDelete(kind, buildRelationDelete(kind, { client, server }));
      assert.deepEqual(del, { ok: true, delete: { client, server } });
    }
    assert.deepEqual(
      readRelationRequest('binding', {
        bindingRequest: { clientAddress: client, serverAddress: server },
      }),
      {
        ok: true,
        request: { client, server },
      },
    );
  });

  it('refuses what names nothing', () => {
    assert.equal(readRelationRequest('subscription', {}).ok, false);
    assert.equal(
      readRelationRequest('subscription', { subscriptionRequest: { serverAddress: server } }).ok,
      false,
    );
    assert.equal(
      readRelationRequest('subscription', { subscriptionRequest: { clientAddress: client } }).ok,
      false,
    );
    assert.equal(readRelationDelete('binding', { bindingDelete: {} }).ok, false);
    assert.equal(readRelationDelete('binding', 5).ok, false);
    assert.deepEqual(readRelationDelete('binding', { bindingDelete: { bindingId: 4 } }), {
      ok: true,
      delete: { id: 4 },
    });
  });

  it('reads feature addresses only with entity path and feature number', () => {
    assert.deepEqual(readFeatureAddress({ entity: [1, 1], feature: 0 }), {
      entity: [1, 1],
      feature: 0,
    });
    assert.equal(readFeatureAddress({ entity: [1] }), undefined);
    assert.equal(readFeatureAddress({ feature: 1 }), undefined);
    assert.equal(readFeatureAddress({ entity: [-1], feature: 1 }), undefined);
    assert.equal(readFeatureAddress('x'), undefined);
  });

  it('matches entries on every given part', () => {
    const entry = { id: 3, client, server };
    assert.ok(relationMatches(entry, { id: 3 }));
    assert.ok(!relationMatches(entry, { id: 4 }));
    assert.ok(relationMatches(entry, { client: { entity: [1], feature: 3 } }));
    assert.ok(!relationMatches(entry, { client, server: client }));
  });
});

describe('ISO 8601 durations (§8.1, §10)', () => {
  it('parses the forms devices send', () => {
    const cases: Array<[string, number | undefined]> = [
      ['PT4S', 4_000],
      ['PT60S', 60_000],
      ['PT1M', 60_000],
      ['PT1H2M3.5S', 3_723_500],
      ['P1D', 86_400_000],
      ['PT0.3S', 300],
      [' PT10S ', 10_000],
      ['P', undefined],
      ['PT', undefined],
      ['P1DT', undefined],
      ['-PT4S', undefined],
      ['P1Y', undefined],
      ['4', undefined],
    ];
    for (const [text, ms] of cases) assert.equal(parseDurationMs(text), ms, text);
  });

  it('writes whole and fractional seconds', () => {
    assert.equal(formatDurationSeconds(60_000), 'PT60S');
    assert.equal(formatDurationSeconds(300), 'PT0.3S');
    assert.equal(formatDurationSeconds(1_250), 'PT1.25S');
    assert.equal(formatDurationSeconds(-5), 'PT0S');
  });
});
