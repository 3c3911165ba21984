/**
 * A device address an operator writes by hand ("host:port", "[ipv6]:port", optionally followed by
 * the WebSocket path): the static peers of the hub (trust entries and the config's `peers`).
 */

export interface ParsedAddress {
  readonly host: string;
  readonly port: number;
  readonly path: string | undefined;
}

/**
 * Parses "host:port", "[v6]:port" or either followed by a path. Returns the reason when the text
 * is not such an address (the caller names the file, key or flag).
 */
export function parseStaticAddress(text: string): ParsedAddress | string {
  const match =
    /^(?:\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]|([A-Za-z0-9.-]+)):(\d{1,5})(\/[\x21-\x7e]*)?$/.exec(
      text.trim(),
    );
  if (match === null) {
    return `"${text}" is not HOST:PORT (an IPv6 address in brackets: [fd00::1]:4712)`;
  }
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return `port ${port} is not between 1 and 65535`;
  if (host.startsWith('-') || host.endsWith('-')) return `"${host}" is not a host name`;
  return { host, port, path: match[4] };
}
