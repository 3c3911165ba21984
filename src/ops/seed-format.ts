/**
 * How the original production-hub README (the "seed") prints durations and clock times in its
 * operator lines (src/ops/operator-log.ts): Go's `time.Duration` style and `[10:30:15]`.
 */

/**
 * A duration the way Go's `time.Duration.String()` prints whole seconds: "45s", "2m30s",
 * "2h15m30s", "1h0m5s", "0s". Rounded to the nearest second.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** A duration in hours and minutes as the seed's health check prints it: "2h15m", "5m", "0m". */
export function formatUptimeMinutes(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h > 0 ? `${h}h${m}m` : `${m}m`;
}

/** "10:30:15" in local time, the seed's `[10:30:15]` prefix of state lines. */
export function formatClockTime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
