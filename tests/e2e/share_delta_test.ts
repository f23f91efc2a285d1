/**
 * Shares that cost what changed (issue 21, goal 3): after a change to the project, the next
 * session's lower disk is the previous image plus a delta layer (host/workspace/share_layers.ts).
 * Real VMs check that the guest sees exactly the host's new tree — edits, additions, deletions, a
 * replaced directory, a directory that became a file — that diff and apply work over the
 * layers, that the layers are compacted when they pile up, and that concurrent sessions build a
 * layer once.
 */
import assert from "node:assert/strict";
import {
  cli,
  hostListing,
  shareSandbox as sandbox,
  TREE_LISTING as SNAPSHOT,
} from "./share_sandbox.ts";
import { NO_DELTA_LAYERS, readChain } from "../../host/workspace/share_layers.ts";
import { findImage } from "../../image/store.ts";
import { shareCacheKey } from "../../host/workspace/share.ts";
import { startWorkspaceSession } from "../../host/session/workspace_session.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { sandbox as sessionSandbox } from "./session_sandbox.ts";

async function sh(cwd: string, script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** The layers of the project's cached lower disk. */
async function layers(cache: string, project: string) {
  const root = await Deno.realPath(project);
  const chain = await readChain(`${cache}/agentbox/shares/${shareCacheKey(root)}`);
  assert.ok(chain, "no chain.json");
  return chain;
}

const START = [
  "mkdir -p keep/deep gone/sub swap/inner tofile",
  "echo keep > keep/deep/k.txt",
  "echo one > edit.txt",
  "echo bye > gone/sub/g.txt && echo bye > gone/top.txt",
  "echo old-x > swap/x.txt && echo old-y > swap/inner/y.txt",
  "echo f > tofile/f.txt",
  "echo m > mode.txt",
  "echo d > del.txt",
  "ln -s keep/deep/k.txt link",
  // Enough unchanged files that the change is a small part of the tree (else it is packed whole).
  "for i in $(seq 200); do echo $i > keep/f$i.txt; done",
].join(" && ");

/** Edits, additions, deletions, a replaced directory, a directory that became a file. */
const CHANGE = [
  "echo two >> edit.txt",
  "rm -r gone del.txt",
  "rm -r swap && mkdir -p swap/other && echo new-x > swap/x.txt && echo z > swap/other/z.txt",
  "rm -r tofile && echo now-a-file > tofile",
  "chmod 600 mode.txt",
  "mkdir -p added/nested && echo added > added/nested/a.txt",
  "rm link && ln -s edit.txt link",
].join(" && ");

Deno.test("share delta: the second session sees exactly the new tree, and diff/apply work over the layers", async () => {
  const s = await sandbox();
  try {
    await sh(s.project, START);
    const first = await cli(["exec", "--share", s.project, "--discard", "--", "true"], s.env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await layers(s.cache, s.project)).layers.length, 1);

    await sh(s.project, CHANGE);
    // The guest replaces swap/ too: an opaque directory over one that spans two lower layers.
    const guestChange = "echo guest >> keep/deep/k.txt && rm edit.txt && " +
      "rm -r swap && mkdir swap && echo q > swap/q.txt";
    const second = await cli([
      "exec",
      "--share",
      s.project,
      "--json",
      "--",
      "sh",
      "-c",
      `${SNAPSHOT}; echo ===; ${guestChange} && ${SNAPSHOT}`,
    ], s.env);
    assert.equal(second.code, 0, second.stderr);
    const chain = await layers(s.cache, s.project);
    assert.equal(chain.layers.length, 2, "the change became one delta layer");
    assert.ok(chain.layers[1].bytes < chain.layers[0].bytes * 4, JSON.stringify(chain));
    const report = JSON.parse(second.stdout);
    const [before, after] = (await Deno.readTextFile(report.output.stdout)).split("===\n");
    // The guest saw the host's tree as it is now: nothing of the old swap/ or tofile/, no gone/.
    assert.equal(before, await hostListing(s.project));
    assert.doesNotMatch(before, /swap\/inner|old-|gone|tofile\/f\.txt|del\.txt/);

    const changes = report.changes.entries.map((e: { path: string; status: string }) =>
      `${e.status} ${e.path}`
    );
    assert.deepEqual(changes.sort(), [
      "added swap/q.txt",
      "deleted edit.txt",
      "deleted swap/other",
      "deleted swap/other/z.txt",
      "deleted swap/x.txt",
      "modified keep/deep/k.txt",
    ]);
    const apply = await cli(["apply", report.session, "--allow-symlinks"], s.env);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.equal(await hostListing(s.project), after);
  } finally {
    await s.cleanup();
  }
});

Deno.test("share delta: two sessions started at once after a change build the layer once", async () => {
  const s = await sandbox();
  try {
    await sh(s.project, START);
    const first = await cli(["exec", "--share", s.project, "--discard", "--", "true"], s.env);
    assert.equal(first.code, 0, first.stderr);
    await sh(s.project, CHANGE);
    const runs = await Promise.all(
      [1, 2].map(() =>
        cli(["exec", "--share", s.project, "--discard", "--", "sh", "-c", SNAPSHOT], s.env)
      ),
    );
    const expected = await hostListing(s.project);
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, expected);
    }
    assert.equal((await layers(s.cache, s.project)).layers.length, 2);
  } finally {
    await s.cleanup();
  }
});

Deno.test("share delta: after K changes the layers are compacted, and every session's view is exact", async () => {
  const s = await sandbox();
  try {
    await sh(s.project, START);
    const limits = { maxDeltas: 2, maxShare: 0.5 };
    const counts: number[] = [];
    const steps = [
      "",
      "echo a >> edit.txt",
      "rm -r gone && mkdir gone && echo back > gone/top.txt",
      "rm keep/f1.txt && echo b >> keep/f2.txt",
      "echo c > new.txt",
    ];
    for (const [i, step] of steps.entries()) {
      if (step) await sh(s.project, step);
      const ws = await startWorkspaceSession(s.project, `${s.base}/session-${i}`, {
        cacheDir: `${s.cache}/shares`,
        layers: limits,
        upperBytes: 64 * 1024 ** 2,
      });
      const vm = await bootVm({ workspace: ws.share });
      try {
        const run = vm.agent.exec({ argv: ["sh", "-c", SNAPSHOT], cwd: "/workspace" });
        const [stdout] = await Promise.all([new Response(run.stdout).text(), run.stderr.cancel()]);
        assert.equal((await run.result).code, 0);
        assert.equal(stdout, await hostListing(s.project), `step ${i}: ${step}`);
      } finally {
        await vm.stop();
      }
      const chain = await readChain(`${s.cache}/shares/${shareCacheKey(ws.share.root)}`);
      counts.push(chain!.layers.length);
      assert.equal(ws.share.lowerLayers.length, chain!.layers.length - 1);
    }
    // Full image, two deltas, then the third change compacts (a new image), then a delta on it.
    assert.deepEqual(counts, [1, 2, 3, 1, 2]);
  } finally {
    await s.cleanup();
  }
});

Deno.test("share delta: a detached session started over a delta restarts over the same layers", async () => {
  await using s = await sessionSandbox();
  await sh(s.project, START);
  const first = await s.cli(["exec", "--share", s.project, "--discard", "--", "true"]);
  assert.equal(first.code, 0, first.stderr);
  await sh(s.project, CHANGE);
  const expected = await hostListing(s.project);
  const started = await s.cli(["run", "--detach", "--name", "keep"]);
  assert.equal(started.code, 0, started.stderr);
  assert.equal((await layers(`${s.root}/cache`, s.project)).layers.length, 2);
  const seen = await s.cli(["exec", "--session", "keep", "--", "sh", "-c", SNAPSHOT]);
  assert.equal(seen.stdout, expected, seen.stderr);
  // The project changes again and another session adds a layer to the same file meanwhile.
  await sh(s.project, "echo more >> edit.txt");
  const other = await s.cli(["exec", "--share", s.project, "--discard", "--", "true"]);
  assert.equal(other.code, 0, other.stderr);
  assert.equal((await layers(`${s.root}/cache`, s.project)).layers.length, 3);
  assert.equal((await s.cli(["stop", "keep"])).code, 0);
  const again = await s.cli(["start", "keep"]);
  assert.equal(again.code, 0, again.stderr);
  const after = await s.cli(["exec", "--session", "keep", "--", "sh", "-c", SNAPSHOT]);
  assert.equal(after.stdout, expected, after.stderr);
  assert.equal((await s.cli(["stop", "keep"])).code, 0);
  assert.equal((await s.cli(["rm", "keep"])).code, 0);
});

Deno.test("share delta: an image from before delta layers gets full images, and refuses layers", async () => {
  const s = await sandbox();
  try {
    await sh(s.project, START);
    const options = {
      cacheDir: `${s.cache}/shares`,
      upperBytes: 64 * 1024 ** 2,
      layers: NO_DELTA_LAYERS,
    };
    await startWorkspaceSession(s.project, `${s.base}/s1`, options);
    await sh(s.project, CHANGE);
    const again = await startWorkspaceSession(s.project, `${s.base}/s2`, options);
    assert.equal(again.share.build, "packed");
    assert.deepEqual(again.share.lowerLayers, []);

    const image = await findImage("default");
    const old = { ...image, manifest: { ...image.manifest, modules: ["erofs", "overlay"] } };
    await assert.rejects(
      bootVm({ image: old, workspace: { ...again.share, lowerLayers: [1 << 20] } }),
      (error: Error & { code?: string }) =>
        error.code === "image_outdated" && /agentbox images build default/.test(error.message),
    );
  } finally {
    await s.cleanup();
  }
});
