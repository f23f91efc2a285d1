/**
 * The user's terminal in raw mode while a guest program owns it, and put back as it was on every
 * way out agentbox can see: a normal end, an error, a signal, an uncaught exception or an
 * unhandled rejection, `Deno.exit`.
 *
 * Raw here is `cfmakeraw`'s: no echo, no line editing, no signals from Ctrl-C/Ctrl-Z (those
 * bytes go to the guest's terminal, whose own line discipline acts on them), and no output
 * processing — Deno's `setRaw` keeps `OPOST`, which would turn a full-screen program's bare line
 * feeds into carriage returns too. Read it with `readWhenReady` (guest-agent/pty/poll_read.ts),
 * which never leaves a read pending. (Raw mode keeps `VMIN` 1: a timed read setting left behind by
 * a killed agentbox would make a shell like dash read an end of file and exit.)
 *
 * A process killed with SIGKILL cannot restore anything. For that case a guardian — a tiny shell
 * holding the read end of a pipe only agentbox writes to — wakes up when agentbox's end closes
 * (which the kernel does for any death) and puts the saved settings back with `stty`. After a
 * normal end agentbox kills the guardian first.
 *
 * @module
 */

import { errno, libc, LibcError, TCSADRAIN, TERMIOS_BYTES } from "../../guest-agent/pty/libc.ts";

/**
 * The guardian: the settings come as `$0`, the terminal's path as `$1`. It runs in a session of
 * its own, so that killing agentbox's whole process group spares it, and ignores the signals a
 * job gets (SIGTTOU: it writes to a terminal it does not own). It waits for EOF on stdin,
 * restores, then resets colours, shows the cursor, leaves the alternate screen (what a killed
 * full-screen program leaves behind) and says what happened.
 */
const GUARDIAN = `trap '' INT QUIT TSTP TTIN TTOU HUP
read -r _
stty "$0" <"$1" || exit
printf '\\033[0m\\033[?25h\\033[?1049l\\r\\nagentbox: %s\\n' \\
  'killed; terminal settings restored (if the screen looks wrong, type reset)' >"$1"`;

/**
 * A terminal in raw mode.
 *
 * @example
 * ```ts ignore
 * import { RawTerminal } from "./raw_terminal.ts";
 * const raw = RawTerminal.enter();
 * try {
 *   // read keys with Deno.stdin.read, write to Deno.stdout
 * } finally {
 *   raw.restore();
 * }
 * ```
 */
export class RawTerminal {
  readonly #saved: Uint8Array<ArrayBuffer>;
  readonly #guardian: Deno.ChildProcess | undefined;
  #restored = false;
  readonly #onExit = () => this.restore();

  private constructor(saved: Uint8Array<ArrayBuffer>, guardian: Deno.ChildProcess | undefined) {
    this.#saved = saved;
    this.#guardian = guardian;
    globalThis.addEventListener("unload", this.#onExit);
    globalThis.addEventListener("error", this.#onExit);
    globalThis.addEventListener("unhandledrejection", this.#onExit);
  }

  /**
   * Put stdin's terminal in raw mode. Throws {@linkcode LibcError} when stdin is not a terminal
   * or its settings cannot be changed.
   */
  static enter(): RawTerminal {
    const c = libc();
    const saved = new Uint8Array(TERMIOS_BYTES);
    if (c.tcgetattr(0, saved) < 0) throw new LibcError("read the terminal's settings", errno());
    const raw = saved.slice();
    c.cfmakeraw(raw);
    const guardian = startGuardian();
    if (c.tcsetattr(0, TCSADRAIN, raw) < 0) {
      const error = new LibcError("put the terminal in raw mode", errno());
      stopGuardian(guardian);
      throw error;
    }
    return new RawTerminal(saved, guardian);
  }

  /** Whether {@linkcode RawTerminal.restore} has run. */
  get restored(): boolean {
    return this.#restored;
  }

  /** Put the saved settings back and dismiss the guardian. Synchronous and idempotent. */
  restore(): void {
    if (this.#restored) return;
    this.#restored = true;
    globalThis.removeEventListener("unload", this.#onExit);
    globalThis.removeEventListener("error", this.#onExit);
    globalThis.removeEventListener("unhandledrejection", this.#onExit);
    libc().tcsetattr(0, TCSADRAIN, this.#saved);
    stopGuardian(this.#guardian);
  }
}

/**
 * Start the guardian with the terminal's current settings (`stty -g`), or return undefined when
 * `stty` is not there: raw mode then works as without a guardian.
 */
function startGuardian(): Deno.ChildProcess | undefined {
  try {
    const saved = new Deno.Command("stty", {
      args: ["-g"],
      stdin: "inherit",
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const settings = new TextDecoder().decode(saved.stdout).trim();
    const terminal = Deno.readLinkSync("/proc/self/fd/0");
    if (!saved.success || !/^[0-9a-f:]+$/.test(settings) || !terminal.startsWith("/dev/")) {
      return undefined;
    }
    const guardian = new Deno.Command("setsid", {
      args: ["sh", "-c", GUARDIAN, settings, terminal],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    guardian.unref();
    guardian.status.catch(() => {});
    return guardian;
  } catch {
    return undefined;
  }
}

function stopGuardian(guardian: Deno.ChildProcess | undefined): void {
  try {
    guardian?.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}
