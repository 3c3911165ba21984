import { createServer } from 'node:net';

/** A port the OS just handed out (closed again at once; the test's server binds it next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  return typeof address === 'object' && address !== null ? address.port : 0;
}
