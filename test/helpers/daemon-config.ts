import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type HubConfig, type HubConfigInput } from '../../src/ops/config.js';
import { freePort } from './ports.js';

/**
 * The config of an in-process Daemon in a fresh temporary directory (pushed to `dirs`, which the
 * caller removes): a free SHIP port, no admin API, mDNS off, plus `overrides`.
 */
export async function tempDaemonConfig(
  prefix: string,
  dirs: string[],
  overrides: HubConfigInput = {},
): Promise<HubConfig> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return loadConfig(
    undefined,
    {},
    {
      cwd: dir,
      overrides: { port: await freePort(), admin_port: 0, mdns_enabled: false, ...overrides },
    },
  );
}
