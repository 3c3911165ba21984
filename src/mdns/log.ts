/** The slice of pino's Logger the mDNS adapters use, and a silent stand-in. */
import type { Logger } from 'pino';

export type MdnsLogger = Pick<Logger, 'trace' | 'debug' | 'info' | 'warn' | 'error'>;

const silent = (): void => undefined;

/** A logger that drops everything (used when none is injected). */
export const silentLogger: MdnsLogger = {
  trace: silent,
  debug: silent,
  info: silent,
  warn: silent,
  error: silent,
};

/** A child logger with `component` bound when the logger supports it. */
export function componentLogger(logger: MdnsLogger | undefined, component: string): MdnsLogger {
  if (logger === undefined) return silentLogger;
  const withChild = logger as Partial<Pick<Logger, 'child'>>;
  return typeof withChild.child === 'function' ? withChild.child({ component }) : logger;
}
