/**
 * CLI start per command (issue 21, goal 5): for each command that answers without a VM, the
 * modules its file loads up front (static graph of `host/cli/<file>.ts` plus the entry point's)
 * and its wall time from source, against `agentbox --version` in the same run (interleaved).
 *
 * Run: deno run -A tests/bench/cli_commands.ts [ROUNDS]   (default 11)
 *
 * The commands run in an empty private state (no sessions, no images): `exec --session nosuch`
 * parses, loads `exec --session`'s modules, opens the database and fails to find the session —
 * the whole CLI part of `exec --session S -- true` without the round trip into the guest, which
 * tests/bench/session_exec.ts measures (its `client` figure).
 *
 * @module
 */

import { agentbox } from "../helpers.ts";
import { staticGraph } from "../module_graph.ts";
import { median } from "./stats.ts";

const rounds = Number(Deno.args[0] ?? 11);

/** Label → CLI arguments and the file of the command. */
const COMMANDS: Record<string, { args: string[]; file?: string }> = {
  "--version": { args: ["--version"] },
  "exec --session nosuch -- true": {
    args: ["exec", "--session", "nosuch", "--", "true"],
    file: "exec",
  },
  "ps": { args: ["ps"], file: "ps" },
  "images ls": { args: ["images", "ls"], file: "images" },
  "snapshot ls": { args: ["snapshot", "ls"], file: "snapshot" },
  "requests": { args: ["requests"], file: "requests" },
  "config": { args: ["config"], file: "config" },
  "system df": { args: ["system", "df"], file: "system" },
};

const scratch = await Deno.makeTempDir({ prefix: "agentbox-bench-cli-commands-" });
await Deno.mkdir(`${scratch}/run`, { mode: 0o700 });
const env = {
  XDG_RUNTIME_DIR: `${scratch}/run`,
  XDG_STATE_HOME: `${scratch}/state`,
  XDG_DATA_HOME: `${scratch}/data`,
  XDG_CACHE_HOME: `${scratch}/cache`,
  XDG_CONFIG_HOME: `${scratch}/config`,
};
const main = new Set(await staticGraph("host/main.ts"));
const modules = new Map<string, number>();
for (const [label, { file }] of Object.entries(COMMANDS)) {
  const graph = file ? await staticGraph(`host/cli/${file}.ts`) : [];
  modules.set(label, new Set([...main, ...graph]).size);
}
const times = new Map<string, number[]>();
try {
  for (let round = 0; round < rounds; round++) {
    for (const [label, { args }] of Object.entries(COMMANDS)) {
      const start = performance.now();
      await agentbox(args, { env, cwd: scratch }).output();
      times.set(label, [...times.get(label) ?? [], performance.now() - start]);
    }
  }
  const floor = median(times.get("--version")!);
  console.log(
    `${rounds} rounds (interleaved); modules = static graph of main.ts + the command's file`,
  );
  for (const [label, values] of times) {
    const m = median(values);
    console.log(
      `${label.padEnd(30)} ${String(modules.get(label)).padStart(4)} modules  median ${
        m.toFixed(0).padStart(4)
      } ms  ${(m / floor).toFixed(2)}× --version`,
    );
  }
} finally {
  await Deno.remove(scratch, { recursive: true });
}
