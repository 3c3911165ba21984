/**
 * The timing rules of the DNS-SD browser (dns-sd-browser.ts), from RFC 6762: goodbyes, the
 * first query, continuous querying, refresh points and follow-up questions.
 */
import type { BackoffPolicy } from '../util/backoff.js';

/** RFC 6762 §10.1: a goodbye is kept for one second before the record is removed. */
export const GOODBYE_GRACE_MS = 1_000;
/** RFC 6762 §5.2: the first query goes out 20–120 ms after start. */
export const FIRST_QUERY_MIN_DELAY_MS = 20;
export const FIRST_QUERY_MAX_DELAY_MS = 120;
/** RFC 6762 §5.2: continuous querying starts at one second and doubles … */
export const QUERY_INITIAL_INTERVAL_MS = 1_000;
/** … up to sixty minutes. */
export const QUERY_MAX_INTERVAL_MS = 3_600_000;
/** RFC 6762 §5.2: refresh queries at 80, 85, 90 and 95 % of the TTL, plus up to 2 % jitter. */
export const REFRESH_FRACTIONS = [0.8, 0.85, 0.9, 0.95] as const;
export const REFRESH_JITTER_FRACTION = 0.02;
/** Follow-up questions for missing SRV/TXT/addresses: 1 s, doubling up to 60 s. */
export const FOLLOW_UP_INITIAL_MS = 1_000;
export const FOLLOW_UP_MAX_MS = 60_000;
export const QUERY_BACKOFF: BackoffPolicy = {
  kind: 'exponential',
  initialMs: QUERY_INITIAL_INTERVAL_MS,
  maxMs: QUERY_MAX_INTERVAL_MS,
};
export const FOLLOW_UP_BACKOFF: BackoffPolicy = {
  kind: 'exponential',
  initialMs: FOLLOW_UP_INITIAL_MS,
  maxMs: FOLLOW_UP_MAX_MS,
};
/** Default bound on cached records. */
export const DEFAULT_MAX_CACHE_ENTRIES = 1_024;
