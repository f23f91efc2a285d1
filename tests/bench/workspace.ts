/**
 * Workspace benchmarks on a 100,000-file tree (issue 4):
 *
 * 1. **Diff time with 10 changed files** against `git status --porcelain` on the same tree and
 *    machine. agentbox's figure is the whole path from "the command ended" to classified entries:
 *    the `changes.start` request, the guest's scan of the upper layer, the transfer, storing and
 *    classifying. git's is run on a host copy of the tree with the same 10 changes (index warm).
 * 2. **Share set-up time**, cold (no cached lower image: baseline + `mkfs.erofs` + upper disk) and
 *    warm (the tree unchanged since the last session: baseline + cache hit + upper disk).
 *
 * Run: deno run -A tests/bench/workspace.ts [RUNS]   (default 5; medians reported)
 *
 * @module
 */

import { startWorkspaceSession } from "../../host/session/workspace_session.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { median } from "./stats.ts";
import { makeFileTree } from "./file_tree.ts";

const FILES = 100_000;
const runs = Number(Deno.args[0] ?? 5);
const work = await Deno.makeTempDir({ prefix: "agentbox-bench-ws-" });
const tree = `${work}/tree`;
const cache = `${work}/cache`;

/** 100 directories of 1,000 small files, committed to git. */
async function makeTree(root: string): Promise<void> {
  makeFileTree(root, FILES);
  await sh(
    root,
    "git init -q && git config gc.auto 0 && git add -A && git -c user.email=b@x -c user.name=b commit -qm t && git gc -q",
  );
}

/** The 10 changes, as a shell script: edits, adds, deletes, a chmod, in several directories. */
const CHANGES = [
  "echo edit >> src/d1/f1.txt",
  "echo edit >> src/d50/f10.txt",
  "echo edit >> src/d99/f999.txt",
  "echo new > src/d2/new1.txt",
  "echo new > src/d3/new2.txt",
  "mkdir -p src/newdir && echo new > src/newdir/new3.txt",
  "rm src/d4/f4.txt",
  "rm src/d5/f5.txt",
  "chmod +x src/d6/f6.txt",
  "echo edit > src/d7/f7.txt",
].join(" && ");

async function sh(cwd: string, script: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${script}: exit ${out.code}`);
  return new TextDecoder().decode(out.stdout);
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await fn();
  return [performance.now() - start, value];
}

console.error(`building a ${FILES}-file tree in ${tree}`);
await makeTree(tree);
const gitCopy = `${work}/git-copy`;
await sh(
  work,
  `cp -a tree git-copy && cd git-copy && ${CHANGES} && git status --porcelain >/dev/null`,
);

const cold: number[] = [];
const warm: number[] = [];
const collect: number[] = [];
const git: number[] = [];
for (let run = 0; run < runs; run++) {
  await Deno.remove(cache, { recursive: true }).catch(() => {});
  const [coldMs] = await timed(() =>
    startWorkspaceSession(tree, `${work}/s-cold-${run}`, { cacheDir: cache })
  );
  const [warmMs, session] = await timed(() =>
    startWorkspaceSession(tree, `${work}/s-warm-${run}`, { cacheDir: cache })
  );
  cold.push(coldMs);
  warm.push(warmMs);

  const vm = await bootVm({ workspace: session.share });
  let collectMs: number;
  try {
    const run = vm.agent.exec({ argv: ["sh", "-c", CHANGES], cwd: "/workspace" });
    await Promise.all([run.stdout.cancel(), run.stderr.cancel()]);
    if ((await run.result).code !== 0) throw new Error("the changes failed in the guest");
    const [ms, changes] = await timed(() => session.collect(vm.agent));
    if (changes.entries.length < 10) throw new Error(`only ${changes.entries.length} changes`);
    collectMs = ms;
    collect.push(ms);
  } finally {
    await vm.stop();
  }
  const [gitMs] = await timed(() => sh(gitCopy, "git status --porcelain"));
  git.push(gitMs);
  console.error(
    `run ${run + 1}: cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms, ` +
      `collect ${collectMs.toFixed(0)} ms, git status ${gitMs.toFixed(0)} ms`,
  );
}

const fmt = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");
console.log(`| measure | median | runs |
| --- | --- | --- |
| share set-up, cold | ${median(cold).toFixed(0)} ms | ${fmt(cold)} |
| share set-up, warm | ${median(warm).toFixed(0)} ms | ${fmt(warm)} |
| agentbox diff (collect + classify), 10 changes | ${median(collect).toFixed(0)} ms | ${
  fmt(collect)
} |
| git status --porcelain, same changes | ${median(git).toFixed(0)} ms | ${fmt(git)} |
| ratio agentbox / git | ${(median(collect) / median(git)).toFixed(2)} | |`);
await Deno.remove(work, { recursive: true });
