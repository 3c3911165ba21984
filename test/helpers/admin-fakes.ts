/**
 * A fake admin backend that records calls, a logger that keeps its lines, and an admin server on
 * them with a client-like `inject` (token and JSON added): shared by the admin API's unit and
 * integration tests.
 */
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import {
  createAdminServer,
  type AdminBackend,
  type PendingPairingInfo,
  type TrustedDeviceInfo,
} from '../../src/ops/admin-api.js';
import { createLogger } from '../../src/ops/logger.js';
import { createHubMetrics } from '../../src/ops/metrics.js';
import type { Ski } from '../../src/ship/ski.js';
import type { SpineDeviceSummary } from '../../src/hub/spine-summary.js';

export const SKI = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0';
export const SKI2 = '0123456789abcdef0123456789abcdef01234567';
export const OTHER = 'ffffffffffffffffffffffffffffffffffffffff';
export const TOKEN = 'test-token-0123456789';

/** The SPINE side of the fake's connected device. */
export const SPINE_SUMMARY: SpineDeviceSummary = {
  session: 'running',
  discovered: true,
  deviceAddress: 'd:_i:19667_PorscheEVSE-00016544',
  deviceType: 'ChargingStation',
  entities: [{ entity: [1], type: 'EVSE', features: [] }],
  useCases: [{ actor: 'EVSE', name: 'evseCommissioningAndConfiguration', scenarios: [1, 2] }],
  heartbeat: { state: 'ok', silentForMs: 1_000 },
  monitoring: [
    {
      useCase: 'monitoringOfPowerConsumption',
      entity: [1],
      entityType: 'EVSE',
      scenarios: [1],
      measurements: [
        { measurementId: 0, type: 'power', scope: 'acPowerTotal', unit: 'W', value: 4200 },
      ],
      configuration: [],
    },
  ],
  relations: { ours: 1, oursRefused: 0, theirSubscriptions: 1, theirBindings: 0 },
};

/** A fake hub that records calls. */
export function fakeBackend() {
  const pending = new Map<string, PendingPairingInfo>([
    [
      SKI,
      {
        ski: SKI,
        brand: 'Viessmann',
        model: 'Vitocaldens',
        device_type: 'HeatPump',
        requested_at: '2024-01-09T10:30:00Z',
        expires_at: '2024-01-09T10:40:00Z',
      },
    ],
  ]);
  const trusted = new Map<string, TrustedDeviceInfo>();
  const denied = new Set<string>([SKI2]);
  const calls: string[] = [];
  let ready = true;
  const backend: AdminBackend = {
    health: () => ({ status: 'ok', uptime_s: 42, connections: 1 }),
    ready: () => ready,
    listPending: () => [...pending.values()],
    approve(ski: Ski) {
      calls.push(`approve ${ski}`);
      return pending.delete(ski);
    },
    deny(ski: Ski) {
      calls.push(`deny ${ski}`);
      return pending.delete(ski);
    },
    listDenied: () =>
      [...denied].map((ski) => ({
        ski,
        denied_at: '2024-01-09T10:30:00Z',
        until: '2024-01-09T10:40:00Z',
        refused_since: 3,
      })),
    pairingWindow(seconds: number) {
      calls.push(`window ${seconds}`);
      return { until: seconds === 0 ? undefined : '2024-01-09T10:32:00.000Z' };
    },
    forgetDenial(ski: Ski) {
      calls.push(`forget ${ski}`);
      return denied.delete(ski);
    },
    listTrusted: () => [...trusted.values()],
    addTrusted(ski: Ski, info) {
      calls.push(`add ${ski}`);
      const device = {
        ski,
        brand: info?.brand ?? '',
        model: info?.model ?? '',
        device_type: info?.device_type ?? '',
        paired_at: '2024-01-09T10:30:00Z',
        last_connection: '2024-01-09T10:30:00Z',
        connection_count: 0,
      };
      trusted.set(ski, device);
      return device;
    },
    removeTrusted(ski: Ski) {
      calls.push(`remove ${ski}`);
      return trusted.delete(ski);
    },
    listConnections: () => [{ ski: SKI, direction: 'inbound', state: 'data' }],
    async listDiscovered() {
      return [{ ski: SKI, trusted: false, address: '192.168.1.100' }];
    },
    listDevices: () => [{ ski: SKI, spine: SPINE_SUMMARY }],
    device: (ski: Ski) => (ski === SKI ? { ski: SKI, spine: SPINE_SUMMARY } : undefined),
  };
  return {
    backend,
    calls,
    setReady: (r: boolean) => {
      ready = r;
    },
  };
}

export function quietLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination: stream }), lines };
}

export function server(
  options: {
    token?: string | string[];
    host?: string;
    port?: number;
    allowedHosts?: string[];
    metrics?: boolean;
  } = {},
) {
  const fake = fakeBackend();
  const { logger, lines } = quietLogger();
  const admin = createAdminServer({
    backend: fake.backend,
    registry:
      options.metrics === false ? undefined : createHubMetrics({ defaultMetrics: false }).registry,
    logger,
    token: options.token ?? TOKEN,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    allowedHosts: options.allowedHosts,
  });
  const raw = admin.app;
  // What the CLI sends: the token, and JSON on state changes.
  const app = {
    inject: (request: InjectOptions): Promise<LightMyRequestResponse> => {
      const stateChange = request.method !== undefined && request.method !== 'GET';
      return raw.inject({
        ...request,
        headers: { authorization: `Bearer ${TOKEN}`, ...request.headers },
        ...(stateChange && request.payload === undefined ? { payload: {} } : {}),
      });
    },
    close: () => raw.close(),
  };
  return { ...fake, admin, app, raw, lines };
}
