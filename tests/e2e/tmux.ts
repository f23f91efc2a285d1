/**
 * A real terminal for end-to-end tests: a tmux server of the test's own, typed into with
 * send-keys and read back with capture-pane.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO, waitFor } from "../helpers.ts";

/** How long a screen is waited for. */
const SCREEN_WAIT_MS = 90_000;
export const hasTmux = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A tmux server of our own, one window running dash, in a temporary directory. */
export async function startTmux(cols: number, rows: number) {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-tmux-" });
  const socket = `${dir}/tmux.sock`;
  const tmux = (...args: string[]) => {
    const out = new Deno.Command("tmux", { args: ["-S", socket, ...args], stderr: "piped" })
      .outputSync();
    if (!out.success) {
      throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  };
  tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", `${cols}`, "-y", `${rows}`, "sh");
  tmux("set-option", "-t", "t", "remain-on-exit", "on");
  const screen = () => tmux("capture-pane", "-p", "-t", "t");
  return {
    dir,
    tmux,
    screen,
    type: (...keys: string[]) => tmux("send-keys", "-t", "t", ...keys),
    /** Type a literal line and Enter. */
    line: (text: string) => {
      tmux("send-keys", "-t", "t", "-l", text);
      tmux("send-keys", "-t", "t", "Enter");
    },
    resize: (x: number, y: number) => tmux("resize-window", "-t", "t", "-x", `${x}`, "-y", `${y}`),
    paneDead: () => tmux("display", "-p", "-t", "t", "#{pane_dead}").trim() === "1",
    panePid: () => Number(tmux("display", "-p", "-t", "t", "#{pane_pid}").trim()),
    async waitScreen(test: (screen: string) => boolean, what: string) {
      const ok = await waitFor(() => test(screen()), SCREEN_WAIT_MS);
      assert.ok(ok, `waiting for ${what}; the screen is:\n${screen()}`);
    },
    async [Symbol.asyncDispose]() {
      try {
        tmux("kill-server");
      } catch {
        // Already gone.
      }
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * The shell command line that runs agentbox from source in the pane with `env` set, then prints
 * its status.
 */
export function agentboxLine(env: Record<string, string>, args: string[]): string {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const argv = [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    `--config=${REPO}/deno.json`,
    `${REPO}/host/main.ts`,
    ...args,
  ];
  const vars = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(" ");
  return `${vars} ${argv.map(quote).join(" ")}; echo "status=$?"`;
}
