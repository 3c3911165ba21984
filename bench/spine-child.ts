/**
 * The SPINE memory figure in its own process (started by bench/spine.ts with --expose-gc), so
 * the heap holds nothing but the energy manager's sessions.
 *
 * Usage: node --expose-gc build/bench/spine-child.js <devices>
 * IPC out: { type: 'spineMemory', result } | { type: 'error', message }
 */
import { toParent } from './common.js';
import { measureSpineMemory } from './spine.js';

const devices = Number(process.argv[2] ?? '200');
measureSpineMemory(devices).then(
  (result) => {
    toParent({ type: 'spineMemory', result });
    process.disconnect?.();
  },
  (error: unknown) => {
    toParent({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exitCode = 1;
    process.disconnect?.();
  },
);
