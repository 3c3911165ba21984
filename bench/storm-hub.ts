/**
 * The hub of a reconnect storm in a fresh process, like a hub that has just been restarted:
 * nothing loaded or optimised yet, a clean heap. bench/storm.ts starts it; it runs the storm
 * (starting the device processes itself) and sends the result back.
 *
 * Usage: node build/bench/storm-hub.js   (IPC in: StormHubRequest; out: StormHubResult)
 */
import { killChildren, loadIdentities, toParent } from './common.js';
import { runStorm, type StormOptions, type StormResult } from './storm.js';

export interface StormHubRequest extends StormOptions {
  readonly type: 'run';
  readonly hubIndex: number;
  readonly firstDeviceIndex: number;
  readonly devices: number;
}

export interface StormHubResult {
  readonly type: 'result';
  readonly result: StormResult;
}

process.once('message', (request: StormHubRequest) => {
  void (async () => {
    const identities = await loadIdentities(request.firstDeviceIndex + request.devices);
    const result = await runStorm(
      identities[request.hubIndex]!,
      identities.slice(request.firstDeviceIndex, request.firstDeviceIndex + request.devices),
      request.firstDeviceIndex,
      request,
    );
    toParent<StormHubResult>({ type: 'result', result });
  })()
    .catch((err: unknown) => {
      toParent({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => {
      killChildren();
      setTimeout(() => process.exit(0), 100).unref();
    });
});
process.on('disconnect', () => {
  killChildren();
  process.exit(0);
});
toParent({ type: 'ready' });
