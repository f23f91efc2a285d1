/**
 * Where the host's time of one `agentbox exec --session S -- true` goes, step by step, in a new
 * process each time as the CLI runs (from source): Deno's start to this module, loading `exec`'s
 * module graph, opening the database and finding the session, connecting to its control socket,
 * the owner's hello, `exec.start` to `exec.started` (the owner relays it to the guest agent, which
 * spawns the command), `exec.started` to `exec.exit`, closing. Medians and p95 of each step over
 * RUNS processes, against one detached session (`--no-share --net none`), with `agentbox
 * --version`'s whole run as the floor. The guest's own share of the exec steps is measured inside
 * the guest (docs/benchmarks.md, "The cost of one exec").
 *
 * Run: deno run -A tests/bench/exec_parts.ts [RUNS]   (default 21)
 *
 * @module
 */

import { BenchCli, report, timeOnce } from "./session_bench.ts";
import { percentile } from "./stats.ts";

/** The steps, in order, as the child reports them. */
const STEPS = [
  "Deno start → script",
  "exec's module graph",
  "database, session row",
  "control socket connect",
  "owner's hello",
  "exec.start → exec.started",
  "exec.started → exec.exit",
  "close",
] as const;

if (Deno.args[0] === "--child") {
  await child(Deno.args[1]);
} else {
  await main(Number(Deno.args[0] ?? 21));
}

/** One exec, timed step by step; prints the step durations (ms) as a JSON array. */
async function child(name: string): Promise<void> {
  const marks = [performance.now()];
  const mark = () => marks.push(performance.now());
  await import("../../host/cli/exec.ts"); // what `agentbox exec` loads before it parses
  mark();
  const { openDatabase } = await import("../../host/store/database.ts");
  const { resolveSession } = await import("../../host/session/session_client.ts");
  const { sessionPaths } = await import("../../host/session/session_paths.ts");
  const { AgentClient } = await import("../../host/channel/agent_client.ts");
  const db = openDatabase();
  const session = resolveSession(db, name);
  db.close();
  mark();
  const socket = await Deno.connect({
    transport: "unix",
    path: sessionPaths(session.id).controlSocket,
  });
  mark();
  const agent = await AgentClient.connect(socket);
  mark();
  const run = agent.exec({ argv: ["true"] });
  const output = Promise.all([run.stdout.cancel(), run.stderr.cancel()]);
  await run.started;
  mark();
  const result = await run.result;
  await output;
  mark();
  agent.close();
  mark();
  if (result.code !== 0) throw new Error(`true exited ${result.code}`);
  console.log(JSON.stringify(marks.map((t, i) => t - (i === 0 ? 0 : marks[i - 1]))));
}

async function main(runs: number): Promise<void> {
  const cli = new BenchCli(await Deno.makeTempDir({ prefix: "agentbox-bench-parts-" }));
  try {
    await cli.run(["run", "--detach", "--no-share", "--net", "none", "--name", "bench"]);
    const steps: number[][] = STEPS.map(() => []);
    const totals: number[] = [];
    const floor: number[] = [];
    const once = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", import.meta.filename!, "--child", "bench"],
        env: cli.env,
        cwd: cli.root,
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error("the child failed");
      return JSON.parse(new TextDecoder().decode(out.stdout)) as number[];
    };
    for (let i = 0; i < 3; i++) await once(); // warm up
    for (let round = 0; round < runs; round++) {
      let parts: number[] = [];
      totals.push(await timeOnce(async () => parts = await once()));
      parts.forEach((ms, i) => steps[i].push(ms));
      floor.push(await timeOnce(() => cli.run(["--version"])));
    }
    for (const [i, name] of STEPS.entries()) {
      const sorted = steps[i].sort((a, b) => a - b);
      console.log(
        `${name.padEnd(28)} p50 ${percentile(sorted, 0.5).toFixed(1).padStart(6)} ms  p95 ${
          percentile(sorted, 0.95).toFixed(1).padStart(6)
        } ms`,
      );
    }
    report("whole", totals.sort((a, b) => a - b));
    report("floor", floor.sort((a, b) => a - b));
  } finally {
    await cli.remove("bench");
    await Deno.remove(cli.root, { recursive: true });
  }
}
