/**
 * What capping TCG's translation buffer (`-accel tcg,tb-size=N`) costs a busy guest and saves an
 * idle one (issue 21, goal 4). For each N (interleaved, one fresh detached session each time):
 * the first and second `true` after the restore, the first and second start of the guest's Deno
 * (`deno eval`, a lot of code to translate), a shell loop, a JavaScript workload that runs much
 * code (JSON, RegExp, sorting), and then the QEMU's translated-code memory (its executable
 * anonymous mappings) and RSS.
 *
 * Run: deno run -A tests/bench/tcg_tb_size.ts [ROUNDS] [SIZES]
 * (default 3 rounds, sizes `default,64,32,16`; `default` is QEMU's own). The sessions run through
 * a wrapper (AGENTBOX_QEMU) that replaces the `-accel tcg,…` option agentbox passes with
 * `tcg,thread=multi,tb-size=N`, so one checkout measures every size; the first session makes the
 * template (in the benchmark's own cache directory), outside the timed steps.
 *
 * @module
 */

import { AgentClient } from "../../host/channel/agent_client.ts";
import { BenchCli, type BenchSessionEntry } from "./session_bench.ts";
import { median } from "./stats.ts";

const rounds = Number(Deno.args[0] ?? 3);
const sizes = (Deno.args[1] ?? "default,64,32,16").split(",");

const root = await Deno.makeTempDir({ prefix: "agentbox-bench-tb-" });
// agentbox runs QEMU with a clean environment, so the wrapper reads the size from a file; one
// wrapper (a template is made for one QEMU binary) whatever the size.
const sizeFile = `${root}/tb-size`;
const wrapper = `${root}/qemu`;
await Deno.writeTextFile(
  wrapper,
  `#!/bin/bash
size=$(cat '${sizeFile}')
args=()
for a in "$@"; do
  [[ $a == tcg,* ]] && a="tcg,thread=multi\${size:+,tb-size=$size}"
  args+=("$a")
done
exec /usr/bin/qemu-system-x86_64 "\${args[@]}"
`,
  { mode: 0o755 },
);
const cli = new BenchCli(root);
cli.env.AGENTBOX_QEMU = wrapper;

const JS_WORK = `
let out = 0;
for (let i = 0; i < 200; i++) {
  const rows = Array.from({ length: 200 }, (_, j) => ({ id: j, name: "row" + ((j * 7919) % 200) }));
  const text = JSON.stringify(rows);
  const back = JSON.parse(text).sort((a, b) => a.name.localeCompare(b.name));
  out += back.filter((r) => /row1\\d+/.test(r.name)).length + text.replace(/\\d/g, "").length;
}
console.log(out);
`;

/** The steps timed in each session, in order: label → argv. */
const STEPS: [string, string[]][] = [
  ["true 1st", ["true"]],
  ["true 2nd", ["true"]],
  ["deno 1st", ["deno", "eval", "console.log(1)"]],
  ["deno 2nd", ["deno", "eval", "console.log(1)"]],
  ["sh loop", ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo $i"]],
  ["js work", ["deno", "eval", JS_WORK]],
];

async function timedExec(agent: AgentClient, argv: string[]): Promise<number> {
  const start = performance.now();
  const run = agent.exec({ argv });
  const [out, err, result] = await Promise.all([
    new Response(run.stdout).text(),
    new Response(run.stderr).text(),
    run.result,
  ]);
  if (result.code !== 0) throw new Error(`${argv[0]} exited ${result.code}: ${out}${err}`);
  return performance.now() - start;
}

function children(pid: number): number[] {
  const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** KiB of QEMU's RSS and of its executable anonymous mappings (TCG's translated code). */
function qemuMemory(ownerPid: number): { rss: number; code: number } {
  const pid = children(ownerPid).find((p) =>
    Deno.readTextFileSync(`/proc/${p}/comm`).startsWith("qemu")
  );
  if (pid === undefined) throw new Error(`No QEMU under ${ownerPid}`);
  let code = 0, rss = 0, exec = false;
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)/.exec(line);
    if (head) exec = head[1].includes("x") && head[2] === "0";
    const value = /^Rss:\s+(\d+)/.exec(line);
    if (value) {
      rss += Number(value[1]);
      if (exec) code += Number(value[1]);
    }
  }
  return { rss, code };
}

const results = new Map<string, Map<string, number[]>>(sizes.map((s) => [s, new Map()]));
const record = (size: string, label: string, value: number) => {
  const row = results.get(size)!;
  row.set(label, [...(row.get(label) ?? []), value]);
};

try {
  // The first session makes the template; the measured ones restore from it.
  await Deno.writeTextFile(sizeFile, "");
  await cli.run(["run", "--detach", "--no-share", "--name", "tb-warmup"]);
  await cli.remove("tb-warmup");
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so that no size always runs first.
    const order = sizes.map((_, i) => sizes[(i + round) % sizes.length]);
    for (const size of order) {
      const name = `tb-${size}-${round}`;
      await Deno.writeTextFile(sizeFile, size === "default" ? "" : size);
      await cli.run(["run", "--detach", "--no-share", "--name", name]);
      try {
        const entry = JSON.parse(await cli.run(["ps", "--json"])).find((
          e: BenchSessionEntry,
        ) => e.name === name) as BenchSessionEntry & { ownerPid: number };
        const socket = await Deno.connect({ transport: "unix", path: entry.controlSocket });
        const agent = await AgentClient.connect(socket);
        try {
          for (const [label, argv] of STEPS) record(size, label, await timedExec(agent, argv));
        } finally {
          agent.close();
        }
        const memory = qemuMemory(entry.ownerPid);
        record(size, "code MiB", memory.code / 1024);
        record(size, "RSS MiB", memory.rss / 1024);
        console.error(`round ${round} size ${size} done`);
      } finally {
        await cli.remove(name);
      }
    }
  }
} finally {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}

const labels = [...STEPS.map(([label]) => label), "code MiB", "RSS MiB"];
console.log(`tb-size, medians of ${rounds} rounds (ms, or MiB after the steps)`);
console.log(["".padEnd(9), ...sizes.map((s) => s.padStart(9))].join(" "));
for (const label of labels) {
  const cells = sizes.map((s) => median(results.get(s)!.get(label) ?? [NaN]).toFixed(0));
  console.log([label.padEnd(9), ...cells.map((c) => c.padStart(9))].join(" "));
}
