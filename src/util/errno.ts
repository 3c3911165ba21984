/**
 * The `code` of a Node system error (`ENOENT`, `EEXIST`, `EACCES`, ...), or undefined for any
 * other thrown value. Catch variables are `unknown` (useUnknownInCatchVariables), so every file
 * helper needs this narrowing; it lives here once.
 */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    return typeof error.code === 'string' ? error.code : undefined;
  }
  return undefined;
}
