/**
 * Devices of the reconnect storm: `count` SHIP client nodes, each with its own identity and TLS
 * context, in one process (bench/storm.ts starts two of these). On 'go' every device dials the
 * hub; a failed dial, or a connection that ends before data exchange, is retried the way a
 * reconnecting device would (src/hub/policy.ts reconnectDelayMs: 0-3 s, then 3-10 s, then
 * 10-20 s); a connection lost after data exchange is redialled after 0-3 s.
 *
 * Usage: node build/bench/storm-client.js <port> <hub ski> <first identity> <count> <all|spread>
 * IPC in:  { type: 'go' } | { type: 'stop' }
 * IPC out: { type: 'ready' } | StormClientReport | { type: 'error', message }
 */
import { reconnectDelayMs } from '../src/hub/policy.js';
import { toSki, type Ski } from '../src/ship/ski.js';
import { connectShip } from '../src/transport/ship-client.js';
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { createShipTlsContext, type ShipTlsContext } from '../src/transport/tls.js';
import { systemClock } from '../src/util/clock.js';
import { connectionEvent, loadIdentities, now, toParent } from './common.js';

export type StormMode = 'all' | 'spread';

export type StormClientCommand =
  | { readonly type: 'go' }
  /** Fleet mode: the first `count` devices drop their connection at once and redial (0-3 s). */
  | { readonly type: 'drop'; readonly count: number }
  | { readonly type: 'stop' };

export interface StormClientReport {
  readonly type: 'report';
  readonly devices: number;
  /** Devices in data exchange when the report was made. */
  readonly connected: number;
  /** Dials started, including the first one of every device. */
  readonly dials: number;
  /** Failed dials and connections that ended before data exchange, by message. */
  readonly failures: Record<string, number>;
  /** Per device: 'go' until its first data exchange, ms (client side); devices that got back. */
  readonly backAfterMs: number[];
}

class Device {
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  connection: ShipConnection | undefined;
  inData = false;
  backAfterMs: number | undefined;

  constructor(
    private readonly fleet: Fleet,
    private readonly tls: ShipTlsContext,
  ) {}

  get ski(): Ski {
    return this.tls.ski;
  }

  start(delayMs: number): void {
    if (delayMs <= 0) void this.dial();
    else this.timer = setTimeout(() => void this.dial(), delayMs);
  }

  /** Ends the connection abruptly, as a device that reboots; the closed handler redials. */
  drop(): void {
    if (this.connection !== undefined) void this.connection.terminate(4500, 'bench drop');
  }

  stop(): void {
    clearTimeout(this.timer);
    if (this.connection !== undefined) void this.connection.terminate(4500, 'bench done');
  }

  private retry(): void {
    if (this.fleet.stopped) return;
    this.attempt += 1;
    this.start(reconnectDelayMs(this.attempt, Math.random));
  }

  private async dial(): Promise<void> {
    if (this.fleet.stopped) return;
    this.fleet.dials += 1;
    let open: Promise<number> | undefined;
    try {
      await connectShip({
        host: '127.0.0.1',
        port: this.fleet.port,
        expectedSki: this.fleet.hubSki,
        tls: this.tls,
        localSki: this.tls.ski,
        localShipId: `bench-device-${this.tls.ski.slice(0, 8)}`,
        clock: systemClock,
        onConnection: (connection) => {
          this.connection = connection;
          open = connectionEvent(connection, 'dataChannelOpen');
          connection.once('closed', (info) => {
            if (this.connection === connection) this.connection = undefined;
            // Before data exchange the dial's catch below retries.
            if (!info.reachedDataExchange || this.fleet.stopped) return;
            this.inData = false;
            this.fleet.record('lost after data exchange');
            this.attempt = 0;
            this.retry();
          });
        },
      });
      await open;
      this.inData = true;
      this.attempt = 0;
      this.backAfterMs ??= now() - this.fleet.goAt;
    } catch (err) {
      this.fleet.record(err instanceof Error ? err.message : String(err));
      this.retry();
    }
  }
}

class Fleet {
  readonly devices: Device[] = [];
  readonly failures = new Map<string, number>();
  dials = 0;
  goAt = 0;
  stopped = false;

  constructor(
    readonly port: number,
    readonly hubSki: Ski,
  ) {}

  record(reason: string): void {
    // Addresses and ports vary; keep the message's shape so equal causes add up.
    const key = reason.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, '<addr>').slice(0, 160);
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }

  report(): StormClientReport {
    const back = this.devices.map((d) => d.backAfterMs).filter((v) => v !== undefined);
    return {
      type: 'report',
      devices: this.devices.length,
      connected: this.devices.filter((d) => d.inData).length,
      dials: this.dials,
      failures: Object.fromEntries(this.failures),
      backAfterMs: back,
    };
  }
}

async function main(): Promise<void> {
  const [portText, skiText, firstText, countText, modeText] = process.argv.slice(2);
  const first = Number(firstText);
  const count = Number(countText);
  const mode: StormMode = modeText === 'spread' ? 'spread' : 'all';
  const identities = (await loadIdentities(first + count)).slice(first, first + count);
  const fleet = new Fleet(Number(portText), toSki(skiText ?? ''));
  for (const identity of identities) {
    fleet.devices.push(new Device(fleet, createShipTlsContext(identity)));
  }
  process.on('message', (command: StormClientCommand) => {
    if (command.type === 'go') {
      fleet.goAt = now();
      for (const device of fleet.devices) {
        device.start(mode === 'all' ? 0 : reconnectDelayMs(1, Math.random));
      }
    } else if (command.type === 'drop') {
      const dropped = fleet.devices.slice(0, command.count);
      for (const device of dropped) device.drop();
      toParent({ type: 'dropped', skis: dropped.map((d) => d.ski) });
    } else if (!fleet.stopped) {
      fleet.stopped = true;
      toParent(fleet.report());
      for (const device of fleet.devices) device.stop();
      setTimeout(() => process.exit(0), 1_500).unref();
    }
  });
  process.on('disconnect', () => process.exit(0));
  toParent({ type: 'ready' });
}

main().catch((err: unknown) => {
  toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
