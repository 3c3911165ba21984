/**
 * auto_accept_pairing's window at start (SHIP §12.3.1.1), at most once per identity: the use is
 * recorded in auto_accept_used.json next to the trust file before the window opens.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Hub } from '../hub/hub.js';
import type { Ski } from '../ship/ski.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { Clock } from '../util/clock.js';
import { formatTimestamp } from '../util/rfc3339.js';
import type { HubConfig } from './config.js';
import type { Logger } from './logger.js';

/**
 * auto_accept_pairing opens a window at start at most once per identity, and only while
 * nothing is trusted yet (the first installation). A restart, clean or after a crash, never
 * reopens it by itself: otherwise an attacker who makes the hub crash is auto-accepted on the
 * restart. The use is recorded durably in auto_accept_used.json (next to the trust file)
 * before the window opens; a marker that cannot be read counts as used (fail closed).
 */
export async function openFirstStartAutoAccept(
  hub: Hub,
  ski: Ski,
  options: {
    readonly config: HubConfig;
    readonly logger: Logger;
    readonly clock: Clock;
    /** Devices trusted now. */
    readonly trustedCount: number;
  },
): Promise<void> {
  const c = options.config;
  const log = options.logger;
  const marker = join(dirname(c.trusted_devices_file), AUTO_ACCEPT_MARKER);
  const notOpened = (why: string): void => {
    log.info(
      { event: 'auto_accept_not_opened', reason: why },
      `🔒 Auto-accept not opened at start: ${why}; pair with the prompt or ` +
        '`ship-hub pairing approve`',
    );
  };
  if (options.trustedCount > 0) {
    notOpened('devices are paired already');
    return;
  }
  const used = await readAutoAcceptMarker(marker);
  if (used === 'unreadable') {
    notOpened(`${marker} cannot be read (counted as used)`);
    return;
  }
  if (used?.ski === ski) {
    notOpened(`the first-start window of this identity was used at ${used.opened_at}`);
    return;
  }
  const openedAt = formatTimestamp(options.clock.wallNow());
  await writeFileAtomic(marker, `${JSON.stringify({ ski, opened_at: openedAt }, null, 2)}\n`, {
    mode: 0o600,
  });
  await hub.openAutoAcceptWindow(c.auto_accept_window_seconds * 1000);
  log.warn(
    { event: 'auto_accept_open', seconds: c.auto_accept_window_seconds },
    `⚠️  AUTO-ACCEPT is open for ${c.auto_accept_window_seconds} s: any device may pair now ` +
      '(first start of this identity only)',
  );
}

/** Records that the first-start auto-accept window of an identity was used. */
export const AUTO_ACCEPT_MARKER = 'auto_accept_used.json';

async function readAutoAcceptMarker(
  path: string,
): Promise<{ ski: string; opened_at: string } | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unreadable';
  }
  try {
    const data: unknown = JSON.parse(text);
    if (typeof data === 'object' && data !== null && 'ski' in data && 'opened_at' in data) {
      const { ski, opened_at } = data;
      if (typeof ski === 'string' && typeof opened_at === 'string') return { ski, opened_at };
    }
  } catch {
    // Falls through: not ours to repair; counted as used.
  }
  return 'unreadable';
}
