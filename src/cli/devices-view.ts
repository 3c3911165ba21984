/**
 * `ship-hub devices`: one row per device the hub knows of, joined by SKI from what mDNS shows,
 * the pairing requests waiting for a decision, the trusted devices and the open connections, so
 * an installer sees in one table what is where (found but not paired, paired but not reachable,
 * asking to pair, connected).
 */
import type { SpineDeviceSummary } from '../hub/spine-summary.js';
import type { LiveMeasurement } from '../spine/monitoring/values.js';
import type {
  ConnectionInfo,
  DiscoveredDeviceInfo,
  PendingPairingInfo,
  SpineDeviceInfo,
  TrustedDeviceInfo,
} from '../ops/admin-api.js';
import { safeTerminalText } from '../util/terminal-text.js';

export interface DeviceViewSources {
  readonly discovered: readonly DiscoveredDeviceInfo[];
  readonly pending: readonly PendingPairingInfo[];
  readonly trusted: readonly TrustedDeviceInfo[];
  readonly connections: readonly ConnectionInfo[];
  /** The SPINE side of devices in data exchange (GET /api/devices); none without the daemon. */
  readonly spine?: readonly SpineDeviceInfo[];
}

export interface DeviceRow extends Record<string, unknown> {
  ski: string;
  brand: string;
  model: string;
  device_type: string;
  /** "yes", or "no" for a device seen or asking but not paired. */
  trusted: 'yes' | 'no';
  /** Where mDNS shows it ("address:port"), or "-" when it is not visible. */
  mdns: string;
  /** "asking until <time>" while a pairing request waits for a decision, else "-". */
  pairing: string;
  /** "inbound, <state>" / "outbound, <state>" per open connection, or "-". */
  connection: string;
  /** What SPINE says: "<device type>, N use cases, heartbeat ok|lost|none", or "-". */
  spine: string;
  /** The whole SPINE summary (JSON output; `ship-hub devices SKI` prints it). */
  spine_details?: SpineDeviceSummary;
}

/** The one-cell SPINE text of a device (device strings escaped by the table printer). */
export function spineCell(summary: SpineDeviceSummary): string {
  if (!summary.discovered) return 'discovery pending';
  const useCases = summary.useCases;
  return [
    summary.deviceType ?? 'unknown type',
    useCases === undefined
      ? 'use cases pending'
      : `${useCases.length} use case${useCases.length === 1 ? '' : 's'}`,
    `heartbeat ${summary.heartbeat.state}`,
    ...totalPower(summary),
  ].join(', ');
}

/** "1234.56 W" of the first monitored total power (MPC scenario 1, MGCP scenario 2), if any. */
function totalPower(summary: SpineDeviceSummary): string[] {
  for (const entity of summary.monitoring) {
    const total = entity.measurements.find((m) => m.scope === 'acPowerTotal');
    if (total !== undefined) {
      return [`${total.value} ${safeTerminalText(total.unit ?? '', 8)}`.trimEnd()];
    }
  }
  return [];
}

/** "power acPower phase a: 410 W (measuredValue, 2025-01-15T10:00:05Z)" */
export function measurementLine(m: LiveMeasurement): string {
  const t = (value: string) => safeTerminalText(value, 64);
  const phase =
    m.phases === undefined
      ? ''
      : ` ${m.phases.length > 1 && m.phases !== 'abc' ? 'phases' : 'phase'} ${t(m.phases)}` +
        (m.inReferenceTo !== undefined && m.inReferenceTo !== 'neutral'
          ? `-${t(m.inReferenceTo)}`
          : '');
  const details = [m.source, m.timestamp].filter((x): x is string => x !== undefined).map(t);
  return (
    `${t(m.type ?? 'measurement')} ${t(m.scope ?? `#${m.measurementId}`)}${phase}: ` +
    `${m.value}${m.unit !== undefined ? ` ${t(m.unit)}` : ''}` +
    (details.length > 0 ? ` (${details.join(', ')})` : '')
  );
}

/** The lines of `ship-hub devices SKI`: the device's SPINE side, every device string escaped. */
export function spineDetailLines(summary: SpineDeviceSummary): string[] {
  const t = (value: string) => safeTerminalText(value, 128);
  const lines = [
    `SPINE session:  ${summary.session}${summary.discovered ? '' : ' (discovery pending)'}`,
  ];
  if (summary.deviceAddress !== undefined)
    lines.push(`device address: ${t(summary.deviceAddress)}`);
  if (summary.deviceType !== undefined) lines.push(`device type:    ${t(summary.deviceType)}`);
  for (const [name, value] of Object.entries(summary.manufacturer ?? {})) {
    lines.push(`${t(name)}: ${t(value)}`);
  }
  const hb = summary.heartbeat;
  lines.push(
    `heartbeat:      ${hb.state}` +
      (hb.silentForMs !== undefined ? ` (last ${Math.round(hb.silentForMs / 1000)} s ago)` : '') +
      (hb.announcedTimeoutMs !== undefined
        ? `, announced timeout ${Math.round(hb.announcedTimeoutMs / 1000)} s`
        : ''),
  );
  const r = summary.relations;
  lines.push(
    `subscriptions:  ours ${r.ours} accepted, ${r.oursRefused} refused; theirs ${r.theirSubscriptions}, bindings ${r.theirBindings}`,
  );
  if (summary.useCases === undefined) lines.push('use cases:      pending');
  else if (summary.useCases.length === 0) lines.push('use cases:      none');
  else {
    lines.push('use cases:');
    for (const u of summary.useCases) {
      lines.push(
        `  ${t(u.name)}${u.version !== undefined ? ` ${t(u.version)}` : ''} as ${t(u.actor)}` +
          (u.entity !== undefined ? ` on entity [${u.entity.join(',')}]` : '') +
          ` (scenarios ${u.scenarios.join(', ') || 'none'})` +
          (u.available === false ? ', not available' : ''),
      );
    }
  }
  for (const entity of summary.monitoring) {
    lines.push(
      `monitoring:     ${entity.useCase} on [${entity.entity.join(',')}] ${t(entity.entityType)}` +
        (entity.measurements.length === 0 ? ' (no values yet)' : ''),
    );
    for (const m of entity.measurements) lines.push(`  ${measurementLine(m)}`);
    for (const c of entity.configuration) {
      lines.push(
        `  ${t(c.keyName ?? `key #${c.keyId}`)}: ${t(String(c.value))}` +
          (c.unit !== undefined ? ` ${t(c.unit)}` : ''),
      );
    }
  }
  lines.push('entities:');
  for (const e of summary.entities) {
    lines.push(`  [${e.entity.join(',')}] ${t(e.type)}`);
    for (const f of e.features) {
      lines.push(
        `    ${f.feature}: ${t(f.type)} (${t(f.role)})` +
          (f.functions.length > 0 ? ` ${f.functions.map(t).join(', ')}` : ''),
      );
    }
  }
  return lines;
}

/** Joins the four views by SKI; rows sorted by SKI. */
export function joinDevices(sources: DeviceViewSources): DeviceRow[] {
  const rows = new Map<string, DeviceRow>();
  const row = (ski: string): DeviceRow => {
    let existing = rows.get(ski);
    if (existing === undefined) {
      existing = {
        ski,
        brand: '',
        model: '',
        device_type: '',
        trusted: 'no',
        mdns: '-',
        pairing: '-',
        connection: '-',
        spine: '-',
      };
      rows.set(ski, existing);
    }
    return existing;
  };
  const label = (
    target: DeviceRow,
    from: { brand?: unknown; model?: unknown; device_type?: unknown },
  ) => {
    if (target.brand === '' && typeof from.brand === 'string') target.brand = from.brand;
    if (target.model === '' && typeof from.model === 'string') target.model = from.model;
    if (target.device_type === '' && typeof from.device_type === 'string') {
      target.device_type = from.device_type;
    }
  };
  for (const device of sources.trusted) {
    const target = row(device.ski);
    target.trusted = 'yes';
    label(target, device);
  }
  for (const device of sources.discovered) {
    const target = row(device.ski);
    label(target, device);
    if (device.address !== undefined) {
      target.mdns = device.port === undefined ? device.address : `${device.address}:${device.port}`;
    } else {
      target.mdns = 'visible';
    }
  }
  for (const request of sources.pending) {
    const target = row(request.ski);
    label(target, request);
    target.pairing = `asking until ${request.expires_at}`;
  }
  for (const connection of sources.connections) {
    const target = row(connection.ski);
    const text = `${connection.direction}, ${connection.state}`;
    target.connection = target.connection === '-' ? text : `${target.connection}; ${text}`;
  }
  for (const device of sources.spine ?? []) {
    const target = row(device.ski);
    target.spine = spineCell(device.spine);
    target.spine_details = device.spine;
    const type = device.spine.deviceType;
    if (target.device_type === '' && type !== undefined) target.device_type = type;
  }
  return [...rows.values()].sort((a, b) => (a.ski < b.ski ? -1 : a.ski > b.ski ? 1 : 0));
}
