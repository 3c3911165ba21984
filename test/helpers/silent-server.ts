import net from 'node:net';

/** A TCP server on 127.0.0.1 that holds what it accepts; see {@link startSilentServer}. */
export interface SilentServer {
  readonly port: number;
  /** Accepted sockets not closed yet. */
  readonly held: Set<net.Socket>;
  /** Destroys the held sockets and closes the server. */
  stop(): Promise<void>;
}

/**
 * Accepts TCP connections and never answers: a dial hangs in TLS. Each socket is `wrap`ped when
 * given (for example with our server TLS, so the dial hangs after TLS, in the upgrade); otherwise
 * what arrives is read and ignored, so that the client's close is seen.
 */
export async function startSilentServer(
  wrap?: (socket: net.Socket) => void,
): Promise<SilentServer> {
  const held = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    held.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => held.delete(socket));
    if (wrap) wrap(socket);
    else socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    held,
    stop: async () => {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
