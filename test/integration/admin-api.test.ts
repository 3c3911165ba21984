/**
 * The admin API and its client over real sockets on 127.0.0.1 (port 0): the client against a
 * listening server, a daemon that is not running, and a request body that stalls.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { createAdminServer } from '../../src/ops/admin-api.js';
import { AdminApiError, AdminClient } from '../../src/ops/admin-client.js';
import { TransportError } from '../../src/ship/errors.js';
import { OTHER, SKI, TOKEN, fakeBackend, quietLogger, server } from '../helpers/admin-fakes.js';

describe('admin API over a socket on 127.0.0.1', () => {
  it('checks the Host port against the port it is bound to once listening', async () => {
    const { admin } = server();
    const { port, url } = await admin.listen();
    try {
      const get = (host: string) =>
        admin.app.inject({
          url: '/api/trust',
          headers: { authorization: `Bearer ${TOKEN}`, host },
        });
      assert.equal((await get(`127.0.0.1:${port}`)).statusCode, 200);
      assert.equal((await get(`127.0.0.1:${port === 65535 ? 1 : port + 1}`)).statusCode, 421);
      assert.equal((await new AdminClient({ baseUrl: url, token: TOKEN }).listTrusted()).length, 0);
    } finally {
      await admin.close();
    }
  });

  it('closes a connection whose body stalls', { timeout: 60_000 }, async () => {
    const { logger } = quietLogger();
    const admin = createAdminServer({
      backend: fakeBackend().backend,
      logger,
      token: TOKEN,
      host: '127.0.0.1',
      port: 0,
      requestTimeoutMs: 300,
    });
    const { port } = await admin.listen();
    try {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      const closed = new Promise<string>((resolve) => {
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
        socket.once('close', () => resolve(received));
      });
      // Headers promise 1,000 bytes of body; one arrives, then nothing (slowloris).
      socket.write(
        `POST /api/trust HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n` +
          'Content-Length: 1000\r\n\r\n{',
      );
      const answer = await closed;
      assert.doesNotMatch(answer, /HTTP\/1\.1 20/, 'the request was not processed');
    } finally {
      await admin.close();
    }
  });
});

describe('admin client', () => {
  it('talks to a listening admin server over 127.0.0.1', async () => {
    const { admin, calls } = server({ token: TOKEN });
    const { url } = await admin.listen();
    try {
      const client = new AdminClient({ baseUrl: url, token: TOKEN });
      assert.equal((await client.health()).status, 'ok');
      assert.equal(await client.ready(), true);
      assert.equal((await client.listPending())[0]?.ski, SKI);
      await client.approve(SKI);
      await assert.rejects(client.deny(SKI), (error: unknown) => {
        return (
          error instanceof AdminApiError &&
          error.status === 404 &&
          error.code === 'SHIPHUB_ERR_NOT_FOUND'
        );
      });
      const device = await client.addTrusted(OTHER, { brand: 'Acme' });
      assert.equal(device.brand, 'Acme');
      assert.equal((await client.listTrusted()).length, 1);
      await client.removeTrusted(OTHER);
      assert.equal((await client.listConnections()).length, 1);
      assert.equal((await client.listDiscovered()).length, 1);
      assert.match(await client.metrics(), /shiphub_connections/);
      assert.deepEqual(calls, [`approve ${SKI}`, `deny ${SKI}`, `add ${OTHER}`, `remove ${OTHER}`]);

      const anonymous = new AdminClient({ baseUrl: url });
      await assert.rejects(anonymous.listTrusted(), (error: unknown) => {
        return error instanceof AdminApiError && error.status === 401;
      });
    } finally {
      await admin.close();
    }
  });

  it('says plainly when the daemon is not running', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    await assert.rejects(new AdminClient({ baseUrl }).health(), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.equal(error.code, 'SHIPHUB_ERR_DAEMON_UNREACHABLE');
      assert.equal(
        error.message,
        `the ship-hub daemon is not running at ${baseUrl} (connection refused)`,
      );
      return true;
    });
  });
});
