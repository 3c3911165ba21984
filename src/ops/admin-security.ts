/**
 * The request checks of the admin HTTP API that do not need the token (docs/security.md): which
 * routes are open, which methods change state, and whether a Host or Origin header names this
 * server, so a DNS-rebinding or cross-site page is refused. The token check itself runs in
 * admin-api.ts, where the token lives.
 */
import { isIP } from 'node:net';
import { isLoopbackHost } from './config.js';

/** Routes reachable without the token. */
export const OPEN_ROUTES = new Set(['/healthz', '/readyz']);
export const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The host name and port of a Host header ("[::1]:4713" → "::1", 4713; no port means 80), lower
 * case; undefined when it is not a plain host[:port] (userinfo, paths and the like).
 */
export function parseHostHeader(hostHeader: string): { name: string; port: number } | undefined {
  if (hostHeader === '' || /[\s/?#@\\]/.test(hostHeader)) return undefined;
  try {
    const url = new URL(`http://${hostHeader}`);
    return {
      name: url.hostname.replace(/^\[|\]$/g, '').toLowerCase(),
      port: url.port === '' ? 80 : Number(url.port),
    };
  } catch {
    return undefined;
  }
}

/** "http://127.0.0.1:4713" → "127.0.0.1:4713"; undefined for "null" or anything unparsable. */
export function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Which Host names this server answers to: the bound address; on loopback also localhost and the
 * loopback literals; on a wildcard bind any IP literal (the address the client dialled) and
 * localhost. A host name from DNS (what a rebinding attack uses) only when it is admin_host.
 */
export function hostAllowed(bound: string, name: string): boolean {
  const boundName = bound.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === boundName) return true;
  if (boundName === '0.0.0.0' || boundName === '::')
    return isIP(name) !== 0 || name === 'localhost';
  if (isLoopbackHost(boundName)) return name === 'localhost' || isLoopbackHost(name);
  return false;
}
