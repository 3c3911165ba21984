/**
 * The write chain both JSON stores (trusted devices, hub state) share: every write is the whole
 * file, atomic (src/util/atomic-file.ts), one at a time; changes made while a write is queued
 * but has not taken its snapshot yet join it, and a failed write leaves the store dirty so the
 * next flush retries it.
 */
import { ConfigError } from '../ship/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

export class StoreWriter {
  /** Tail of the write chain. */
  #tail: Promise<void> = Promise.resolve();
  /** The write that is queued but has not taken its snapshot yet; joins a burst. */
  #queued: Promise<void> | undefined;
  /** True when memory holds changes the last completed write did not persist. */
  #dirty = false;

  /**
   * @param path the file
   * @param serialize the whole file content for the current state
   * @param what the file in words, for errors ("the trusted devices file")
   * @param mode file mode of the written file, if not the default
   */
  constructor(
    private readonly path: string,
    private readonly serialize: () => string,
    private readonly what: string,
    private readonly mode?: number,
  ) {}

  /** Memory changed; it is written by the next write() or flush(). */
  markDirty(): void {
    this.#dirty = true;
  }

  /** Queues a write of the whole state; changes made before it starts share it. */
  write(): Promise<void> {
    this.#dirty = true;
    if (this.#queued !== undefined) return this.#queued;
    const write = this.#tail
      .catch(() => undefined)
      .then(async () => {
        this.#queued = undefined;
        this.#dirty = false;
        const content = this.serialize();
        try {
          await writeFileAtomic(
            this.path,
            content,
            this.mode === undefined ? {} : { mode: this.mode },
          );
        } catch (error) {
          this.#dirty = true;
          throw new ConfigError(
            'SHIPHUB_ERR_STORAGE',
            `${this.path}: cannot write ${this.what}: ${
              error instanceof Error ? error.message : String(error)
            }`,
            { cause: error, hint: 'check free space and permissions of the data directory' },
          );
        }
      });
    this.#queued = write;
    this.#tail = write;
    return write;
  }

  /** Waits until every change made so far is on disk; retries the write if the last one failed. */
  async flush(): Promise<void> {
    if (this.#dirty && this.#queued === undefined) await this.write();
    else await (this.#queued ?? this.#tail);
  }
}
