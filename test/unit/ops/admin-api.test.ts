import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminBackend, TrustedDeviceInfo } from '../../../src/ops/admin-api.js';
import { AdminClient, adminUrlFromConfig } from '../../../src/ops/admin-client.js';
import { ConfigError, ShipHubError } from '../../../src/ship/errors.js';
import type { TrustedDevice } from '../../../src/trust/trust-store.js';
import { OTHER, SKI, SKI2, SPINE_SUMMARY, TOKEN, server } from '../../helpers/admin-fakes.js';

// Compile-time check: the trust store's entries are what the admin API lists and returns
// (tsc fails on this file when either side drifts).
type Assignable<From, To> = [From] extends [To] ? true : never;
export const TRUST_ENTRIES_ARE_ADMIN_ENTRIES: [
  Assignable<TrustedDevice[], Awaited<ReturnType<AdminBackend['listTrusted']>>>,
  Assignable<TrustedDevice, Awaited<ReturnType<AdminBackend['addTrusted']>>>,
] = [true, true];

describe('admin API', () => {
  it("serves the devices' SPINE side, and 404 for a device without a session", async () => {
    const { app } = server();
    const list = await app.inject({ url: '/api/devices' });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json(), { devices: [{ ski: SKI, spine: SPINE_SUMMARY }] });
    const one = await app.inject({ url: `/api/devices/${SKI.toUpperCase()}` });
    assert.equal(one.statusCode, 200);
    assert.deepEqual(one.json(), { ski: SKI, spine: SPINE_SUMMARY });
    const missing = await app.inject({ url: `/api/devices/${OTHER}` });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /"code":"SHIPHUB_ERR_NOT_FOUND"/);
    assert.equal((await app.inject({ url: '/api/devices/nonsense' })).statusCode, 400);
  });

  it('serves health, readiness and metrics', async () => {
    const { app, setReady } = server();
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok', uptime_s: 42, connections: 1 });

    assert.deepEqual((await app.inject({ url: '/readyz' })).json(), { ready: true });
    setReady(false);
    const notReady = await app.inject({ url: '/readyz' });
    assert.equal(notReady.statusCode, 503);
    assert.equal(notReady.json().error.code, 'SHIPHUB_ERR_NOT_READY');

    const metrics = await app.inject({ url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
    for (const name of [
      'shiphub_connections',
      'shiphub_handshake_phase_duration_seconds',
      'shiphub_trust_decisions_total',
      'shiphub_pending_pairings',
    ]) {
      assert.ok(metrics.body.includes(`# TYPE ${name} `), name);
    }
    await app.close();
  });

  it('answers 404 on /metrics when metrics are disabled', async () => {
    const { app } = server({ metrics: false });
    const res = await app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 404);
    assert.match(res.json().error.message, /metrics_enabled=false/);
    await app.close();
  });

  it('approves and denies pending pairings with SKIs in any format', async () => {
    const { app, calls } = server();
    const list = await app.inject({ url: '/api/pairing' });
    assert.equal(list.json().pending[0].ski, SKI);

    const upper = SKI.toUpperCase().match(/../g)!.join(':');
    const approve = await app.inject({ method: 'POST', url: `/api/pairing/${upper}/approve` });
    assert.equal(approve.statusCode, 200);
    assert.deepEqual(approve.json(), { ski: SKI, decision: 'approved' });
    assert.deepEqual(calls, [`approve ${SKI}`]);

    const again = await app.inject({ method: 'POST', url: `/api/pairing/${SKI}/deny` });
    assert.equal(again.statusCode, 404);
    assert.deepEqual(again.json(), {
      error: { code: 'SHIPHUB_ERR_NOT_FOUND', message: `no pending pairing request for ${SKI}` },
    });
    await app.close();
  });

  it('lists denied devices and forgets a denial', async () => {
    const { app, calls } = server();
    const list = await app.inject({ url: '/api/pairing' });
    assert.equal(list.json().denied[0].ski, SKI2);
    assert.equal(list.json().denied[0].refused_since, 3);
    const forget = await app.inject({ method: 'POST', url: `/api/pairing/${SKI2}/forget` });
    assert.equal(forget.statusCode, 200);
    assert.deepEqual(forget.json(), { ski: SKI2, forgotten: true });
    const again = await app.inject({ method: 'POST', url: `/api/pairing/${SKI2}/forget` });
    assert.equal(again.statusCode, 404);
    assert.match(again.json().error.message, /not in a denial cool-down/);
    assert.deepEqual(calls, [`forget ${SKI2}`, `forget ${SKI2}`]);
    assert.deepEqual((await app.inject({ url: '/api/pairing' })).json().denied, []);
    await app.close();
  });

  it('opens an auto-accept window on request (at most 120 s) and closes it', async () => {
    const { app, calls } = server();
    const opened = await app.inject({
      method: 'POST',
      url: '/api/pairing/window',
      payload: { seconds: 60 },
    });
    assert.equal(opened.statusCode, 200);
    assert.deepEqual(opened.json(), { open: true, until: '2024-01-09T10:32:00.000Z' });
    const tooLong = await app.inject({
      method: 'POST',
      url: '/api/pairing/window',
      payload: { seconds: 121 },
    });
    assert.equal(tooLong.statusCode, 400);
    assert.match(tooLong.json().error.message, /1 to 120 \(SHIP 12\.3\.1\.1/);
    assert.equal(
      (await app.inject({ method: 'POST', url: '/api/pairing/window' })).statusCode,
      200,
    );
    const closed = await app.inject({ method: 'DELETE', url: '/api/pairing/window' });
    assert.deepEqual(closed.json(), { open: false });
    assert.deepEqual(calls, ['window 60', 'window 120', 'window 0']);
    await app.close();
  });

  it('answers 400 with a clear message for a bad SKI', async () => {
    const { app, calls } = server();
    const res = await app.inject({ method: 'POST', url: '/api/pairing/not-a-ski/approve' });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      error: {
        code: 'SHIPHUB_ERR_SKI_INVALID',
        message:
          'not an SKI: "not-a-ski" (expected 40 hexadecimal digits; spaces, dashes and colons are allowed)',
      },
    });
    const del = await app.inject({ method: 'DELETE', url: '/api/trust/1234' });
    assert.equal(del.statusCode, 400);
    assert.equal(del.json().error.code, 'SHIPHUB_ERR_SKI_INVALID');
    assert.deepEqual(calls, []);
    await app.close();
  });

  it('adds, lists and removes trusted devices', async () => {
    const { app } = server();
    const add = await app.inject({
      method: 'POST',
      url: '/api/trust',
      payload: { ski: SKI.toUpperCase(), brand: 'Viessmann', model: 'Vitocaldens' },
    });
    assert.equal(add.statusCode, 201);
    assert.equal(add.json().device.ski, SKI);
    assert.equal(add.json().device.brand, 'Viessmann');

    const list = await app.inject({ url: '/api/trust' });
    assert.deepEqual(
      list.json().devices.map((d: TrustedDeviceInfo) => d.ski),
      [SKI],
    );

    const removed = await app.inject({ method: 'DELETE', url: `/api/trust/${SKI}` });
    assert.deepEqual(removed.json(), { ski: SKI, removed: true });
    const missing = await app.inject({ method: 'DELETE', url: `/api/trust/${OTHER}` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'SHIPHUB_ERR_NOT_FOUND');
    await app.close();
  });

  it('validates the POST /api/trust body against its schema', async () => {
    const { app } = server();
    for (const payload of [
      {},
      { ski: 42 },
      { ski: SKI, colour: 'red' },
      { ski: SKI, brand: 'x'.repeat(300) },
    ]) {
      const res = await app.inject({ method: 'POST', url: '/api/trust', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().error.code, 'SHIPHUB_ERR_BAD_REQUEST');
      assert.equal(typeof res.json().error.message, 'string');
    }
    const badJson = await app.inject({
      method: 'POST',
      url: '/api/trust',
      headers: { 'content-type': 'application/json' },
      payload: '{"ski": ',
    });
    assert.equal(badJson.statusCode, 400);
    assert.equal(badJson.json().error.code, 'SHIPHUB_ERR_BAD_REQUEST');
    await app.close();
  });

  it('lists connections and discovered devices; unknown routes are 404 in the error format', async () => {
    const { app } = server();
    assert.equal(
      (await app.inject({ url: '/api/connections' })).json().connections[0].state,
      'data',
    );
    assert.equal((await app.inject({ url: '/api/discovered' })).json().devices[0].ski, SKI);
    const res = await app.inject({ url: '/api/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'SHIPHUB_ERR_NOT_FOUND');
    await app.close();
  });

  it('maps backend errors: ShipHubError codes to statuses, anything else to a 500 without details', async () => {
    const { app, backend, lines } = server();
    backend.listTrusted = () => {
      throw new ShipHubError('SHIPHUB_ERR_NOT_READY', 'trust store not open yet');
    };
    backend.listConnections = () => {
      throw new Error('secret internals');
    };
    const notReady = await app.inject({ url: '/api/trust' });
    assert.equal(notReady.statusCode, 503);
    assert.deepEqual(notReady.json(), {
      error: { code: 'SHIPHUB_ERR_NOT_READY', message: 'trust store not open yet' },
    });
    const boom = await app.inject({ url: '/api/connections' });
    assert.equal(boom.statusCode, 500);
    assert.deepEqual(boom.json(), {
      error: { code: 'SHIPHUB_ERR_INTERNAL', message: 'internal error (see the daemon log)' },
    });
    assert.ok(lines.join('').includes('secret internals'));
    await app.close();
  });

  it('requires the bearer token on every route except /healthz and /readyz', async () => {
    const { raw: app, lines } = server({ token: TOKEN });
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200);
    for (const [method, url] of [
      ['GET', '/metrics'],
      ['GET', '/api/pairing'],
      ['POST', `/api/pairing/${SKI}/approve`],
      ['GET', '/api/trust'],
      ['DELETE', `/api/trust/${SKI}`],
      ['GET', '/api/connections'],
      ['GET', '/api/discovered'],
      ['GET', '/api/nope'],
    ] as const) {
      const json = method === 'GET' ? {} : { payload: {} };
      const none = await app.inject({ method, url, ...json });
      assert.equal(none.statusCode, 401, `${method} ${url}`);
      assert.equal(none.json().error.code, 'SHIPHUB_ERR_UNAUTHORIZED');
      // Where the token is: a person with curl gets told (README shows the header).
      assert.match(none.json().error.message, /admin_token_file \(data\/admin\.token by default\)/);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="ship-hub"');
      const wrong = await app.inject({
        method,
        url,
        headers: { authorization: 'Bearer nope' },
        ...json,
      });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().error.message, 'invalid admin token');
    }
    const ok = await app.inject({
      url: '/api/pairing',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok.statusCode, 200);
    assert.ok(!lines.join('').includes(TOKEN));
    await app.close();
  });

  it('a web page cannot use it: foreign Host, cross-site Origin or fetch metadata, non-JSON state changes', async () => {
    const { raw, calls } = server({ token: TOKEN });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const approve = { method: 'POST' as const, url: `/api/pairing/${SKI}/approve` };
    // DNS rebinding: attacker.example resolved to 127.0.0.1.
    const rebound = await raw.inject({
      ...approve,
      headers: { ...auth, host: 'attacker.example:4713' },
      payload: {},
    });
    assert.equal(rebound.statusCode, 421);
    assert.match(rebound.json().error.message, /not a name of this admin API/);
    for (const headers of [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: 'http://127.0.0.1:8080' }, // another local web app: another origin
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ]) {
      const res = await raw.inject({ ...approve, headers: { ...auth, ...headers }, payload: {} });
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      assert.equal(res.json().error.message, 'cross-site requests are refused');
    }
    // sendBeacon / a form post: text/plain, or no body at all.
    const beacon = await raw.inject({
      ...approve,
      headers: { ...auth, 'content-type': 'text/plain' },
      payload: 'x',
    });
    assert.equal(beacon.statusCode, 415);
    assert.equal((await raw.inject({ ...approve, headers: auth })).statusCode, 415);
    assert.deepEqual(calls, [], 'nothing was approved');
    // The same request from the CLI (same origin, JSON) goes through.
    const ok = await raw.inject({
      ...approve,
      headers: { ...auth, host: 'localhost:4713', origin: 'http://localhost:4713' },
      payload: {},
    });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(calls, [`approve ${SKI}`]);
    await raw.close();
  });

  it('/healthz tells only status and uptime without the token', async () => {
    const { raw } = server({ token: TOKEN });
    const anonymous = await raw.inject({ url: '/healthz' });
    assert.deepEqual(anonymous.json(), { status: 'ok', uptime_s: 42 });
    const operator = await raw.inject({
      url: '/healthz',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.deepEqual(operator.json(), { status: 'ok', uptime_s: 42, connections: 1 });
    await raw.close();
  });

  it('the Host must name this server with its port: loopback, wildcard and admin_allowed_hosts', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const status = async (app: ReturnType<typeof server>['raw'], host: string) =>
      (await app.inject({ url: '/api/trust', headers: { ...auth, host } })).statusCode;

    const loopback = server({ port: 4713 });
    for (const host of ['127.0.0.1:4713', 'localhost:4713', 'LOCALHOST:4713', '127.0.0.2:4713']) {
      assert.equal(await status(loopback.raw, host), 200, host);
    }
    for (const host of [
      'attacker.example:4713',
      'attacker.example',
      '127.0.0.1:4714', // another local service's address is not ours
      '127.0.0.1', // port 80
      'localhost:4713@attacker.example',
      '192.168.1.5:4713',
      '',
    ]) {
      const res = await loopback.raw.inject({ url: '/api/trust', headers: { ...auth, host } });
      assert.equal(res.statusCode, 421, host);
      assert.equal(res.json().error.code, 'SHIPHUB_ERR_UNAUTHORIZED');
    }
    await loopback.raw.close();

    const v6 = server({ host: '::1', port: 4713 });
    assert.equal(await status(v6.raw, '[::1]:4713'), 200);
    assert.equal(await status(v6.raw, 'localhost:4713'), 200);
    assert.equal(await status(v6.raw, 'attacker.example:4713'), 421);
    await v6.raw.close();

    // A wildcard bind: whatever IP literal the client dialled, and localhost; never a DNS name.
    const wildcard = server({ host: '0.0.0.0', port: 4713 });
    for (const host of ['192.168.1.5:4713', '[fe80::1]:4713', 'localhost:4713']) {
      assert.equal(await status(wildcard.raw, host), 200, host);
    }
    assert.equal(await status(wildcard.raw, 'attacker.example:4713'), 421);
    assert.equal(await status(wildcard.raw, '192.168.1.5:80'), 421);
    await wildcard.raw.close();

    // A name configured on purpose (a reverse proxy), matched as the whole header.
    const proxied = server({ port: 4713, allowedHosts: ['hub.example.com'] });
    assert.equal(await status(proxied.raw, 'HUB.example.com'), 200);
    assert.equal(await status(proxied.raw, 'hub.example.com:4713'), 421);
    const fromProxyPage = await proxied.raw.inject({
      method: 'POST',
      url: `/api/pairing/${SKI}/approve`,
      headers: {
        ...auth,
        host: 'hub.example.com',
        origin: 'https://hub.example.com',
        'content-type': 'application/json',
      },
    });
    assert.equal(fromProxyPage.statusCode, 200, 'the own origin through the proxy');
    await proxied.raw.close();
  });

  it('a JSON state change may have an empty body (curl without -d); other types may not', async () => {
    const { raw, calls } = server();
    const approve = { method: 'POST' as const, url: `/api/pairing/${SKI}/approve` };
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await raw.inject({ ...approve, headers: { ...auth, 'content-type': type } });
      assert.equal(res.statusCode, 415, type);
      assert.equal(res.json().error.code, 'SHIPHUB_ERR_BAD_REQUEST');
    }
    assert.deepEqual(calls, []);
    const empty = await raw.inject({
      ...approve,
      headers: { ...auth, 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(empty.statusCode, 200);
    assert.deepEqual(calls, [`approve ${SKI}`]);
    // POST /api/trust still needs its body.
    const noBody = await raw.inject({
      method: 'POST',
      url: '/api/trust',
      headers: { ...auth, 'content-type': 'application/json' },
    });
    assert.equal(noBody.statusCode, 400);
    // Prototype poisoning is still refused by fastify's parser.
    const poisoned = await raw.inject({
      method: 'POST',
      url: '/api/trust',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: `{"ski":"${SKI}","__proto__":{"admin":true}}`,
    });
    assert.equal(poisoned.statusCode, 400);
    await raw.close();
  });

  it('accepts each of several tokens (token file and admin_token) and nothing else', async () => {
    const file = 'token-from-the-file-0123456789';
    const configured = 'admin-token-from-config-0123';
    const { raw } = server({ token: [file, configured] });
    for (const [token, expected] of [
      [file, 200],
      [configured, 200],
      [TOKEN, 401],
      [`${file}x`, 401],
      [file.slice(0, -1), 401],
    ] as const) {
      const res = await raw.inject({
        method: 'POST',
        url: `/api/pairing/${SKI2}/forget`,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        payload: {},
      });
      assert.equal(res.statusCode === 404 ? 200 : res.statusCode, expected, token);
    }
    await raw.close();
  });

  it('refuses to be created without a token, also on loopback', () => {
    for (const token of ['', [], ['x'.repeat(20), '']]) {
      assert.throws(
        () => server({ token }),
        (error: unknown) => error instanceof ConfigError && /needs a token/.test(error.message),
      );
    }
    const { admin } = server({ host: '0.0.0.0', token: TOKEN });
    assert.ok(admin.app);
  });
});

describe('admin client', () => {
  it('builds its URL from the config', () => {
    assert.equal(
      adminUrlFromConfig({ admin_host: '127.0.0.1', admin_port: 4713 }),
      'http://127.0.0.1:4713',
    );
    assert.equal(
      adminUrlFromConfig({ admin_host: '0.0.0.0', admin_port: 4713 }),
      'http://127.0.0.1:4713',
    );
    assert.equal(adminUrlFromConfig({ admin_host: '::1', admin_port: 9 }), 'http://[::1]:9');
    assert.throws(
      () =>
        AdminClient.fromConfig({ admin_host: '127.0.0.1', admin_port: 0, admin_token: undefined }),
      /admin API is disabled/,
    );
  });
});
