/**
 * The memory benchmark's server: a ShipServer alone in its own process (started by
 * bench/memory.ts with --expose-gc), so its resident memory is not mixed with the clients'.
 *
 * Usage: node --expose-gc build/bench/server-child.js <identity index>
 * IPC in:  { type: 'measure' } | { type: 'stop' }
 * IPC out: { type: 'ready', port } | { type: 'measured', ... } | { type: 'error', message }
 */
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { ShipServer } from '../src/transport/ship-server.js';
import { createShipTlsContext } from '../src/transport/tls.js';
import { systemClock } from '../src/util/clock.js';
import { loadIdentities, sleep, toParent } from './common.js';

export interface ReadyMessage {
  readonly type: 'ready';
  readonly port: number;
}

export interface MeasuredMessage {
  readonly type: 'measured';
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** CPU time used by this process so far (user + system), read before the collections. */
  readonly cpuMs: number;
  /** Connections not closed yet. */
  readonly open: number;
  /** Connections that finished the handshake and the access methods exchange. */
  readonly complete: number;
}

/** Sent once `count` connections (in total, since the start) reached data exchange. */
export interface OpenedMessage {
  readonly type: 'opened';
  readonly count: number;
}

export type ServerChildCommand =
  /** Reports memory; with `gc`, after two full collections (the numbers that count). */
  | { readonly type: 'measure'; readonly gc: boolean }
  /** Asks for an 'opened' message once `count` connections in total reached data exchange. */
  | { readonly type: 'waitOpen'; readonly count: number }
  | { readonly type: 'stop' };

const gc = (globalThis as { gc?: () => void }).gc;

async function measure(open: number, complete: number, collect: boolean): Promise<void> {
  const cpu = process.cpuUsage();
  if (collect) {
    // Two full collections with a pause between them, so finalizers and freed buffers settle.
    gc?.();
    await sleep(50);
    gc?.();
  }
  const m = process.memoryUsage();
  const message: MeasuredMessage = {
    type: 'measured',
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    cpuMs: (cpu.user + cpu.system) / 1000,
    open,
    complete,
  };
  toParent(message);
}

async function main(): Promise<void> {
  const index = Number(process.argv[2] ?? '0');
  const [identity] = (await loadIdentities(index + 1)).slice(index);
  const connections = new Set<ShipConnection>();
  const completed = new Set<ShipConnection>();
  let opened = 0;
  let waitOpen: number | undefined;
  const checkOpened = () => {
    if (waitOpen !== undefined && opened >= waitOpen) {
      toParent<OpenedMessage>({ type: 'opened', count: opened });
      waitOpen = undefined;
    }
  };
  const server = new ShipServer({
    tls: createShipTlsContext(identity!),
    localSki: identity!.ski,
    localShipId: 'bench-server',
    port: 0,
    host: '127.0.0.1',
    clock: systemClock,
    maxHandshakesInFlight: 256,
    decide: () => ({ accept: true, sme: { initialTrust: 'trusted' } }),
    onConnection: (connection) => {
      connections.add(connection);
      connection.once('dataChannelOpen', () => {
        opened += 1;
        checkOpened();
      });
      connection.once('complete', () => completed.add(connection));
      connection.once('closed', () => {
        connections.delete(connection);
        completed.delete(connection);
      });
    },
  });
  const port = await server.listen();
  process.on('message', (command: ServerChildCommand) => {
    if (command.type === 'measure') {
      void measure(connections.size, completed.size, command.gc);
    } else if (command.type === 'waitOpen') {
      waitOpen = command.count;
      checkOpened();
    } else {
      for (const c of connections) void c.terminate(4500, 'bench done');
      void server.close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 2_000).unref();
    }
  });
  // Without the parent there is nothing to do: never outlive it.
  process.on('disconnect', () => process.exit(0));
  const ready: ReadyMessage = { type: 'ready', port };
  toParent(ready);
}

main().catch((err: unknown) => {
  toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
