import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ERROR_CLASSES,
  FAILURES,
  ProtocolError,
  ShipHubError,
  TimeoutError,
  TrustError,
  failureError,
  failureInfo,
  type ShipHubErrorCode,
} from '../../src/errors.js';
import { CloseCode, CloseReasonText } from '../../src/ship/close-codes.js';
import {
  SHIP_FAILURES,
  failureClose,
  shipError,
  type ShipErrorCode,
} from '../../src/ship/errors.js';

/** build/test/unit/ → repository root. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The tables themselves; a code that appears only there is never produced. */
const TABLE_FILES = new Set([
  'src/errors.ts',
  'src/ship/errors.ts',
  'src/util/errors.ts',
  'src/ops/errors.ts',
]);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function codesIn(files: readonly string[]): Set<string> {
  const codes = new Set<string>();
  for (const file of files) {
    for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(
      /SHIPHUB_ERR_[A-Z0-9_]+/g,
    )) {
      codes.add(match[0]);
    }
  }
  return codes;
}

describe('failure catalogue', () => {
  const files = sourceFiles('src');
  const produced = codesIn(files.filter((f) => !TABLE_FILES.has(f)));

  it('knows every code the sources use', () => {
    const unknown = [...codesIn(files)].filter((code) => !Object.hasOwn(FAILURES, code));
    assert.deepEqual(unknown, []);
  });

  it('lists no code that nothing produces', () => {
    const unused = Object.keys(FAILURES).filter((code) => !produced.has(code));
    assert.deepEqual(unused, []);
  });

  it('builds each SHIP code with the class of its row (one class per code)', () => {
    for (const code of Object.keys(SHIP_FAILURES) as ShipErrorCode[]) {
      const error = shipError(code, 'x');
      assert.ok(error instanceof ERROR_CLASSES[SHIP_FAILURES[code].errorClass], code);
      assert.equal(error.code, code);
    }
    assert.ok(shipError('SHIPHUB_ERR_CONNECT_TIMEOUT', 'x') instanceof TimeoutError);
  });

  it('turns a peer fault into a ProtocolError with the hint of the table', () => {
    const error = failureError({
      code: 'SHIPHUB_ERR_PROTOCOL_MISMATCH',
      phase: 'protocol',
      message: 'no common version',
      closeCode: 4001,
    });
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.phase, 'protocol');
    assert.equal(error.closeCode, 4001);
    assert.equal(error.hint, SHIP_FAILURES.SHIPHUB_ERR_PROTOCOL_MISMATCH.hint);
    const cause = new Error('socket');
    const trust = failureError(
      { code: 'SHIPHUB_ERR_SHIP_ID_MISMATCH', message: 'm', hint: 'own' },
      cause,
    );
    assert.ok(trust instanceof TrustError);
    assert.equal(trust.hint, 'own');
    assert.equal(trust.cause, cause);
    assert.equal(trust.phase, undefined);
  });

  it('gives the close of the table, the message where the table says so', () => {
    assert.deepEqual(failureClose('SHIPHUB_ERR_CMI_INVALID', 'whatever'), {
      code: CloseCode.shipClose,
      reason: 'invalid CMI',
    });
    const long = 'x'.repeat(200);
    assert.deepEqual(failureClose('SHIPHUB_ERR_PROTOCOL_MISMATCH', long), {
      code: CloseCode.shipClose,
      reason: 'x'.repeat(120),
    });
    assert.equal(failureClose('SHIPHUB_ERR_PIN_INVALID', 'm').reason, 'unexpected message');
    assert.equal(failureClose('SHIPHUB_ERR_PIN_INVALID', 'm', true).reason, 'invalid message');
    assert.equal(failureClose('SHIPHUB_ERR_CMI_INVALID', 'm', true).reason, 'invalid CMI');
  });

  it('closes every hello abort with 4452 (SHIP §13.4.4.1, as ship-go)', () => {
    for (const code of [
      'SHIPHUB_ERR_HELLO_INVALID',
      'SHIPHUB_ERR_HELLO_TIMEOUT',
      'SHIPHUB_ERR_TRUST_DENIED',
      'SHIPHUB_ERR_REMOTE_DENIED_TRUST',
    ] as const) {
      assert.deepEqual(failureClose(code, 'm'), {
        code: CloseCode.rejected,
        reason: CloseReasonText.rejected,
      });
    }
  });

  it('reports the row of an error, a code or a failure record', () => {
    const byError = failureInfo(new ShipHubError('SHIPHUB_ERR_NOT_FOUND', 'gone'));
    assert.equal(byError.code, 'SHIPHUB_ERR_NOT_FOUND');
    assert.equal(byError.httpStatus, 404);
    assert.equal(failureInfo('SHIPHUB_ERR_CMI_TIMEOUT').metricLabel, 'timeout');
    assert.equal(failureInfo({ code: 'SHIPHUB_ERR_PIN_WRONG' }).errorClass, 'ProtocolError');
    for (const odd of [new Error('plain'), 'SHIPHUB_ERR_NOPE', undefined, { code: 7 }]) {
      assert.equal(failureInfo(odd).code, 'SHIPHUB_ERR_INTERNAL');
    }
  });

  it('uses short snake_case metric labels', () => {
    for (const [code, info] of Object.entries(FAILURES) as [
      ShipHubErrorCode,
      { metricLabel: string },
    ][]) {
      assert.match(info.metricLabel, /^[a-z][a-z_]{1,30}$/, code);
    }
  });
});
