/**
 * `ship-hub devices`: one row per device the hub knows of, joined by SKI from what mDNS shows,
 * the pairing requests waiting for a decision, the trusted devices and the open connections, so
 * an installer sees in one table what is where (found but not paired, paired but not reachable,
 * asking to pair, connected).
 */
import type {
  ConnectionInfo,
  DiscoveredDeviceInfo,
  PendingPairingInfo,
  TrustedDeviceInfo,
} from '../ops/admin-api.js';

export interface DeviceViewSources {
  readonly discovered: readonly DiscoveredDeviceInfo[];
  readonly pending: readonly PendingPairingInfo[];
  readonly trusted: readonly TrustedDeviceInfo[];
  readonly connections: readonly ConnectionInfo[];
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
  return [...rows.values()].sort((a, b) => (a.ski < b.ski ? -1 : a.ski > b.ski ? 1 : 0));
}
