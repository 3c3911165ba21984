/**
 * Network interface helpers for the mDNS adapters: validate configured names, pick the interfaces
 * to use, notice interfaces that come back, and tell which interface a packet came from.
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { networkInterfaces as osNetworkInterfaces } from 'node:os';
import { ConfigError } from '../ship/errors.js';

/** Source of the interface table (os.networkInterfaces, or a fixture in tests). */
export type InterfaceSource = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

export const systemInterfaces: InterfaceSource = () => osNetworkInterfaces();

/** Kernel interface index (Linux /sys), used to notice an interface re-created under its name. */
export type InterfaceIndexSource = (name: string) => number | undefined;

export const systemInterfaceIndex: InterfaceIndexSource = (name) => {
  if (!/^[\w.:@-]+$/.test(name)) return undefined;
  try {
    const index = Number.parseInt(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'), 10);
    return Number.isFinite(index) ? index : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Checks configured interface names against the interface table; throws a ConfigError naming the
 * unknown ones and the ones that exist.
 */
export function validateInterfaceNames(
  names: readonly string[],
  source: InterfaceSource = systemInterfaces,
): string[] {
  const table = source();
  const known = Object.keys(table);
  const unknown = names.filter((name) => table[name] === undefined);
  if (unknown.length > 0) {
    throw new ConfigError(
      'SHIPHUB_ERR_CONFIG',
      `mdns: unknown network interface${unknown.length > 1 ? 's' : ''} ${unknown
        .map((n) => `"${n}"`)
        .join(', ')}; this host has ${known.map((n) => `"${n}"`).join(', ') || 'none'}`,
      { hint: 'set mdns interfaces to names from `ip link` (without "@ifN")' },
    );
  }
  return [...new Set(names)];
}

/** An interface we may use now, with its addresses. */
export interface UsableInterface {
  name: string;
  index: number | undefined;
  ipv4: NetworkInterfaceInfo[];
  ipv6: NetworkInterfaceInfo[];
}

/**
 * Interfaces to use now: the configured ones that exist, or every non-internal interface with an
 * address when there is no restriction. Loopback is only used when configured explicitly.
 */
export function usableInterfaces(
  restriction: readonly string[] | undefined,
  source: InterfaceSource = systemInterfaces,
  indexOf: InterfaceIndexSource = systemInterfaceIndex,
): UsableInterface[] {
  const table = source();
  const names =
    restriction !== undefined && restriction.length > 0 ? restriction : Object.keys(table);
  const out: UsableInterface[] = [];
  for (const name of names) {
    const infos = table[name];
    if (infos === undefined || infos.length === 0) continue;
    const explicitlyAllowed = restriction !== undefined && restriction.includes(name);
    if (!explicitlyAllowed && infos.every((info) => info.internal)) continue;
    out.push({
      name,
      index: indexOf(name),
      ipv4: infos.filter((info) => info.family === 'IPv4'),
      ipv6: infos.filter((info) => info.family === 'IPv6'),
    });
  }
  return out;
}

/** A stable description of the interfaces' identity (name + kernel index). */
export function identitySignature(interfaces: readonly UsableInterface[]): string {
  return interfaces
    .map((i) => `${i.name}#${i.index ?? '?'}`)
    .sort()
    .join(',');
}

/** Identity plus addresses (any change of either). */
export function fullSignature(interfaces: readonly UsableInterface[]): string {
  return interfaces
    .map(
      (i) =>
        `${i.name}#${i.index ?? '?'}=${[...i.ipv4, ...i.ipv6]
          .map((a) => a.address)
          .sort()
          .join('/')}`,
    )
    .sort()
    .join(',');
}

/**
 * Which interface a packet from `address` arrived on: the zone of an IPv6 link-local source, else
 * the interface whose subnet holds the source. Returns undefined when the source belongs to an
 * interface we must not use, and `fallback` when no subnet matches.
 */
export function attributeSource(
  address: string,
  allowed: ReadonlySet<string>,
  fallback: string | undefined,
  source: InterfaceSource = systemInterfaces,
): string | undefined {
  const percent = address.indexOf('%');
  if (percent >= 0) {
    const zone = address.slice(percent + 1);
    return allowed.has(zone) ? zone : undefined;
  }
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (family === undefined) return undefined;
  const table = source();
  let matchedOther = false;
  for (const [name, infos] of Object.entries(table)) {
    if (infos === undefined) continue;
    for (const info of infos) {
      if (info.cidr === null) continue;
      if ((info.family === 'IPv4') !== (family === 'ipv4')) continue;
      const [network, prefix] = info.cidr.split('/');
      if (network === undefined || prefix === undefined) continue;
      const list = new BlockList();
      try {
        list.addSubnet(network.split('%')[0] ?? network, Number(prefix), family);
      } catch {
        continue;
      }
      if (list.check(address, family)) {
        if (allowed.has(name)) return name;
        matchedOther = true;
      }
    }
  }
  return matchedOther ? undefined : fallback;
}
