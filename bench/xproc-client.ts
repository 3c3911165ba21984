/**
 * The cross-process bench's client: our `connectShip()` in its own process, dialling the server
 * child sequentially like a device that reconnects. Each handshake is timed from the client's
 * TCP connection established until the client's 'dataChannelOpen'; then the client terminates
 * the connection and waits until its socket is closed, then `gapMs` idle (0: back to back).
 *
 * Usage: node build/bench/xproc-client.js <port> <server identity> <client identity>
 *        <warmup> <count> <gapMs>
 * IPC out: { type: 'done', samples } | { type: 'error', message }
 */
import { connectShip } from '../src/transport/ship-client.js';
import type { ShipConnection } from '../src/transport/ship-connection.js';
import { createShipTlsContext } from '../src/transport/tls.js';
import { systemClock } from '../src/util/clock.js';
import { connectionEvent, loadIdentities, now, sleep, toParent, withTimeout } from './common.js';

export interface ClientDoneMessage {
  readonly type: 'done';
  /** TCP connected → client in data exchange, ms, one per measured handshake. */
  readonly samples: number[];
}

async function main(): Promise<void> {
  const [port, serverIndex, clientIndex, warmup, count, gapMs] = process.argv
    .slice(2)
    .map(Number) as [number, number, number, number, number, number];
  const identities = await loadIdentities(Math.max(serverIndex, clientIndex) + 1);
  const server = identities[serverIndex]!;
  const tls = createShipTlsContext(identities[clientIndex]!);
  const samples: number[] = [];
  for (let i = 0; i < warmup + count; i++) {
    let tcpAt = Number.NaN;
    let open: Promise<number> | undefined;
    const connection: ShipConnection = await withTimeout(
      connectShip(
        {
          host: '127.0.0.1',
          port,
          expectedSki: server.ski,
          tls,
          localSki: tls.ski,
          localShipId: 'bench-client',
          clock: systemClock,
          onConnection: (c) => {
            open = connectionEvent(c, 'dataChannelOpen');
          },
        },
        (progress) => {
          if (progress.step === 'tcp') tcpAt = now();
        },
      ),
      10_000,
      'connectShip',
    );
    const openAt = await withTimeout(open!, 10_000, 'SHIP handshake');
    if (i >= warmup) samples.push(openAt - tcpAt);
    await connection.terminate(4500, 'bench');
    await withTimeout(connection.waitSocketClosed(), 5_000, 'closing the socket');
    // Devices reconnect after a pause; the idle gap is part of the measurement design.
    if (gapMs > 0) await sleep(gapMs);
    else await new Promise((resolve) => setImmediate(resolve));
  }
  toParent<ClientDoneMessage>({ type: 'done', samples });
  process.exit(0);
}

main().catch((err: unknown) => {
  toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
