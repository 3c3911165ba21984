/**
 * Client of the admin HTTP API (admin-api.ts) for the CLI: `ship-hub trust ls`, `pair approve`…
 * Uses the global fetch. When the daemon is not running the error says so plainly:
 * "the ship-hub daemon is not running at http://127.0.0.1:4713 (connection refused)".
 */
import type { ShipHubErrorCode } from '../errors.js';
import { ShipHubError, TransportError } from '../ship/errors.js';
import type {
  AdminHealth,
  ConnectionInfo,
  DeniedPairingInfo,
  DiscoveredDeviceInfo,
  PendingPairingInfo,
  SpineDeviceInfo,
  TrustedDeviceDetails,
  TrustedDeviceInfo,
} from './admin-api.js';
import type { Ski } from '../ship/ski.js';
import { readAdminTokenFile } from './admin-token.js';
import type { HubConfig } from './config.js';

/** An error answer of the admin API, with its HTTP status and the server's code. */
export class AdminApiError extends ShipHubError {
  readonly status: number;

  constructor(status: number, code: ShipHubErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

/** Options of {@link AdminClient}. */
export interface AdminClientOptions {
  /** Default "http://127.0.0.1:4713". */
  baseUrl?: string;
  token?: string | undefined;
  /**
   * Without `token`: the daemon's token file (admin_token_file), read at each request, so a
   * client made before the daemon's first start works once the file exists.
   */
  tokenFile?: string | undefined;
  /** Per-request timeout; default 5000 ms. */
  timeoutMs?: number;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
}

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:4713';

/** The URL the CLI should use to reach the daemon described by `config`. */
export function adminUrlFromConfig(config: Pick<HubConfig, 'admin_host' | 'admin_port'>): string {
  let host = config.admin_host;
  // A wildcard bind is reached through loopback.
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::' || host === '[::]') host = '::1';
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `http://${host}:${config.admin_port}`;
}

function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
};

/** Client of the admin API; one method per route. */
export class AdminClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #tokenFile: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: AdminClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_ADMIN_URL).replace(/\/+$/, '');
    this.#token = options.token === '' ? undefined : options.token;
    this.#tokenFile = options.tokenFile;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** A client for the daemon that `config` describes (its admin_host, admin_port, admin_token). */
  static fromConfig(
    config: Pick<HubConfig, 'admin_host' | 'admin_port' | 'admin_token'> &
      Partial<Pick<HubConfig, 'admin_token_file'>>,
    options: Omit<AdminClientOptions, 'baseUrl' | 'token'> = {},
  ): AdminClient {
    if (config.admin_port === 0) {
      throw new ShipHubError(
        'SHIPHUB_ERR_CONFIG',
        'the admin API is disabled (admin_port is 0), so the CLI cannot reach the daemon',
      );
    }
    return new AdminClient({
      ...options,
      baseUrl: adminUrlFromConfig(config),
      token: config.admin_token,
      tokenFile: config.admin_token_file,
    });
  }

  /** GET /healthz */
  health(): Promise<AdminHealth> {
    return this.#request<AdminHealth>('GET', '/healthz');
  }

  /** GET /readyz: true on 200, false on 503. */
  async ready(): Promise<boolean> {
    try {
      const body = await this.#request<{ ready: boolean }>('GET', '/readyz');
      return body.ready;
    } catch (error) {
      if (error instanceof AdminApiError && error.status === 503) return false;
      throw error;
    }
  }

  /** GET /metrics (Prometheus text). */
  metrics(): Promise<string> {
    return this.#request<string>('GET', '/metrics', undefined, true);
  }

  /** GET /api/pairing */
  async listPending(): Promise<PendingPairingInfo[]> {
    return (await this.#request<{ pending: PendingPairingInfo[] }>('GET', '/api/pairing')).pending;
  }

  /** GET /api/pairing: pending requests and denied devices in their cool-down. */
  async pairingOverview(): Promise<{ pending: PendingPairingInfo[]; denied: DeniedPairingInfo[] }> {
    const body = await this.#request<{
      pending: PendingPairingInfo[];
      denied?: DeniedPairingInfo[];
    }>('GET', '/api/pairing');
    return { pending: body.pending, denied: body.denied ?? [] };
  }

  /** POST /api/pairing/window (seconds 1-120) or, with 0, DELETE it: open or close a window. */
  async pairingWindow(seconds: number): Promise<{ open: boolean; until?: string }> {
    if (seconds === 0) return this.#request('DELETE', '/api/pairing/window');
    return this.#request('POST', '/api/pairing/window', { seconds });
  }

  /** POST /api/pairing/:ski/forget; AdminApiError 404 when the SKI is not denied. */
  async forgetDenial(ski: string): Promise<void> {
    await this.#request('POST', `/api/pairing/${encodeURIComponent(ski)}/forget`);
  }

  /** POST /api/pairing/:ski/approve; AdminApiError 404 when nothing is pending for the SKI. */
  async approve(ski: string): Promise<void> {
    await this.#request('POST', `/api/pairing/${encodeURIComponent(ski)}/approve`);
  }

  /** POST /api/pairing/:ski/deny */
  async deny(ski: string): Promise<void> {
    await this.#request('POST', `/api/pairing/${encodeURIComponent(ski)}/deny`);
  }

  /** GET /api/trust */
  async listTrusted(): Promise<TrustedDeviceInfo[]> {
    return (await this.#request<{ devices: TrustedDeviceInfo[] }>('GET', '/api/trust')).devices;
  }

  /** POST /api/trust */
  async addTrusted(ski: string, info: TrustedDeviceDetails = {}): Promise<TrustedDeviceInfo> {
    const body = { ski, ...info };
    return (await this.#request<{ device: TrustedDeviceInfo }>('POST', '/api/trust', body)).device;
  }

  /** DELETE /api/trust/:ski; AdminApiError 404 when the SKI is not trusted. */
  async removeTrusted(ski: string): Promise<void> {
    await this.#request('DELETE', `/api/trust/${encodeURIComponent(ski)}`);
  }

  /** GET /api/connections */
  async listConnections(): Promise<ConnectionInfo[]> {
    const body = await this.#request<{ connections: ConnectionInfo[] }>('GET', '/api/connections');
    return body.connections;
  }

  /** GET /api/discovered */
  async listDiscovered(): Promise<DiscoveredDeviceInfo[]> {
    return (await this.#request<{ devices: DiscoveredDeviceInfo[] }>('GET', '/api/discovered'))
      .devices;
  }

  /** GET /api/devices */
  async listDevices(): Promise<SpineDeviceInfo[]> {
    return (await this.#request<{ devices: SpineDeviceInfo[] }>('GET', '/api/devices')).devices;
  }

  /** GET /api/devices/:ski */
  async device(ski: Ski): Promise<SpineDeviceInfo> {
    return this.#request<SpineDeviceInfo>('GET', `/api/devices/${ski}`);
  }

  async #request<T>(method: string, path: string, body?: unknown, asText = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token =
      this.#token ??
      (this.#tokenFile === undefined ? undefined : readAdminTokenFile(this.#tokenFile));
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    // State changes always carry JSON (the server refuses them otherwise: no cross-site forms).
    const sendsBody = body !== undefined || method !== 'GET';
    if (sendsBody) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(sendsBody ? { body: JSON.stringify(body ?? {}) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const code = causeCode(error);
      const isTimeout =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const reason = isTimeout
        ? `no answer within ${this.#timeoutMs} ms`
        : code === undefined
          ? error instanceof Error
            ? error.message
            : String(error)
          : (REASONS[code] ?? code);
      const message =
        code === 'ECONNREFUSED'
          ? `the ship-hub daemon is not running at ${this.baseUrl} (${reason})`
          : `cannot reach the ship-hub daemon at ${this.baseUrl} (${reason})`;
      throw new TransportError('SHIPHUB_ERR_DAEMON_UNREACHABLE', message, {
        cause: error,
        hint: 'start it with "systemctl start ship-hub" or "ship-hub run"',
      });
    }
    const text = await response.text();
    if (!response.ok) {
      let code: ShipHubErrorCode = 'SHIPHUB_ERR_INTERNAL';
      let message = `${method} ${path}: HTTP ${response.status}`;
      try {
        const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        if (
          typeof parsed.error?.code === 'string' &&
          parsed.error.code.startsWith('SHIPHUB_ERR_')
        ) {
          code = parsed.error.code as ShipHubErrorCode;
        }
        if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      } catch {
        // Not our JSON (a proxy?): keep the generic message.
      }
      throw new AdminApiError(response.status, code, message);
    }
    if (asText) return text as T;
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}
