/**
 * Warm round trip into a running session: `agentbox exec --session S -- true`, p50 and p95.
 *
 * Three figures from one run, all against the same detached session (`--no-share --net none`):
 * - `cli`: the whole command as a user runs it (a new agentbox process each time: from source
 *   here, so Deno's start and module loading are in it);
 * - `floor`: `agentbox --version` the same way, the process start alone;
 * - `client`: what the command does once started — connect to the control socket, hello, exec
 *   `true`, wait for its exit — in this process.
 *
 * With OTHER_CHECKOUT (another worktree, e.g. `git worktree add /tmp/base <commit>`), a fourth:
 * - `cli other`: the same command from that checkout's source, against a session of its own
 *   (state directories are not shared between versions), interleaved with `cli` round by round,
 *   so a change's cost is measured under the same load.
 *
 * The comparison with ssh into the same VM is tests/bench/ssh_exec.ts.
 *
 * Run: deno run -A tests/bench/session_exec.ts [CLI_RUNS] [CLIENT_RUNS] [OTHER_CHECKOUT]
 * (default 30, 300, none)
 *
 * @module
 */

import { BenchCli, execTrueInProcess, report, timed, timeOnce } from "./session_bench.ts";

const cliRuns = Number(Deno.args[0] ?? 30);
const clientRuns = Number(Deno.args[1] ?? 300);
const other = Deno.args[2];
const cli = new BenchCli(await Deno.makeTempDir({ prefix: "agentbox-bench-session-" }));
const otherCli = other === undefined
  ? undefined
  : new BenchCli(await Deno.makeTempDir({ prefix: "agentbox-bench-session-other-" }), other);
const start = ["run", "--detach", "--no-share", "--net", "none", "--name", "bench"];

try {
  await cli.run(start);
  await otherCli?.run(start);
  const { controlSocket } = await cli.session("bench");
  const clientOnce = () => execTrueInProcess(controlSocket);
  await timed(10, clientOnce); // warm up
  report("client", await timed(clientRuns, clientOnce));
  const execTrue = ["exec", "--session", "bench", "--", "true"];
  if (otherCli === undefined) {
    report("cli", await timed(cliRuns, () => cli.run(execTrue)));
  } else {
    const here: number[] = [], there: number[] = [];
    for (let round = 0; round < cliRuns; round++) {
      here.push(await timeOnce(() => cli.run(execTrue)));
      there.push(await timeOnce(() => otherCli.run(execTrue)));
    }
    report("cli", here.sort((a, b) => a - b));
    report("cli other", there.sort((a, b) => a - b));
  }
  report("floor", await timed(cliRuns, () => cli.run(["--version"])));
} finally {
  for (const c of [cli, otherCli]) {
    if (!c) continue;
    await c.remove("bench");
    await Deno.remove(c.root, { recursive: true });
  }
}
