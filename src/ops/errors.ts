/**
 * Codes of the admin API and of the CLI that talks to it. They are operations, not protocol: the
 * pure SHIP core never produces them, so they live here and not in src/ship/errors.ts.
 */
import type { ErrorCode, FailureInfo } from '../util/errors.js';

export const OPERATIONS_FAILURES = {
  SHIPHUB_ERR_SKI_INVALID: {
    errorClass: 'ShipHubError',
    section: 'operations',
    metricLabel: 'bad_request',
    httpStatus: 400,
    meaning:
      'An SKI given to the admin API or CLI is not 40 hex digits (spaces, dashes, colons are allowed). HTTP 400.',
    hint: 'Copy the SKI again (`ship-hub discover`, `GET /api/pairing`).',
  },
  SHIPHUB_ERR_BAD_REQUEST: {
    errorClass: 'ShipHubError',
    section: 'operations',
    metricLabel: 'bad_request',
    httpStatus: 400,
    meaning:
      'An admin API request failed validation (unknown body field, wrong type, invalid JSON, body too large). HTTP 400 (or 4xx).',
    hint: 'Fix the request; the message says what is wrong.',
  },
  SHIPHUB_ERR_NOT_FOUND: {
    errorClass: 'ShipHubError',
    section: 'operations',
    metricLabel: 'not_found',
    httpStatus: 404,
    meaning:
      'Admin API: no pending pairing request for that SKI, the SKI is not trusted, the route does not exist, or metrics are disabled. HTTP 404.',
    hint: 'Check the SKI with `GET /api/pairing` / `GET /api/trust`.',
  },
  SHIPHUB_ERR_UNAUTHORIZED: {
    errorClass: 'ShipHubError',
    section: 'operations',
    metricLabel: 'unauthorized',
    httpStatus: 401,
    meaning: 'Admin API: missing or wrong `Authorization: Bearer <token>`. HTTP 401.',
    hint: "Use the `admin_token` of the daemon's config (the CLI reads it from the same config file).",
  },
  SHIPHUB_ERR_DAEMON_UNREACHABLE: {
    errorClass: 'TransportError',
    section: 'operations',
    metricLabel: 'daemon_unreachable',
    meaning:
      'The CLI cannot reach the admin API: "the ship-hub daemon is not running at http://127.0.0.1:4713 (connection refused)", or it did not answer in time.',
    hint: 'Start it (`systemctl start ship-hub`), or check `admin_host`/`admin_port` (`0` disables the API).',
  },
} as const satisfies Record<ErrorCode, FailureInfo>;

export type OperationsErrorCode = keyof typeof OPERATIONS_FAILURES;
