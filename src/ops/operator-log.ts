/**
 * Operator log lines. The original production-hub README (the "seed") documents these lines and
 * operators grep for them (`journalctl -u ship-hub | grep "📊 Metrics"`, `grep "goroutines="`), so
 * their text is a contract: every function here produces the seed's exact line as the pino `msg`
 * and adds structured fields (`event`, full `ski`, numbers) so JSON logs stay greppable and
 * machine-readable at the same time. Each function logs and also returns the event, whose
 * `lines` a CLI can print to a terminal as they are.
 *
 * SKIs appear in the short seed form ("a1b2c3d4e5f6...") in `msg` and in full in the `ski` field.
 * Lines marked "(not in the seed)" follow the seed's style for situations it does not show.
 *
 * Values that came from the network (brand, model, addresses, error reasons, SKIs) are escaped
 * with {@link safeTerminalText} where they are put into `msg` and the prompt: pino-pretty prints
 * `msg` as it is, so a control character in a brand would reach the operator's terminal. The
 * structured fields keep the raw values; JSON encoding already escapes them.
 */
import { shortSki } from '../ship/ski.js';
import { safeTerminalText } from '../util/terminal-text.js';
import type { Logger } from './logger.js';
import { formatClockTime, formatDuration, formatUptimeMinutes } from './seed-format.js';

/** Log level of an operator line. */
export type OperatorLevel = 'info' | 'warn' | 'error';

/** Names of the structured events (the `event` field). */
export type OperatorEventName =
  | 'discovered'
  | 'trust_decision_requested'
  | 'user_approved'
  | 'user_denied'
  | 'pairing_expired'
  | 'trusted_device_added'
  | 'trusted_device_removed'
  | 'device_connected'
  | 'device_error'
  | 'device_ended_handshake'
  | 'connection_state'
  | 'device_disconnected'
  | 'connection_limit_approaching'
  | 'short_lived_connection'
  | 'health_check'
  | 'metrics_report';

/** What an operator-log function logged. */
export interface OperatorEvent {
  readonly event: OperatorEventName;
  readonly level: OperatorLevel;
  /** The seed text; multi-line for the discovery list and the metrics report. */
  readonly msg: string;
  /** `msg` split into lines, for printing to a terminal. */
  readonly lines: readonly string[];
  /** Structured fields logged beside `msg` (including `event`). */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** The logging part of a pino logger that these functions need. */
export type OperatorLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

/** Longest remote value put into a line; TXT values can be 255 bytes. */
const FIELD_MAX = 128;

/** A remote value as it may appear in `msg`: escaped, one line, bounded. */
function text(value: string): string {
  return safeTerminalText(value, FIELD_MAX);
}

/** The seed's short SKI, escaped: callers pass SKIs as plain strings. */
function skiText(ski: string): string {
  return safeTerminalText(shortSki(ski));
}

function emit(
  log: OperatorLogger,
  level: OperatorLevel,
  event: OperatorEventName,
  msg: string,
  fields: Record<string, unknown> = {},
): OperatorEvent {
  const all = { event, ...fields };
  log[level](all, msg);
  return Object.freeze({ event, level, msg, lines: Object.freeze(msg.split('\n')), fields: all });
}

// ---------------------------------------------------------------------------------------------
// Durations (formatted as the seed does: seed-format.ts)

export { formatClockTime, formatDuration, formatUptimeMinutes };

/**
 * The Node equivalent of the seed's goroutine count: the number of active resources keeping
 * the event loop alive (sockets, timers, file handles), from `process.getActiveResourcesInfo()`.
 */
export function activeHandleCount(): number {
  return process.getActiveResourcesInfo().length;
}

// ---------------------------------------------------------------------------------------------
// Discovery and pairing

/** A device found by mDNS, as the discovery lines show it. */
export interface DiscoveredDeviceLine {
  ski: string;
  brand?: string | undefined;
  model?: string | undefined;
  /** IP address the device was found at. */
  address?: string | undefined;
  trusted: boolean;
}

/**
 * The seed's discovery block, one log record:
 * ```
 * 📡 Discovered 1 devices
 *   📱 a1b2c3d4e5f6...: Viessmann Vitocaldens (192.168.1.100)
 *     🔒 Unknown device
 * ```
 * A trusted device gets "    ✅ Trusted device" (not in the seed).
 */
export function discovered(
  log: OperatorLogger,
  devices: readonly DiscoveredDeviceLine[],
): OperatorEvent {
  const lines = [`📡 Discovered ${devices.length} devices`];
  for (const d of devices) {
    const name = [d.brand, d.model]
      .filter((s): s is string => s !== undefined && s !== '')
      .map((s) => text(s))
      .join(' ');
    const address = d.address === undefined || d.address === '' ? '' : ` (${text(d.address)})`;
    lines.push(`  📱 ${skiText(d.ski)}: ${name}${address}`);
    lines.push(d.trusted ? '    ✅ Trusted device' : '    🔒 Unknown device');
  }
  return emit(log, 'info', 'discovered', lines.join('\n'), {
    count: devices.length,
    devices: devices.map((d) => ({
      ski: d.ski,
      brand: d.brand,
      model: d.model,
      address: d.address,
      trusted: d.trusted,
    })),
  });
}

/** "🔒 Trust decision requested for device: a1b2c3d4e5f6..." */
export function trustDecisionRequested(
  log: OperatorLogger,
  ski: string,
  details: { brand?: string; model?: string; device_type?: string; address?: string } = {},
): OperatorEvent {
  return emit(
    log,
    'info',
    'trust_decision_requested',
    `🔒 Trust decision requested for device: ${skiText(ski)}`,
    { ski, ...details },
  );
}

/** The device shown in the terminal pairing prompt. */
export interface PairingPromptDevice {
  ski: string;
  brand: string;
  model: string;
  device_type: string;
}

/**
 * The seed's terminal pairing prompt, ready to be written to stdout before reading the answer:
 * ```
 *
 * 🔒 Device Pairing Request
 * SKI: <ski>
 * Brand: Viessmann
 * Model: Vitocaldens
 * Type: HeatPump
 *
 * Do you want to trust this device? (yes/no):
 * ```
 * The SKI is shown in full so the person can compare it with the device's label; pass
 * `{ shortSki: true }` for the seed's short form.
 */
export function formatPairingPrompt(
  device: PairingPromptDevice,
  options: { shortSki?: boolean } = {},
): string {
  // Every field escaped: a `\r` or cursor movement in the brand could otherwise overwrite the
  // SKI line the person compares with the device's label.
  const ski = safeTerminalText(options.shortSki === true ? shortSki(device.ski) : device.ski);
  return (
    '\n🔒 Device Pairing Request\n' +
    `SKI: ${ski}\n` +
    `Brand: ${text(device.brand)}\n` +
    `Model: ${text(device.model)}\n` +
    `Type: ${text(device.device_type)}\n` +
    '\nDo you want to trust this device? (yes/no): '
  );
}

/** Interprets the answer to the pairing prompt: yes/y → true, no/n → false, else undefined. */
export function parsePairingAnswer(answer: string): boolean | undefined {
  const a = answer.trim().toLowerCase();
  if (a === 'yes' || a === 'y') return true;
  if (a === 'no' || a === 'n') return false;
  return undefined;
}

/** "✅ User approved device: a1b2c3d4e5f6..." */
export function userApproved(log: OperatorLogger, ski: string): OperatorEvent {
  return emit(log, 'info', 'user_approved', `✅ User approved device: ${skiText(ski)}`, { ski });
}

/** "❌ User denied device: a1b2c3d4e5f6..." (not in the seed). */
export function userDenied(log: OperatorLogger, ski: string): OperatorEvent {
  return emit(log, 'info', 'user_denied', `❌ User denied device: ${skiText(ski)}`, { ski });
}

/** "⌛ Pairing request expired for device: a1b2c3d4e5f6..." (not in the seed). */
export function pairingExpired(log: OperatorLogger, ski: string): OperatorEvent {
  return emit(
    log,
    'info',
    'pairing_expired',
    `⌛ Pairing request expired for device: ${skiText(ski)}`,
    { ski },
  );
}

/**
 * "✅ Added trusted device: a1b2c3d4e5f6... (Viessmann Vitocaldens)"; without a brand or model
 * (a device added by SKI alone) the parenthesis is left out, not shown as "( )".
 */
export function trustedDeviceAdded(
  log: OperatorLogger,
  device: { ski: string; brand: string; model: string; device_type?: string },
): OperatorEvent {
  const name = [device.brand, device.model]
    .filter((s) => s !== '')
    .map((s) => text(s))
    .join(' ');
  return emit(
    log,
    'info',
    'trusted_device_added',
    `✅ Added trusted device: ${skiText(device.ski)}${name === '' ? '' : ` (${name})`}`,
    {
      ski: device.ski,
      brand: device.brand,
      model: device.model,
      device_type: device.device_type,
    },
  );
}

/** "🗑️  Removed trusted device: a1b2c3d4e5f6..." (not in the seed). */
export function trustedDeviceRemoved(log: OperatorLogger, ski: string): OperatorEvent {
  return emit(
    log,
    'info',
    'trusted_device_removed',
    `🗑️  Removed trusted device: ${skiText(ski)}`,
    { ski },
  );
}

// ---------------------------------------------------------------------------------------------
// Connections

/** "✅ Device connected: a1b2c3d4e5f6..." */
export function deviceConnected(
  log: OperatorLogger,
  ski: string,
  details: { direction?: 'inbound' | 'outbound'; address?: string } = {},
): OperatorEvent {
  return emit(log, 'info', 'device_connected', `✅ Device connected: ${skiText(ski)}`, {
    ski,
    ...details,
  });
}

/** "❌ Device a1b2c3d4e5f6... error: connection timeout" */
export function deviceError(
  log: OperatorLogger,
  ski: string,
  error: unknown,
  details: { code?: string; phase?: string } = {},
): OperatorEvent {
  const message = error instanceof Error ? error.message : String(error);
  const code =
    details.code ??
    (typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    (typeof error.code === 'string' || typeof error.code === 'number')
      ? String(error.code)
      : undefined);
  return emit(
    log,
    'error',
    'device_error',
    `❌ Device ${skiText(ski)} error: ${safeTerminalText(message)}`,
    {
      ski,
      error: message,
      ...(code === undefined ? {} : { code }),
      ...(details.phase === undefined ? {} : { phase: details.phase }),
    },
  );
}

/**
 * "📱 Device a1b2c3d4e5f6... ended the handshake: the device closed the connection while this
 * node waited for a pairing decision about it (close code 4500: probe done)": a device that
 * closed on purpose before data exchange (a probe, a device giving up waiting for pairing) is not
 * an error.
 */
export function deviceEndedHandshake(
  log: OperatorLogger,
  ski: string,
  reason: string,
): OperatorEvent {
  return emit(
    log,
    'info',
    'device_ended_handshake',
    `📱 Device ${skiText(ski)} ended the handshake: ${safeTerminalText(reason)}`,
    { ski, reason },
  );
}

/** "[10:30:15] 🔄 a1b2c3d4e5f6...: ConnectionStateError" (local time of `at`). */
export function connectionState(
  log: OperatorLogger,
  ski: string,
  state: string,
  at: Date,
): OperatorEvent {
  return emit(
    log,
    'info',
    'connection_state',
    `[${formatClockTime(at)}] 🔄 ${skiText(ski)}: ${text(state)}`,
    { ski, state },
  );
}

/** "📱 Device disconnected: a1b2c3d4e5f6... (connected for 45s)" */
export function deviceDisconnected(
  log: OperatorLogger,
  ski: string,
  connectedForMs: number,
  details: { reason?: string } = {},
): OperatorEvent {
  return emit(
    log,
    'info',
    'device_disconnected',
    `📱 Device disconnected: ${skiText(ski)} (connected for ${formatDuration(connectedForMs)})`,
    { ski, connected_for_s: Math.round(connectedForMs / 1000), ...details },
  );
}

/** "⚠️  Approaching connection limit: 18/20" (two spaces after the sign, as in the seed). */
export function connectionLimitApproaching(
  log: OperatorLogger,
  active: number,
  max: number,
): OperatorEvent {
  return emit(
    log,
    'warn',
    'connection_limit_approaching',
    `⚠️  Approaching connection limit: ${active}/${max}`,
    { active, max },
  );
}

/** "⚠️  Short-lived connection detected for a1b2c3d4e5f6..." */
/**
 * Whether a closed connection deserves the seed's "Short-lived connection" warning: it was
 * short, and it ended unplanned (it failed or dropped). Planned ends are not warnings: closes
 * this node made on purpose (shutdown, un-pairing, a duplicate dropped by the double-connection
 * rule) and a device's own SHIP close (SHIP §13.4.7: it announced the close, e.g. on shutdown).
 */
export function isUnplannedShortLived(
  info: { byPeer: boolean; failure: { code: string } | undefined },
  connectedForMs: number,
  shortLivedMs: number,
): boolean {
  if (connectedForMs >= shortLivedMs) return false;
  if (info.failure?.code === 'SHIPHUB_ERR_DOUBLE_CONNECTION') return false;
  return info.failure !== undefined;
}

export function shortLivedConnection(
  log: OperatorLogger,
  ski: string,
  connectedForMs?: number,
): OperatorEvent {
  return emit(
    log,
    'warn',
    'short_lived_connection',
    `⚠️  Short-lived connection detected for ${skiText(ski)}`,
    {
      ski,
      ...(connectedForMs === undefined ? {} : { connected_for_ms: Math.round(connectedForMs) }),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Health and metrics

/** Numbers of the health check line. */
export interface HealthCheckStats {
  uptimeMs: number;
  /** Active connections. */
  connections: number;
  /** Connections since the first start (hub_state.json). */
  total: number;
  failed: number;
  /**
   * Reported under the seed's key `goroutines=` so existing greps keep working. Node has no
   * goroutines: this is the number of active handles ({@link activeHandleCount}).
   */
  activeHandles: number;
}

/** "🏥 Health Check: uptime=2h15m, connections=5, total=12, failed=2, goroutines=15" */
export function healthCheck(log: OperatorLogger, stats: HealthCheckStats): OperatorEvent {
  return emit(
    log,
    'info',
    'health_check',
    `🏥 Health Check: uptime=${formatUptimeMinutes(stats.uptimeMs)}, ` +
      `connections=${stats.connections}, total=${stats.total}, failed=${stats.failed}, ` +
      `goroutines=${stats.activeHandles}`,
    {
      uptime_s: Math.floor(stats.uptimeMs / 1000),
      connections: stats.connections,
      total: stats.total,
      failed: stats.failed,
      active_handles: stats.activeHandles,
    },
  );
}

/** Numbers of the metrics report. */
export interface MetricsReportStats {
  uptimeMs: number;
  active: number;
  total: number;
  failed: number;
  handshakes: number;
  trustedDevices: number;
  /** Error counts by reason; printed sorted by reason, block left out when empty. */
  errorCounts: Readonly<Record<string, number>>;
}

/**
 * The seed's report (every 5 minutes when metrics_enabled), one log record:
 * ```
 * 📊 Metrics Report:
 *   Uptime: 2h15m30s
 *   Connections: active=5, total=12, failed=2
 *   Handshakes: count=12
 *   Trusted devices: 8
 *   Error counts:
 *     connection_failed: 2
 *     trust_rejected: 1
 * ```
 */
export function metricsReport(log: OperatorLogger, stats: MetricsReportStats): OperatorEvent {
  const lines = [
    '📊 Metrics Report:',
    `  Uptime: ${formatDuration(stats.uptimeMs)}`,
    `  Connections: active=${stats.active}, total=${stats.total}, failed=${stats.failed}`,
    `  Handshakes: count=${stats.handshakes}`,
    `  Trusted devices: ${stats.trustedDevices}`,
  ];
  const reasons = Object.keys(stats.errorCounts).sort();
  if (reasons.length > 0) {
    lines.push('  Error counts:');
    for (const reason of reasons) lines.push(`    ${reason}: ${stats.errorCounts[reason]}`);
  }
  return emit(log, 'info', 'metrics_report', lines.join('\n'), {
    uptime_s: Math.floor(stats.uptimeMs / 1000),
    active: stats.active,
    total: stats.total,
    failed: stats.failed,
    handshakes: stats.handshakes,
    trusted_devices: stats.trustedDevices,
    error_counts: { ...stats.errorCounts },
  });
}
