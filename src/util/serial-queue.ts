/**
 * Runs async tasks one at a time, in call order. A failed task rejects its own promise only; the
 * queue goes on with the next one. The mDNS providers use it so that announce, unannounce,
 * interface changes and close never interleave.
 */
export class SerialQueue {
  /** Settles when the last queued task has; never rejects. */
  #tail: Promise<void> = Promise.resolve();

  /** Queues `task`; resolves or rejects as the task does. */
  run(task: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
