/**
 * The soak benchmark's hub (started by soak.ts with --expose-gc): a Hub over TLS on 127.0.0.1
 * alone in its own process, so its memory and handles are not mixed with the clients'. The
 * application echoes every datagram to the device that sent it.
 *
 * IPC in:  { type: 'start', identity, trusted } | { type: 'sample' } | { type: 'stop' }
 * IPC out: { type: 'ready', port } | { type: 'sample', ... } | { type: 'error', message }
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readdirSync } from 'node:fs';
import type { Hub } from '../../src/hub/hub.js';
import { createShipTlsContext } from '../../src/transport/tls.js';
import { startHub } from './helpers.js';

export interface SoakIdentity {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly ski: string;
}

export type SoakServerCommand =
  | { readonly type: 'start'; readonly identity: SoakIdentity; readonly trusted: readonly string[] }
  /** With `gc`, also a full collection to read the retained heap (it pauses the hub). */
  | { readonly type: 'sample'; readonly gc: boolean }
  | { readonly type: 'stop' };

export interface SoakServerSample {
  readonly type: 'sample';
  /** Memory as it is (no forced collection). */
  readonly rss: number;
  readonly heapUsed: number;
  /** heapUsed right after a full collection (only in samples asked with `gc`). */
  readonly heapRetained: number | undefined;
  readonly external: number;
  readonly activeHandles: number;
  readonly openFds: number;
  readonly connections: number;
  readonly dataConnections: number;
  readonly echoed: number;
  readonly eventLoopDelayP99Ms: number;
  readonly cpuMs: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

function send(message: unknown): void {
  process.send?.(message);
}

let hub: Hub | undefined;
let echoed = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function sample(collect: boolean): SoakServerSample {
  const before = process.memoryUsage();
  if (collect) gc?.();
  const retained = collect && gc !== undefined ? process.memoryUsage().heapUsed : undefined;
  const cpu = process.cpuUsage();
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  let openFds = -1;
  try {
    openFds = readdirSync('/proc/self/fd').length;
  } catch {
    // not Linux
  }
  const connections = hub?.connections() ?? [];
  const result: SoakServerSample = {
    type: 'sample',
    rss: before.rss,
    heapUsed: before.heapUsed,
    heapRetained: retained,
    external: before.external,
    activeHandles: handles.length,
    openFds,
    connections: connections.length,
    dataConnections: connections.filter((c) => c.state === 'SME_STATE_COMPLETE').length,
    echoed,
    eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  loopDelay.reset();
  return result;
}

process.on('message', (command: SoakServerCommand) => {
  if (command.type === 'start') {
    void startHub({
      tls: createShipTlsContext({ ...command.identity, ski: command.identity.ski as never }),
      shipId: 'soak-hub',
      transport: { maxHandshakesInFlight: 256 },
      hub: {
        trusted: command.trusted.map((ski) => ({ ski })),
        maxConnections: command.trusted.length + 100,
        connectionsPerAddressPerMinute: 1_000_000,
        setupRemoteDevice: (device) => ({
          onData: (payload) => {
            echoed += 1;
            device.send(payload);
          },
        }),
      },
    }).then(
      (started) => {
        hub = started;
        send({ type: 'ready', port: started.listeningPort });
      },
      (err: unknown) => send({ type: 'error', message: String(err) }),
    );
  } else if (command.type === 'sample') {
    send(sample(command.gc));
  } else {
    const done = () => process.exit(0);
    void (hub?.stop(2_000) ?? Promise.resolve()).then(done, done);
    setTimeout(done, 5_000).unref();
  }
});
// Never outlive the parent.
process.on('disconnect', () => process.exit(0));
