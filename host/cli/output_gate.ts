/**
 * A gate on the guest's output to the user's terminal, closed while agentbox asks the user
 * something there (the graylist question): the guest's bytes could otherwise draw over the
 * question — move the cursor, erase it, print a fake one — between the moment it is shown and
 * the answer. While the gate is held the command's output waits (the channel's flow control
 * pauses the guest), and nothing already on its way is still being written.
 *
 * @module
 */

/** Gate for output streams that share a terminal with agentbox's questions. */
export class OutputGate {
  #held = 0;
  #opened: Promise<void> = Promise.resolve();
  #open: () => void = () => {};
  readonly #writing = new Set<Promise<void>>();

  /**
   * Stop the output; resolves, with the function that lets it go again, once no chunk is
   * being written any more. Holds nest: the output resumes when every hold is released.
   */
  async hold(): Promise<() => void> {
    if (this.#held++ === 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#opened = promise;
      this.#open = resolve;
    }
    await Promise.allSettled([...this.#writing]);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#held === 0) this.#open();
    };
  }

  /**
   * A stream that passes its chunks on to `to` while the gate is open. Closing or aborting it
   * lets go of `to` without closing it (agentbox keeps writing to its own stdout and stderr).
   */
  writable(to: WritableStream<Uint8Array>): WritableStream<Uint8Array> {
    let writer: WritableStreamDefaultWriter<Uint8Array>;
    return new WritableStream({
      start: () => {
        writer = to.getWriter();
      },
      write: async (chunk) => {
        while (this.#held > 0) await this.#opened;
        // Registered in the same turn as the check above, so `hold` waits for it.
        const writing = writer.write(chunk);
        this.#writing.add(writing);
        try {
          await writing;
        } finally {
          this.#writing.delete(writing);
        }
      },
      close: () => writer.releaseLock(),
      abort: () => writer.releaseLock(),
    });
  }
}

/**
 * The one gate on this process's terminal: the command's stdout and stderr pass through it
 * (piped_io.ts), the graylist question holds it (net_options.ts).
 */
export const terminalOutput: OutputGate = new OutputGate();
