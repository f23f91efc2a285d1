/**
 * The private world of a `--share` e2e test: a project directory, state and cache directories of
 * its own, agentbox run in them, and a listing of a tree to compare the guest's view with the
 * host's.
 *
 * @module
 */
import { agentbox } from "../helpers.ts";

const decoder = new TextDecoder();

/**
 * Run agentbox with `args` and `env` (in `cwd`), its output decoded.
 *
 * @example
 * ```ts ignore
 * import { cli } from "./share_sandbox.ts";
 * const r = await cli(["diff", "abc"], {});
 * ```
 */
export async function cli(args: string[], env: Record<string, string>, cwd?: string) {
  const out = await agentbox(args, { env, cwd }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/**
 * A project directory and private state and cache directories for one test.
 *
 * @example
 * ```ts ignore
 * import { shareSandbox } from "./share_sandbox.ts";
 * const s = await shareSandbox();
 * await s.cleanup();
 * ```
 */
export async function shareSandbox() {
  const base = await Deno.makeTempDir({ prefix: "agentbox-ws-e2e-" });
  const project = `${base}/project`;
  await Deno.mkdir(project);
  return {
    base,
    project,
    cache: `${base}/cache`,
    env: { XDG_STATE_HOME: `${base}/state`, XDG_CACHE_HOME: `${base}/cache` },
    cleanup: () => Deno.remove(base, { recursive: true }),
  };
}

/** A shell script listing every entry under the current directory: type, mode, content hash. */
export const TREE_LISTING = `find . -mindepth 1 | sort | while read -r p; do
  if [ -L "$p" ]; then echo "$p link $(readlink "$p")";
  elif [ -d "$p" ]; then echo "$p dir $(stat -c %a "$p")";
  else echo "$p file $(stat -c %a "$p") $(sha256sum < "$p" | cut -c1-64)"; fi
done`;

/**
 * {@linkcode TREE_LISTING} of `root` on the host.
 *
 * @example
 * ```ts ignore
 * import { hostListing } from "./share_sandbox.ts";
 * console.log(await hostListing("/tmp/project"));
 * ```
 */
export async function hostListing(root: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", TREE_LISTING], cwd: root }).output();
  return decoder.decode(out.stdout);
}
