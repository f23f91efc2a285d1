/**
 * The few C library calls terminals need and Deno does not offer: pseudo-terminal pairs, window
 * sizes, terminal modes, and reads and writes on descriptors Deno does not own. Bound with
 * `Deno.dlopen` on glibc's `libc.so.6` (the guest image ships glibc for Deno; so does every host
 * Deno runs on), opened on first use. Constants are Linux's (x86_64 and aarch64 agree on them).
 *
 * @module
 */

/** `open` flags. */
export const O_RDWR = 0o2;
/** Do not make the terminal the caller's controlling terminal. */
export const O_NOCTTY = 0o400;
/** Reads and writes return EAGAIN instead of blocking. */
export const O_NONBLOCK = 0o4000;
/** Close on exec: children spawned later never inherit the descriptor. */
export const O_CLOEXEC = 0o2000000;

/** `ioctl` requests. */
export const TIOCGWINSZ = 0x5413;
/** Set the window size; the kernel sends SIGWINCH to the terminal's foreground process group. */
export const TIOCSWINSZ = 0x5414;

/** `poll` events. */
export const POLLIN = 0x1;
/** Writing will not block. */
export const POLLOUT = 0x4;

/** `errno` values. */
export const EINTR = 4;
/** I/O error: on a pseudo-terminal master, every slave descriptor is closed. */
export const EIO = 5;
/** Try again (non-blocking descriptor). */
export const EAGAIN = 11;

/** `tcsetattr` action: apply once queued output is written. */
export const TCSADRAIN = 1;
/** Size of glibc's `struct termios` on Linux. */
export const TERMIOS_BYTES = 60;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // Run on a worker thread: a wait must not block the agent's event loop.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  clock_settime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The bound functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * A failed C library call.
 *
 * @example
 * ```ts
 * import { LibcError } from "./libc.ts";
 * const error = new LibcError("ioctl(TIOCSWINSZ)", 9);
 * console.assert(error.errno === 9);
 * ```
 */
export class LibcError extends Error {
  /** The call's `errno`. */
  readonly errno: number;
  constructor(call: string, errno: number, options?: ErrorOptions) {
    super(`Cannot ${call}: errno ${errno}`, options);
    this.name = "LibcError";
    this.errno = errno;
  }
}

let lib: Libc | undefined;

/**
 * The C library, opened on first use. Throws {@linkcode LibcError} when it cannot be loaded.
 *
 * @example
 * ```ts
 * import { libc } from "./libc.ts";
 * const termios = new Uint8Array(60);
 * console.log(libc().tcgetattr(0, termios) === 0 ? "stdin is a terminal" : "it is not");
 * ```
 */
export function libc(): Libc {
  if (lib) return lib;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch (cause) {
    throw new LibcError("load libc.so.6", 0, { cause });
  }
  return lib;
}

/**
 * The calling thread's `errno`. Read it right after the failed call, with no `await` between:
 * synchronous calls run on the JavaScript thread, whose `errno` nothing else touches meanwhile.
 *
 * @example
 * ```ts
 * import { errno, libc } from "./libc.ts";
 * if (libc().close(-1) < 0) console.assert(errno() === 9); // EBADF
 * ```
 */
export function errno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/**
 * A NUL-terminated C string.
 *
 * @example
 * ```ts
 * import { cString } from "./libc.ts";
 * console.assert(cString("/dev/ptmx").at(-1) === 0);
 * ```
 */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}
