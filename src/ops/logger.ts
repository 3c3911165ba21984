/**
 * The one pino root logger of the process (house style "structured logging"). Components get
 * `logger.child({ component })`. Output is pretty (pino-pretty, synchronous, in-process: no worker
 * thread) on a terminal or with format "pretty", NDJSON otherwise (journald, files, pipes).
 * Secrets (private keys, PINs, tokens, authorization headers) are redacted wherever the usual
 * field names occur, at the top level and one level down.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { safeRenderedText } from '../util/terminal-text.js';
import type { LogFormat, LogLevel } from './config.js';

/** The logger type passed down through the hub. */
export type Logger = PinoLogger;

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /**
   * Where lines go; default stdout (fd 1, synchronous). "auto" picks pretty output when this is
   * a TTY (`isTTY === true`).
   */
  destination?: DestinationStream | NodeJS.WritableStream;
  /** Extra bindings on every line, e.g. `{ ship_id }`. */
  base?: Record<string, unknown>;
  /** Colour in pretty mode; default: when the destination is a TTY. */
  colorize?: boolean;
}

/** Field names whose values never reach a log line. */
const SECRET_FIELDS = [
  'pin',
  'pinValue',
  'pin_value',
  'privateKey',
  'private_key',
  'privateKeyPem',
  'keyPem',
  'key_pem',
  'password',
  'passphrase',
  'token',
  'admin_token',
  'adminToken',
  'authorization',
  'secret',
  'cert',
  'certPem',
  'cert_pem',
  'rawCert',
];

/** pino redact paths: each secret field at the top level and one level deep, plus HTTP headers. */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  'req.headers.authorization',
  'headers.authorization',
  'req.headers.cookie',
];

/** The text that replaces a redacted value. */
export const REDACTED = '[redacted]';

function isTty(destination: CreateLoggerOptions['destination']): boolean {
  const target = destination ?? process.stdout;
  return (target as { isTTY?: unknown }).isTTY === true;
}

/**
 * Creates the root logger.
 *
 * - format "json": NDJSON lines `{"level":30,"time":"2024-01-09T10:30:00.000Z","msg":…}`.
 * - format "pretty": human lines `[10:30:15] INFO (hub): ✅ Device connected: a1b2c3d4e5f6...`.
 * - format "auto": pretty when the destination is a TTY, json otherwise.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const pretty =
    options.format === 'pretty' || (options.format === 'auto' && isTty(options.destination));
  const loggerOptions = {
    level: options.level,
    base: { pid: process.pid, ...options.base },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    const prettify = prettyFactory({
      colorize: options.colorize ?? isTty(options.destination),
      translateTime: 'SYS:HH:MM:ss',
      // The component goes into the header; `event` repeats the message, so it is left out.
      ignore: 'pid,hostname,component,event',
      messageFormat: '{if component}({component}) {end}{msg}',
    });
    const out = options.destination ?? pino.destination({ dest: 1, sync: true });
    // Prettified in-process and written synchronously, like pino-pretty's own stream, plus one
    // step: pino-pretty strips C0 controls from `msg` but prints structured fields as JSON, which
    // leaves C1 controls and bidi overrides of a remote brand or close reason raw.
    const stream: DestinationStream = {
      write: (line: string) => {
        out.write(safeRenderedText(prettify(withoutClockPrefix(line))));
      },
    };
    return pino(loggerOptions, stream);
  }
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(loggerOptions, destination);
}

/**
 * A seed line that carries its own clock time (`[10:30:15] 🔄 …: ConnectionStateError`) keeps it
 * in JSON, where greps expect the seed's text; on a terminal the pretty header already shows the
 * time, so the message's copy is dropped there (one timestamp per line).
 */
function withoutClockPrefix(jsonLine: string): string {
  return jsonLine.replace(/"msg":"\[\d{2}:\d{2}:\d{2}\] /, '"msg":"');
}
