/**
 * The private world of a session e2e test: XDG runtime, state, cache and config directories of
 * its own (the image comes from the default data directory) and a project directory.
 *
 * @module
 */
import assert from "node:assert/strict";
import { agentbox, processesMatching } from "../helpers.ts";

/** Decodes a child's output. */
export const decoder = new TextDecoder();

/**
 * Private XDG directories and a project directory with one file (`hello.txt`), with a `cli`
 * that runs agentbox in them; disposing of it kills every process started under it.
 *
 * @example
 * ```ts ignore
 * import { sandbox } from "./session_sandbox.ts";
 * await using s = await sandbox();
 * const r = await s.cli(["ps"]);
 * ```
 */
export async function sandbox() {
  const root = await Deno.makeTempDir({ prefix: "agentbox-sessions-" });
  const env = {
    XDG_RUNTIME_DIR: `${root}/run`,
    XDG_STATE_HOME: `${root}/state`,
    XDG_CACHE_HOME: `${root}/cache`,
    XDG_CONFIG_HOME: `${root}/config`,
  };
  const project = `${root}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(`${project}/hello.txt`, "hello\n");
  /** Run agentbox with `args` (in the project, or in `cwd`), feeding it `stdin` if given. */
  const cli = async (args: string[], stdin?: string, cwd = project) => {
    const child = agentbox(args, {
      env,
      cwd,
      stdin: stdin === undefined ? "null" : "piped",
    });
    if (stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(stdin));
      await writer.close();
    }
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  };
  const ps = async () => {
    const r = await cli(["ps", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { id: string; name: string | null; state: string }[];
  };
  return {
    root,
    env,
    project,
    cli,
    ps,
    /** QEMU processes started for this test (their runtime dir is under root). */
    qemus: () => processesMatching(root).filter((pid) => isQemu(pid)),
    async [Symbol.asyncDispose]() {
      for (const pid of processesMatching(root)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

function isQemu(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("qemu-system");
  } catch {
    return false;
  }
}
