/**
 * System diff benchmark (issue 20): after a Debian package install in a dev-image VM, the time
 * `agentbox diff --system` takes — collecting the root overlay's changes over the agent channel
 * (`changes.start` system + system-base, stored on the host) and summarizing them (packages,
 * accounts, services, /etc diffs) — against what a person would run inside the same VM instead:
 * `dpkg -l` plus `find /etc -newer` (which tell less: no versions before, no contents, no diffs).
 * Both in the same VM, same run, alternating.
 *
 * Needs the dev image and the Debian mirror through the host's egress (the package is `hello`,
 * installed once, not timed).
 *
 * Run: deno run -A tests/bench/system_diff.ts [RUNS]   (default 5; medians reported)
 *
 * @module
 */

import { openContext } from "../../host/api/context.ts";
import { startSandbox } from "../../host/api/sandbox.ts";
import { sandboxPlan } from "../../host/cli/sandbox_plan.ts";
import { collectSystemChanges, loadSystemChangeset } from "../../host/system/system_changeset.ts";
import { summarizeSystemChanges } from "../../host/system/system_summary.ts";
import { sessionStateDir } from "../../host/workspace/latest_session.ts";
import { median } from "./stats.ts";

const runs = Number(Deno.args[0] ?? 5);
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-sysdiff-" });
const plan = await sandboxPlan(
  "exec",
  { image: "dev", user: "root", allow: ["deb.debian.org"] },
  ["true"],
  { interactive: false, cwd: work },
);
using ctx = openContext();
const box = await startSandbox(ctx, plan.spec);

async function run(script: string): Promise<string> {
  const handle = box.exec({ argv: ["sh", "-c", script] });
  const [out, err, result] = await Promise.all([
    new Response(handle.stdout).text(),
    new Response(handle.stderr).text(),
    handle.result,
  ]);
  if (result.code !== 0) throw new Error(`${script}: exit ${result.code}: ${err}`);
  return out;
}

try {
  const installStart = performance.now();
  await run(
    "export DEBIAN_FRONTEND=noninteractive; touch /tmp/before; apt-get update -qq && " +
      "apt-get install -y -qq --no-install-recommends hello >/dev/null",
  );
  console.log(
    `install (not timed below): ${((performance.now() - installStart) / 1000).toFixed(0)} s`,
  );
  const sessionDir = sessionStateDir(box.id);
  const ours: number[] = [];
  const theirs: number[] = [];
  let summary;
  for (let i = 0; i < runs; i++) {
    let start = performance.now();
    await collectSystemChanges(box.vm.agent, sessionDir);
    summary = await summarizeSystemChanges(await loadSystemChangeset(sessionDir));
    ours.push(performance.now() - start);
    start = performance.now();
    await run("dpkg -l >/dev/null && find /etc -newer /tmp/before >/dev/null");
    theirs.push(performance.now() - start);
  }
  const ms = (values: number[]) => `${median(values).toFixed(0)} ms`;
  console.log(
    `diff --system (collect + summarize): median ${ms(ours)} ` +
      `(runs: ${ours.map((v) => v.toFixed(0)).join(", ")}); ${summary!.files.length} files, ` +
      `installed: ${summary!.packages.installed.map((p) => `${p.name} ${p.version}`).join(", ")}`,
  );
  console.log(
    `dpkg -l + find /etc -newer in the guest: median ${ms(theirs)} ` +
      `(runs: ${theirs.map((v) => v.toFixed(0)).join(", ")})`,
  );
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  console.log(`load average: ${load}`);
} finally {
  await box.stop();
  await Deno.remove(work, { recursive: true });
}
