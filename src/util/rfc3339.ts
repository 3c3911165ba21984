/** RFC 3339 timestamps, as the persisted files (trusted devices, hub state) hold them. */

/** RFC 3339 date-time as Go's time.Time marshals it (fraction up to ns, Z or offset). */
const RFC3339_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** True for an RFC 3339 date-time string such as "2024-01-09T10:30:00Z". */
export function isRfc3339DateTime(value: unknown): value is string {
  return typeof value === 'string' && RFC3339_DATE_TIME.test(value);
}

/** "2024-01-09T10:30:00Z": UTC, whole seconds, as the seed writes it. */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
