/**
 * The admin HTTP API of the daemon (fastify 5): health and readiness probes, Prometheus metrics,
 * pairing decisions, the trust list, connections and discovered devices. The CLI talks to it
 * through {@link AdminClient} (admin-client.ts).
 *
 * Security (docs/security.md): loopback is no credential, since every local process and every
 * web page in a local browser can reach 127.0.0.1. So:
 * - every route except GET /healthz and GET /readyz needs `Authorization: Bearer <token>` (the
 *   configured admin_token, or the 0600 token file the daemon creates and the CLI reads);
 *   /healthz without it answers only status and uptime (no SKI, no SHIP ID);
 * - the Host header must name this server (a bound address, or localhost on loopback): a DNS
 *   rebinding page sends its own host name;
 * - cross-site requests are refused (an Origin that is not this server, `Sec-Fetch-Site:
 *   cross-site` or `same-site`), and state changes require `Content-Type: application/json`,
 *   which a page cannot send across origins without a preflight (sendBeacon and form posts
 *   cannot);
 * - slow or large requests end: small body limit, request and keep-alive timeouts.
 * Errors are `{ "error": { "code", "message" } }` with stable `SHIPHUB_ERR_*` codes
 * (docs/errors.md).
 *
 * The types of the routes and the backend port are in admin-types.ts (re-exported here), the
 * Host and Origin checks in admin-security.ts; this module holds the routes and the lifecycle.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { LogController, fastify, type FastifyError, type FastifyInstance } from 'fastify';
import { failureInfo, type ErrorCode } from '../errors.js';
import { ConfigError, ShipHubError } from '../ship/errors.js';
import { parseSki, type Ski } from '../ship/ski.js';
import {
  hostAllowed,
  OPEN_ROUTES,
  originHost,
  parseHostHeader,
  STATE_CHANGING,
} from './admin-security.js';
import type { AdminServer, AdminServerOptions, TrustedDeviceDetails } from './admin-types.js';

export type {
  AdminBackend,
  AdminHealth,
  AdminServer,
  AdminServerOptions,
  ConnectionInfo,
  DeniedPairingInfo,
  DiscoveredDeviceInfo,
  PendingPairingInfo,
  TrustedDeviceDetails,
  TrustedDeviceInfo,
  SpineDeviceInfo,
} from './admin-types.js';

/** SHIP §12.3.1.1: an auto-accept window lasts at most 2 minutes. */
const MAX_WINDOW_SECONDS = 120;
/** Requests must arrive in full within this time (slowloris bodies end). */
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;
/** JSON schema of an SKI in a URL or body; the exact format is checked by parseSki. */
const SKI_SCHEMA = { type: 'string', minLength: 1, maxLength: 128 } as const;
const SKI_PARAMS = {
  type: 'object',
  required: ['ski'],
  properties: { ski: SKI_SCHEMA },
} as const;
const TEXT = { type: 'string', maxLength: 255 } as const;
const TRUST_BODY = {
  type: 'object',
  required: ['ski'],
  additionalProperties: false,
  properties: { ski: SKI_SCHEMA, brand: TEXT, model: TEXT, device_type: TEXT, address: TEXT },
} as const;

/** The error body every route returns. */
export interface AdminErrorBody {
  error: { code: string; message: string };
}

function errorBody(code: ErrorCode, message: string): AdminErrorBody {
  return { error: { code, message } };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Normalises an SKI from a request or throws the 400 error. */
function requireSki(text: string): Ski {
  const ski = parseSki(text);
  if (ski === undefined) {
    throw new ShipHubError(
      'SHIPHUB_ERR_SKI_INVALID',
      `not an SKI: "${text.length > 64 ? `${text.slice(0, 61)}...` : text}" ` +
        '(expected 40 hexadecimal digits; spaces, dashes and colons are allowed)',
    );
  }
  return ski;
}

/**
 * Creates the admin server (routes registered, not listening).
 *
 * @throws ConfigError `SHIPHUB_ERR_CONFIG` when `host` is not loopback and there is no token.
 */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  const { backend, registry, host, port } = options;
  const tokens = typeof options.token === 'string' ? [options.token] : [...options.token];
  if (tokens.length === 0 || tokens.some((t) => typeof t !== 'string' || t.length === 0)) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      'the admin API needs a token ("admin_token", or the token file "admin_token_file")',
    );
  }
  const log = options.logger.child({ component: 'admin-api' });
  // Digests have one length, so timingSafeEqual never throws and the comparison takes the same
  // time whatever the presented token is; every token is compared (no early exit) so the time
  // does not tell which one nearly matched either.
  const expected = tokens.map(digest);
  const authorized = (header: string | undefined): boolean => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (match?.[1] === undefined) return false;
    const presented = digest(match[1]);
    let ok = false;
    for (const e of expected) ok = timingSafeEqual(presented, e) || ok;
    return ok;
  };
  const allowedHosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  /** The port the server answers on: the bound one once listening, else the configured one. */
  const servedPort = (): number | undefined => {
    const address = app.server.listening ? app.server.address() : null;
    if (typeof address === 'object' && address !== null) return address.port;
    return port === 0 ? undefined : port;
  };

  const app = fastify({
    // fastify logs "Server listening at …" once per address at info; the daemon's own "Admin
    // API on …" line is the one operators see, so fastify's logger starts at warn.
    loggerInstance: log.child({}, { level: atLeastWarn(log.level) }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    connectionTimeout: options.requestTimeoutMs ?? ADMIN_REQUEST_TIMEOUT_MS,
    requestTimeout: options.requestTimeoutMs ?? ADMIN_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: 5_000,
    // Reject unknown body fields instead of silently dropping them (fastify's default).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;

  // `curl -X POST -H 'Content-Type: application/json' …/approve` has no body: that is a valid
  // state change here (the content type is what keeps browsers out), not fastify's
  // FST_ERR_CTP_EMPTY_JSON_BODY. Bodies with content still go through fastify's own parser
  // (prototype-poisoning checks included).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (request, body: string | Buffer, done) => {
      if (body.length === 0) {
        done(null, undefined);
        return;
      }
      // Typed as returning a promise, but it reports through `done` (synchronously).
      void parseJson(request, body.toString(), done);
    },
  );

  app.addHook('onRequest', async (request, reply) => {
    const refuse = (status: number, code: ErrorCode, message: string) =>
      reply.code(status).send(errorBody(code, message));
    // DNS rebinding: a page on attacker.example resolved to 127.0.0.1 still sends its own name.
    // The port counts too: another local service's name is not ours.
    const hostHeader = request.headers.host ?? '';
    const parsed = parseHostHeader(hostHeader);
    const expectedPort = servedPort();
    const named =
      allowedHosts.has(hostHeader.toLowerCase()) ||
      (parsed !== undefined &&
        hostAllowed(host, parsed.name) &&
        (expectedPort === undefined || parsed.port === expectedPort));
    if (!named) {
      return refuse(
        421,
        'SHIPHUB_ERR_UNAUTHORIZED',
        `Host "${hostHeader.slice(0, 100)}" is not a name of this admin API (bound to ${host})`,
      );
    }
    // Cross-site requests from a browser: never for this API.
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    if (
      site === 'cross-site' ||
      site === 'same-site' ||
      (origin !== undefined && originHost(origin) !== hostHeader.toLowerCase())
    ) {
      return refuse(403, 'SHIPHUB_ERR_UNAUTHORIZED', 'cross-site requests are refused');
    }
    if (STATE_CHANGING.has(request.method)) {
      const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        return refuse(
          415,
          'SHIPHUB_ERR_BAD_REQUEST',
          'state changes need "Content-Type: application/json" (use the ship-hub CLI)',
        );
      }
    }
    const path = request.url.split('?')[0] ?? '';
    if (request.method === 'GET' && OPEN_ROUTES.has(path)) return;
    const header = request.headers.authorization ?? '';
    if (!authorized(header)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="ship-hub"')
        .send(
          errorBody(
            'SHIPHUB_ERR_UNAUTHORIZED',
            header === ''
              ? 'missing "Authorization: Bearer <token>" header: the token is the content of ' +
                  "the daemon's admin_token_file (data/admin.token by default) or admin_token"
              : 'invalid admin token',
          ),
        );
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    log.debug(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'admin request',
    );
  });

  app.setErrorHandler(async (error: FastifyError | ShipHubError | Error, _request, reply) => {
    if (error instanceof ShipHubError) {
      // The HTTP status of every code is in the failure table (docs/errors.md).
      const status = failureInfo(error).httpStatus ?? 500;
      if (status >= 500) log.error({ err: error }, 'admin request failed');
      return reply.code(status).send(errorBody(error.code, error.message));
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation !== undefined) {
      return reply.code(400).send(errorBody('SHIPHUB_ERR_BAD_REQUEST', fastifyError.message));
    }
    const status = fastifyError.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send(errorBody('SHIPHUB_ERR_BAD_REQUEST', fastifyError.message));
    }
    log.error({ err: error }, 'admin request failed');
    return reply
      .code(500)
      .send(errorBody('SHIPHUB_ERR_INTERNAL', 'internal error (see the daemon log)'));
  });

  app.setNotFoundHandler(async (request, reply) =>
    reply
      .code(404)
      .send(errorBody('SHIPHUB_ERR_NOT_FOUND', `no such route: ${request.method} ${request.url}`)),
  );

  // --- probes and metrics ---------------------------------------------------------------------

  // Without the token only liveness: the SKI and SHIP ID are for the operator.
  app.get('/healthz', async (request) => {
    const health = await backend.health();
    if (authorized(request.headers.authorization)) return health;
    return { status: health.status, uptime_s: health.uptime_s };
  });

  app.get('/readyz', async (_request, reply) => {
    if (await backend.ready()) return { ready: true };
    return reply.code(503).send({
      ready: false,
      ...errorBody('SHIPHUB_ERR_NOT_READY', 'the hub is not ready yet'),
    });
  });

  app.get('/metrics', async (_request, reply) => {
    if (registry === undefined) {
      return reply
        .code(404)
        .send(errorBody('SHIPHUB_ERR_NOT_FOUND', 'metrics are disabled (metrics_enabled=false)'));
    }
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });

  // --- pairing --------------------------------------------------------------------------------

  app.get('/api/pairing', async () => ({
    pending: await backend.listPending(),
    denied: await backend.listDenied(),
  }));

  app.post<{ Params: { ski: string } }>(
    '/api/pairing/:ski/forget',
    { schema: { params: SKI_PARAMS } },
    async (request, reply) => {
      const ski = requireSki(request.params.ski);
      if (!(await backend.forgetDenial(ski))) {
        return reply
          .code(404)
          .send(errorBody('SHIPHUB_ERR_NOT_FOUND', `${ski} is not in a denial cool-down`));
      }
      return { ski, forgotten: true };
    },
  );

  // An auto-accept window opened by a person (never by a restart): body { "seconds": 1-120 },
  // default 120; DELETE closes it.
  app.post<{ Body: { seconds?: unknown } | undefined }>('/api/pairing/window', async (request) => {
    const seconds = request.body?.seconds ?? MAX_WINDOW_SECONDS;
    if (
      typeof seconds !== 'number' ||
      !Number.isInteger(seconds) ||
      seconds < 1 ||
      seconds > MAX_WINDOW_SECONDS
    ) {
      throw new ShipHubError(
        'SHIPHUB_ERR_BAD_REQUEST',
        `"seconds": expected an integer from 1 to ${MAX_WINDOW_SECONDS} (SHIP 12.3.1.1 caps an ` +
          'auto-accept window at 2 minutes)',
      );
    }
    return { open: true, ...(await backend.pairingWindow(seconds)) };
  });
  app.delete('/api/pairing/window', async () => {
    await backend.pairingWindow(0);
    return { open: false };
  });

  const decide = (decision: 'approve' | 'deny') =>
    app.post<{ Params: { ski: string } }>(
      `/api/pairing/:ski/${decision}`,
      { schema: { params: SKI_PARAMS } },
      async (request, reply) => {
        const ski = requireSki(request.params.ski);
        const done = decision === 'approve' ? await backend.approve(ski) : await backend.deny(ski);
        if (!done) {
          return reply
            .code(404)
            .send(errorBody('SHIPHUB_ERR_NOT_FOUND', `no pending pairing request for ${ski}`));
        }
        return { ski, decision: decision === 'approve' ? 'approved' : 'denied' };
      },
    );
  decide('approve');
  decide('deny');

  // --- trust ----------------------------------------------------------------------------------

  app.get('/api/trust', async () => ({ devices: await backend.listTrusted() }));

  app.post<{ Body: { ski: string } & TrustedDeviceDetails }>(
    '/api/trust',
    { schema: { body: TRUST_BODY } },
    async (request, reply) => {
      const { ski: text, ...details } = request.body;
      const ski = requireSki(text);
      const device = await backend.addTrusted(ski, details);
      return reply.code(201).send({ device });
    },
  );

  app.delete<{ Params: { ski: string } }>(
    '/api/trust/:ski',
    { schema: { params: SKI_PARAMS } },
    async (request, reply) => {
      const ski = requireSki(request.params.ski);
      if (!(await backend.removeTrusted(ski))) {
        return reply.code(404).send(errorBody('SHIPHUB_ERR_NOT_FOUND', `${ski} is not trusted`));
      }
      return { ski, removed: true };
    },
  );

  // --- connections and discovery --------------------------------------------------------------

  app.get('/api/connections', async () => ({ connections: await backend.listConnections() }));
  app.get('/api/discovered', async () => ({ devices: await backend.listDiscovered() }));

  // --- devices in data exchange and their SPINE side ------------------------------------------

  app.get('/api/devices', async () => ({ devices: await backend.listDevices() }));
  app.get<{ Params: { ski: string } }>(
    '/api/devices/:ski',
    { schema: { params: SKI_PARAMS } },
    async (request, reply) => {
      const ski = requireSki(request.params.ski);
      const device = await backend.device(ski);
      if (device === undefined) {
        return reply
          .code(404)
          .send(errorBody('SHIPHUB_ERR_NOT_FOUND', `${ski} has no SPINE session (not connected)`));
      }
      return device;
    },
  );

  let listening: Promise<{ host: string; port: number; url: string }> | undefined;
  let closed = false;
  return {
    app,
    listen() {
      listening ??= app.listen({ host, port }).then(() => {
        const address = app.server.address();
        const bound = typeof address === 'object' && address !== null ? address.port : port;
        const urlHost = host.includes(':') ? `[${host}]` : host;
        const result = { host, port: bound, url: `http://${urlHost}:${bound}` };
        log.debug(result, `admin API listening on ${result.url}`);
        return result;
      });
      return listening;
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

/** The quieter of `level` and "warn" (a child logger must not log more than its parent). */
function atLeastWarn(level: string): string {
  const order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  return order.indexOf(level) > order.indexOf('warn') ? level : 'warn';
}
