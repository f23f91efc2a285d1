import assert from "node:assert/strict";
import { queueApprover } from "../api/approvals.ts";
import { openContext } from "../api/context.ts";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { takeTestBaseline, writeChangeset, writeTree } from "../workspace/testing/test_tree.ts";
import { serveApp } from "./app.ts";

const TOKEN = { name: "ci", token: `abx_${"A".repeat(43)}`, createdAt: 0 };
const AUTH = { authorization: `Bearer ${TOKEN.token}`, "content-type": "application/json" };

/** The server's app on a real database in a private state directory, and the queue's owner. */
async function withServer(
  fn: (parts: {
    request: (path: string, init?: RequestInit) => Promise<Response>;
    owner: ReturnType<typeof openContext>;
    session: string;
    root: string;
  }) => Promise<void>,
): Promise<void> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "serve-decisions-" }));
  const saved = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", `${base}/state`);
  const dbPath = `${base}/state/agentbox/agentbox.db`;
  const owner = openContext({ db: openDatabase(dbPath) });
  const server = openContext({ db: openDatabase(dbPath) });
  try {
    const root = `${base}/project`;
    await Deno.mkdir(root);
    await writeTree(root, { "a.txt": "a\n" });
    const session = createSession(owner.db, { project: root }).id;
    const paths = changesetPaths(`${base}/state/agentbox/sessions/${session}`);
    await Deno.mkdir(paths.blobs, { recursive: true });
    await Deno.writeTextFile(paths.baseline, JSON.stringify(await takeTestBaseline(root)));
    const records = await writeChangeset(paths.blobs, [
      { path: "a.txt", type: "file", content: "A\n" },
      { path: "b.txt", type: "file", content: "B\n" },
    ]);
    await Deno.writeTextFile(paths.records, JSON.stringify(records));
    const { app } = serveApp({
      ctx: server,
      auth: { kind: "token", tokens: () => Promise.resolve([TOKEN]) },
      defaultProject: root,
    });
    const request = (path: string, init: RequestInit = {}) =>
      Promise.resolve(app.request(path, { ...init, headers: { ...AUTH, ...init.headers } }));
    await fn({ request, owner, session, root });
  } finally {
    owner.db.close();
    server.db.close();
    if (saved === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", saved);
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test("serve: an approval is listed, answered as the token's name, and the held connection proceeds", async () => {
  await withServer(async ({ request, owner, session }) => {
    const queue = queueApprover(owner, session, { projectDir: "/nonexistent", pollMs: 20 });
    try {
      const held = queue.approve({ host: "gray.test", port: 443, rule: "gray" });
      let listed: { approvals: { id: number; host: string; state: string }[] } = { approvals: [] };
      while (listed.approvals.length === 0) {
        const res = await request(`/v1/approvals?session=${session}`);
        assert.equal(res.status, 200);
        listed = await res.json();
      }
      const [pending] = listed.approvals;
      assert.deepEqual([pending.host, pending.state], ["gray.test", "pending"]);
      const bad = await request(`/v1/approvals/${pending.id}`, {
        method: "POST",
        body: JSON.stringify({ decision: "yes" }),
      });
      assert.equal(bad.status, 400);
      const answered = await request(`/v1/approvals/${pending.id}`, {
        method: "POST",
        body: JSON.stringify({ decision: "session" }),
      });
      assert.equal(answered.status, 200);
      assert.equal((await answered.json()).decidedBy, "ci");
      assert.equal(await held, true);
      const again = await request(`/v1/approvals/${pending.id}`, {
        method: "POST",
        body: JSON.stringify({ decision: "deny" }),
      });
      assert.equal(again.status, 409);
      assert.equal((await again.json()).error.code, "approval_decided");
      const unknown = await request("/v1/approvals/9999", {
        method: "POST",
        body: JSON.stringify({ decision: "once" }),
      });
      assert.equal(unknown.status, 404);
      const noToken = await Promise.resolve(
        serveApp({
          ctx: owner,
          auth: { kind: "token", tokens: () => Promise.resolve([TOKEN]) },
          defaultProject: "/",
        }).app.request("/v1/approvals"),
      );
      assert.equal(noToken.status, 401);
    } finally {
      queue.close();
    }
  });
});

Deno.test("serve: a review is submitted, listed, and accepted as the token's name", async () => {
  await withServer(async ({ request, session, root }) => {
    const submitted = await request(`/v1/sandboxes/${session}/changes/review`, {
      method: "POST",
      body: JSON.stringify({ paths: ["b.txt"] }),
    });
    assert.equal(submitted.status, 201, await submitted.clone().text());
    const review = await submitted.json();
    assert.deepEqual(review.planned.map((p: { path: string }) => p.path), ["b.txt"]);
    assert.equal(review.submittedBy, "ci");
    await assert.rejects(Deno.stat(`${root}/b.txt`), Deno.errors.NotFound, "held");
    const listed = await (await request("/v1/reviews")).json();
    assert.deepEqual(listed.reviews.map((r: { id: number }) => r.id), [review.id]);
    const accepted = await request(`/v1/reviews/${review.id}`, {
      method: "POST",
      body: JSON.stringify({ decision: "accept" }),
    });
    assert.equal(accepted.status, 200);
    const body = await accepted.json();
    assert.deepEqual([body.review.state, body.review.decidedBy, body.applied.counts.applied], [
      "accepted",
      "ci",
      1,
    ]);
    assert.equal(await Deno.readTextFile(`${root}/b.txt`), "B\n");
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "a\n", "only the reviewed path");
  });
});
