/**
 * A pseudo-terminal pair, for a command that wants a real terminal: the command opens the slave
 * by its path (`/dev/pts/N`) as its stdin, stdout and stderr; the agent reads what it prints and
 * writes what the user types through the master. Deno cannot wrap a raw descriptor in a stream,
 * so the master is non-blocking and driven by `read`/`write`, with `poll` (on a worker thread)
 * to wait for it to become ready (poll_read.ts).
 *
 * The agent keeps its own slave descriptor open until {@linkcode PseudoTerminal.releaseSlave}:
 * until the command has opened the slave, the master would otherwise see a hang-up. Both
 * descriptors are close-on-exec, so no other command the agent starts inherits them.
 *
 * @module
 */

import {
  cString,
  EAGAIN,
  EINTR,
  errno,
  libc,
  LibcError,
  O_CLOEXEC,
  O_NOCTTY,
  O_NONBLOCK,
  O_RDWR,
  POLLIN,
  POLLOUT,
  TIOCSWINSZ,
} from "./libc.ts";
import { pollFd, readWhenReady } from "./poll_read.ts";

/** A terminal's window size. */
export interface WindowSize {
  rows: number;
  cols: number;
}

/** Largest read from the master at once. */
const READ_BYTES = 64 * 1024;

/**
 * An open pseudo-terminal pair.
 *
 * @example
 * ```ts
 * import { PseudoTerminal } from "./pseudo_terminal.ts";
 * const pty = PseudoTerminal.open({ rows: 24, cols: 80 });
 * console.log(pty.path); // e.g. /dev/pts/3: give it to the command as stdin, stdout and stderr
 * await pty.close();
 * ```
 */
export class PseudoTerminal {
  /** The slave's path, for the command to open. */
  readonly path: string;
  /** What the command prints (and the terminal echoes); ends when every slave is closed. */
  readonly readable: ReadableStream<Uint8Array>;
  /** What the user types; bytes wait in the terminal's input queue until the command reads. */
  readonly writable: WritableStream<Uint8Array>;
  readonly #master: number;
  #slave: number;
  #closed = false;
  /** Polls in flight: the master is closed only once none is, so its number is never reused. */
  #polls = new Set<Promise<unknown>>();

  private constructor(master: number, slave: number, path: string) {
    this.#master = master;
    this.#slave = slave;
    this.path = path;
    this.readable = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({ write: (chunk) => this.#write(chunk) });
  }

  /**
   * Open a new pair with the given window size. Throws {@linkcode LibcError} when the system has
   * no pseudo-terminals to give (devpts not mounted, limit reached).
   */
  static open(size: WindowSize): PseudoTerminal {
    const c = libc();
    const master = c.open(cString("/dev/ptmx"), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (master < 0) throw new LibcError("open /dev/ptmx", errno());
    let slave = -1;
    try {
      if (c.grantpt(master) < 0) throw new LibcError("grantpt", errno());
      if (c.unlockpt(master) < 0) throw new LibcError("unlockpt", errno());
      const name = new Uint8Array(128);
      const failed = c.ptsname_r(master, name, BigInt(name.length));
      if (failed !== 0) throw new LibcError("ptsname_r", failed);
      const path = new TextDecoder().decode(name.subarray(0, name.indexOf(0)));
      slave = c.open(cString(path), O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (slave < 0) throw new LibcError(`open ${path}`, errno());
      const pty = new PseudoTerminal(master, slave, path);
      pty.resize(size);
      return pty;
    } catch (error) {
      if (slave >= 0) c.close(slave);
      c.close(master);
      throw error;
    }
  }

  /** Set the window size; the command's foreground process group gets SIGWINCH. */
  resize(size: WindowSize): void {
    if (this.#closed) return;
    const winsize = new Uint16Array([size.rows, size.cols, 0, 0]);
    if (libc().ioctl(this.#master, BigInt(TIOCSWINSZ), winsize) < 0) {
      throw new LibcError("ioctl(TIOCSWINSZ)", errno());
    }
  }

  /**
   * Close the agent's slave descriptor: once the command and everything it started have closed
   * theirs too, the master reads the rest of the output, then ends. Call it after the command
   * exited. Idempotent.
   */
  releaseSlave(): void {
    if (this.#slave < 0) return;
    libc().close(this.#slave);
    this.#slave = -1;
  }

  /** Stop reading and writing and close both descriptors. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.releaseSlave();
    while (this.#polls.size > 0) await Promise.allSettled([...this.#polls]);
    libc().close(this.#master);
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const buffer = new Uint8Array(READ_BYTES);
    const n = await readWhenReady(this.#master, buffer, {
      stop: () => this.#closed,
      wait: (fd) => this.#poll(fd, POLLIN),
    });
    // null: EIO, no slave is open any more and everything written to it has been read.
    if (n === null) controller.close();
    else controller.enqueue(buffer.slice(0, n));
  }

  async #write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length && !this.#closed) {
      const rest = chunk.subarray(offset);
      const n = Number(libc().write(this.#master, rest, BigInt(rest.length)));
      if (n >= 0) {
        offset += n;
        continue;
      }
      const error = errno();
      if (error !== EAGAIN && error !== EINTR) throw new LibcError("write to the terminal", error);
      // The input queue is full: the command is not reading. Wait, and hold the sender back.
      await this.#poll(this.#master, POLLOUT);
    }
  }

  /** Wait up to one slice for `events` on the master; closing waits for it. */
  async #poll(fd: number, events: number): Promise<number> {
    const call = pollFd(fd, events);
    this.#polls.add(call);
    try {
      return await call;
    } finally {
      this.#polls.delete(call);
    }
  }
}
