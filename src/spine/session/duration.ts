/**
 * ISO 8601 durations as SPINE uses them (`xs:duration`: `heartbeatTimeout`, `maxResponseDelay`;
 * spine-protocol.md §8.1 "Durations seen: PT4S, PT10S, PT1M", §10 "Duration").
 */

const DURATION =
  /^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Milliseconds of a day/time duration (`PT4S`, `PT1M`, `PT1H2M3.5S`, `P1D`); undefined for
 * anything else, including years and months (no fixed length) and negative durations.
 */
export function parseDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (match === null || match[1] !== undefined) return undefined;
  const [, , days, hours, minutes, seconds] = match;
  if (days === undefined && hours === undefined && minutes === undefined && seconds === undefined) {
    return undefined;
  }
  if (text.endsWith('T')) return undefined;
  const ms =
    Number(days ?? 0) * 86_400_000 +
    Number(hours ?? 0) * 3_600_000 +
    Number(minutes ?? 0) * 60_000 +
    Number(seconds ?? 0) * 1000;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/**
 * `PT<seconds>S` (`PT60S` as spine-go writes heartbeatTimeout; fractions of a second as
 * `PT0.3S`, which xs:duration allows).
 */
export function formatDurationSeconds(ms: number): string {
  const whole = Math.max(0, Math.round(ms));
  const seconds = Math.floor(whole / 1000);
  const fraction = whole % 1000;
  if (fraction === 0) return `PT${seconds}S`;
  return `PT${seconds}.${String(fraction).padStart(3, '0').replace(/0+$/, '')}S`;
}
