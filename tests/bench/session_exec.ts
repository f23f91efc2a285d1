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
 *   so a change's cost is measured under the same load;
 * - `client other`: `client` against that session (its owner and guest agent), interleaved with
 *   `client` the same way.
 *
 * With OTHER_DATA_HOME too, that checkout's CLI takes its images from there (`XDG_DATA_HOME`):
 * a guest agent built from its own code, so a change to the agent is measured as well (build the
 * image first: `XDG_DATA_HOME=OTHER_DATA_HOME agentbox images build` from that checkout).
 *
 * The comparison with ssh into the same VM is tests/bench/ssh_exec.ts.
 *
 * Run: deno run -A tests/bench/session_exec.ts [CLI_RUNS] [CLIENT_RUNS] [OTHER_CHECKOUT]
 * [OTHER_DATA_HOME] (default 30, 300, none, the caller's)
 *
 * @module
 */

import { BenchCli, execTrueInProcess, report, timed, timeOnce } from "./session_bench.ts";

const cliRuns = Number(Deno.args[0] ?? 30);
const clientRuns = Number(Deno.args[1] ?? 300);
const other = Deno.args[2];
const otherData = Deno.args[3];
const cli = new BenchCli(await Deno.makeTempDir({ prefix: "agentbox-bench-session-" }));
const otherCli = other === undefined ? undefined : new BenchCli(
  await Deno.makeTempDir({ prefix: "agentbox-bench-session-other-" }),
  other,
  otherData,
);
const start = ["run", "--detach", "--no-share", "--net", "none", "--name", "bench"];

try {
  await cli.run(start);
  await otherCli?.run(start);
  const { controlSocket } = await cli.session("bench");
  const clientOnce = () => execTrueInProcess(controlSocket);
  await timed(10, clientOnce); // warm up
  if (otherCli === undefined) {
    report("client", await timed(clientRuns, clientOnce));
  } else {
    // The other session's owner and guest agent, through this checkout's client (one protocol).
    const otherSocket = (await otherCli.session("bench")).controlSocket;
    const otherOnce = () => execTrueInProcess(otherSocket);
    await timed(10, otherOnce);
    const here: number[] = [], there: number[] = [];
    for (let round = 0; round < clientRuns; round++) {
      here.push(await timeOnce(clientOnce));
      there.push(await timeOnce(otherOnce));
    }
    report("client", here.sort((a, b) => a - b));
    report("client other", there.sort((a, b) => a - b));
  }
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
