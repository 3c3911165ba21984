/**
 * Child of trust-store-kill.test.ts (not a test itself): changes trusted_devices.json in a tight
 * loop until the parent SIGKILLs it. Every step toggles device `k % 10` and counts a connection of
 * the marker device in ONE coalesced write, so the file's version is the marker's
 * connection_count. After each step is on disk it prints `k` on stdout (synchronous on a pipe).
 *
 * Usage: node trust-store-kill-child.js <trusted_devices.json>
 */
import { TrustStore } from '../../src/trust/trust-store.js';
import { systemClock } from '../../src/util/clock.js';

export const MARKER_SKI = 'f'.repeat(40);
export const DEVICE_COUNT = 10;

/** SKI of toggled device number `d`. */
export function deviceSki(d: number): string {
  return d.toString(16).padStart(40, '0');
}

async function main(path: string): Promise<void> {
  // Never outlive the parent: a closed stdin or a generous deadline ends the loop.
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();
  setTimeout(() => process.exit(3), 30_000);

  const store = await TrustStore.open(path, { clock: systemClock });
  let k = store.get(MARKER_SKI)?.connection_count ?? 0;
  process.stdout.write(`ready ${k}\n`);
  for (;;) {
    k += 1;
    const ski = deviceSki(k % DEVICE_COUNT);
    const toggle = store.has(ski)
      ? store.remove(ski)
      : store.add({ ski, brand: 'Kill', model: `Device ${k % DEVICE_COUNT}`, device_type: 'Test' });
    const marker = store.recordConnection(MARKER_SKI);
    await Promise.all([toggle, marker]);
    process.stdout.write(`${k}\n`);
  }
}

const path = process.argv[2];
if (path !== undefined && process.argv[1]?.endsWith('trust-store-kill-child.js') === true) {
  main(path).catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
}
