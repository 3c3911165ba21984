/**
 * Pure connection policy of the hub: reconnect delays and the double-connection rule.
 * Kept free of I/O so the rules are unit-tested on their own.
 */
import { compareSki, type Ski } from '../ship/ski.js';
import { backoffDelayMs, type BackoffPolicy } from '../util/backoff.js';

/**
 * Reconnect delay for the n-th attempt (1-based), as ship-go does it (reference §9.2): a random
 * delay from 0-3 s, then 3-10 s, then 10-20 s. The randomness reduces simultaneous dials from
 * both sides of a pair. `random` returns a number in [0, 1).
 */
export function reconnectDelayMs(attempt: number, random: () => number): number {
  return backoffDelayMs(RECONNECT_BACKOFF, attempt, random);
}

/** ship-go's reconnect delay ranges, in the project's one backoff (src/util/backoff.ts). */
export const RECONNECT_BACKOFF: BackoffPolicy = {
  kind: 'ranges',
  rangesMs: [
    [0, 3_000],
    [3_000, 10_000],
    [10_000, 20_000],
  ],
};

/**
 * `spec`: SHIP §12.2.2, the node with the bigger SKI keeps only the most recent connection.
 * `legacy`: ship-go before PR #106, the connection initiated by the node with the bigger SKI wins.
 */
export const DOUBLE_CONNECTION_RULES = ['spec', 'legacy'] as const;
export type DoubleConnectionRule = (typeof DOUBLE_CONNECTION_RULES)[number];

/**
 * Who opened a connection, seen from this node: the one word for it in the hub, the admin API,
 * metric labels and log lines.
 */
export const DIRECTIONS = ['inbound', 'outbound'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/**
 * What to do when a new connection to a SKI appears while another exists (or is being dialled).
 * - `keepNew`: keep the new connection, close the existing one(s) and abort an in-flight dial;
 * - `rejectNew`: close the new connection (WebSocket 1000 "double connection"), keep the rest;
 * - `keepBoth`: this node does not decide (spec rule, smaller SKI): the bigger SKI closes one.
 */
export type DoubleConnectionDecision = 'keepNew' | 'rejectNew' | 'keepBoth';

export function decideDoubleConnection(
  rule: DoubleConnectionRule,
  localSki: Ski,
  remoteSki: Ski,
  newDirection: Direction,
): DoubleConnectionDecision {
  const localIsBigger = compareSki(localSki, remoteSki) > 0;
  if (rule === 'spec') {
    // Only the bigger SKI decides; it keeps the most recent connection, which is the new one.
    return localIsBigger ? 'keepNew' : 'keepBoth';
  }
  // legacy: keep the connection initiated by the bigger SKI.
  const newInitiatedByBigger = newDirection === 'outbound' ? localIsBigger : !localIsBigger;
  return newInitiatedByBigger ? 'keepNew' : 'rejectNew';
}

/** SHIP §12.3.1.1: an auto-accept window lasts at most 2 minutes. */
export const MAX_AUTO_ACCEPT_WINDOW_MS = 120_000;
