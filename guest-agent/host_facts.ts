/**
 * What the host's hello tells the guest about the world outside: the time, and fresh entropy.
 * Both matter most after a restore from a snapshot, when the guest wakes with the clock of the
 * moment the snapshot was taken (`make` and TLS certificate checks need the real time) and with
 * the very random state every other VM restored from that snapshot also has.
 *
 * Only the agent inside a VM applies them (it runs as the guest's root); the agent the tests run
 * on the host never does.
 *
 * @module
 */

import type { Hello } from "@agentbox/protocol";
import { cString, errno, libc, LibcError, O_CLOEXEC, O_RDWR } from "./pty/libc.ts";

const CLOCK_REALTIME = 0;
/** `_IOW('R', 0x03, int[2])`: add bytes to the input pool and credit their entropy. */
const RNDADDENTROPY = 0x40085203;
/** `_IO('R', 0x07)`: reseed the kernel's random generator from the input pool now. */
const RNDRESEEDCRNG = 0x5207;

/**
 * Set the guest's clock from `hello.time` and reseed its random generator with `hello.entropy`.
 * Throws {@linkcode LibcError} when the kernel refuses.
 *
 * @example
 * ```ts
 * import { applyHostFacts } from "./host_facts.ts";
 * applyHostFacts({ time: Date.now(), entropy: crypto.getRandomValues(new Uint8Array(32)) });
 * ```
 */
export function applyHostFacts(hello: Pick<Hello, "time" | "entropy">): void {
  if (hello.time !== undefined) setClock(hello.time);
  if (hello.entropy !== undefined && hello.entropy.length > 0) reseed(hello.entropy);
}

function setClock(epochMs: number): void {
  const timespec = new BigInt64Array([
    BigInt(Math.floor(epochMs / 1000)),
    BigInt((epochMs % 1000) * 1_000_000),
  ]);
  if (libc().clock_settime(CLOCK_REALTIME, new Uint8Array(timespec.buffer)) !== 0) {
    throw new LibcError("clock_settime", errno());
  }
}

function reseed(entropy: Uint8Array): void {
  const fd = libc().open(cString("/dev/urandom"), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw new LibcError("open /dev/urandom", errno());
  try {
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
    const info = new Uint8Array(8 + entropy.length);
    const view = new DataView(info.buffer);
    view.setInt32(0, entropy.length * 8, true);
    view.setInt32(4, entropy.length, true);
    info.set(entropy, 8);
    if (libc().ioctl(fd, BigInt(RNDADDENTROPY), info) !== 0) {
      throw new LibcError("ioctl(RNDADDENTROPY)", errno());
    }
    if (libc().ioctl(fd, BigInt(RNDRESEEDCRNG), new Uint8Array(0)) !== 0) {
      throw new LibcError("ioctl(RNDRESEEDCRNG)", errno());
    }
  } finally {
    libc().close(fd);
  }
}
