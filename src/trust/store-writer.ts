/**
 * How both JSON stores (trusted devices, hub state) write: every write is the whole file, atomic
 * and queued behind earlier writes of the same path (src/util/atomic-file.ts, the one write
 * queue); changes made while a write is queued but has not taken its snapshot yet join it, and a
 * failed write leaves the store dirty so the next flush retries it.
 */
import { ConfigError } from '../ship/errors.js';
import { withWriteQueue } from '../util/atomic-file.js';

export class StoreWriter {
  /** The last write queued (settled or not). */
  #last: Promise<void> = Promise.resolve();
  /** The write that is queued but has not taken its snapshot yet; joins a burst. */
  #queued: Promise<void> | undefined;
  /** True when memory holds changes the last completed write did not persist. */
  #dirty = false;
  /** The error of the last write, until a write succeeds again. */
  #lastError: Error | undefined;

  /**
   * @param path the file
   * @param serialize the whole file content for the current state
   * @param what the file in words, for errors ("the trusted devices file")
   * @param mode file mode of the written file, if not the default
   * @param hooks `settled` runs when a write has succeeded (error undefined) or failed, before
   *   its promise settles and before the next write takes its snapshot; with `rollback` a failed
   *   write does not leave the store dirty (the owner undid the changes in `settled`).
   */
  constructor(
    private readonly path: string,
    private readonly serialize: () => string,
    private readonly what: string,
    private readonly mode?: number,
    private readonly hooks: {
      settled?: (error: Error | undefined) => void;
      rollback?: boolean;
    } = {},
  ) {}

  /** The error of the last write while writes fail; undefined once a write succeeded. */
  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Memory changed; it is written by the next write() or flush(). */
  markDirty(): void {
    this.#dirty = true;
  }

  /** Queues a write of the whole state; changes made before it starts share it. */
  write(): Promise<void> {
    this.#dirty = true;
    if (this.#queued !== undefined) return this.#queued;
    // The snapshot is taken when this write's turn in the path's queue comes, and the settled
    // hook runs inside that turn, so the next write never snapshots before it.
    const write = withWriteQueue(this.path, async (writeFile) => {
      this.#queued = undefined;
      this.#dirty = false;
      const content = this.serialize();
      try {
        await writeFile(content, this.mode === undefined ? {} : { mode: this.mode });
      } catch (error) {
        if (this.hooks.rollback !== true) this.#dirty = true;
        const failure = new ConfigError(
          'SHIPHUB_ERR_STORAGE',
          `${this.path}: cannot write ${this.what}: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { cause: error, hint: 'check free space and permissions of the data directory' },
        );
        this.#lastError = failure;
        this.hooks.settled?.(failure);
        throw failure;
      }
      this.#lastError = undefined;
      this.hooks.settled?.(undefined);
    });
    this.#queued = write;
    this.#last = write;
    return write;
  }

  /** Waits until every change made so far is on disk; retries the write if the last one failed. */
  async flush(): Promise<void> {
    if (this.#dirty && this.#queued === undefined) await this.write();
    else if (this.#queued !== undefined) await this.#queued;
    // With rollback a failed write left nothing behind to flush; its callers got the error.
    else if (this.hooks.rollback === true) await this.#last.catch(() => undefined);
    else await this.#last;
  }
}
