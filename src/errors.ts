/**
 * The one catalogue of ship-hub's error codes: the failure tables of the SHIP core
 * (src/ship/errors.ts), of local state (src/util/errors.ts) and of the admin API
 * (src/ops/errors.ts), joined. docs/errors.md is generated from it
 * (`node scripts/gen-errors-doc.mjs`) and a unit test fails when they differ.
 */
import { OPERATIONS_FAILURES, type OperationsErrorCode } from './ops/errors.js';
import { SHIP_FAILURES, type ShipErrorCode } from './ship/errors.js';
import {
  LOCAL_FAILURES,
  ShipHubError,
  type FailureInfo,
  type LocalErrorCode,
} from './util/errors.js';

export {
  ConfigError,
  ERROR_CLASSES,
  InternalError,
  ProtocolError,
  ShipHubError,
  TimeoutError,
  TransportError,
  TrustError,
  type ErrorClassName,
  type ErrorCode,
  type FailureClose,
  type FailureInfo,
  type FailureSection,
  type ShipHubErrorOptions,
} from './util/errors.js';
export { failureClose, failureError, type ShipErrorCode } from './ship/errors.js';
export type { LocalErrorCode } from './util/errors.js';
export type { OperationsErrorCode } from './ops/errors.js';

/** Every code ship-hub produces. */
export type ShipHubErrorCode = ShipErrorCode | LocalErrorCode | OperationsErrorCode;

/** Every code with its row, in the order docs/errors.md lists them. */
export const FAILURES: Readonly<Record<ShipHubErrorCode, FailureInfo>> = Object.freeze({
  ...SHIP_FAILURES,
  ...LOCAL_FAILURES,
  ...OPERATIONS_FAILURES,
});

export function isShipHubErrorCode(code: string): code is ShipHubErrorCode {
  return Object.hasOwn(FAILURES, code);
}

/** A failure as the hub and the daemon see it: its code and that code's row. */
export interface FailureReport extends FailureInfo {
  readonly code: ShipHubErrorCode;
}

/**
 * The table row for an error (or a code, or a failure record with a `code`): class, close code,
 * metric label, operator hint. Anything that is not a ship-hub error (a bug, a foreign library's
 * error) is reported as SHIPHUB_ERR_INTERNAL, so the metric label stays bounded.
 */
export function failureInfo(subject: unknown): FailureReport {
  const code =
    typeof subject === 'string'
      ? subject
      : subject instanceof ShipHubError
        ? subject.code
        : typeof subject === 'object' &&
            subject !== null &&
            'code' in subject &&
            typeof subject.code === 'string'
          ? subject.code
          : undefined;
  const known: ShipHubErrorCode =
    code !== undefined && isShipHubErrorCode(code) ? code : 'SHIPHUB_ERR_INTERNAL';
  return { code: known, ...FAILURES[known] };
}
