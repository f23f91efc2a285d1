/**
 * What the CLI's module graph costs per command, against another checkout in the same run
 * (interleaved): `agentbox exec --session nosuch -- true` (parse, load `exec --session`'s modules,
 * open the database, fail: no VM involved) and `agentbox --version` (the process floor), from
 * source, each checkout with its own deno.json.
 *
 * Run: deno run -A tests/bench/cli_start.ts OTHER_CHECKOUT [ROUNDS]   (default 15)
 * e.g. `git worktree add /tmp/base <commit>` then `deno run -A tests/bench/cli_start.ts /tmp/base`
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { median } from "./stats.ts";

const other = Deno.args[0];
if (!other) {
  console.error("usage: deno run -A tests/bench/cli_start.ts OTHER_CHECKOUT [ROUNDS]");
  Deno.exit(2);
}
const rounds = Number(Deno.args[1] ?? 15);
const here = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const scratch = await Deno.makeTempDir({ prefix: "agentbox-bench-cli-" });
await Deno.mkdir(`${scratch}/run`, { mode: 0o700 });
const env = { XDG_RUNTIME_DIR: `${scratch}/run`, XDG_STATE_HOME: `${scratch}/state` };
const commands: Record<string, string[]> = {
  "exec --session": ["exec", "--session", "nosuch", "--", "true"],
  "--version": ["--version"],
};
const times = new Map<string, number[]>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, root] of [["this", here], ["other", other]]) {
      for (const [what, args] of Object.entries(commands)) {
        const start = performance.now();
        await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--quiet",
            `--config=${root}/deno.json`,
            `${root}/host/main.ts`,
            ...args,
          ],
          env,
          stdout: "null",
          stderr: "null",
        }).output();
        const key = `${label} ${what}`;
        times.set(key, [...times.get(key) ?? [], performance.now() - start]);
      }
    }
  }
  for (const [key, values] of times) {
    console.log(`${key.padEnd(24)} median ${median(values).toFixed(0)} ms (n=${values.length})`);
  }
} finally {
  await Deno.remove(scratch, { recursive: true });
}
