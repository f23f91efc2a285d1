import assert from "node:assert/strict";
import { approvalGate, type ApprovalOutcome } from "./approval_gate.ts";
import {
  answerApproval,
  cliDecider,
  listApprovals,
  queueApprover,
  TIMEOUT_DECIDER,
} from "./approvals.ts";
import { openContext } from "./context.ts";
import type { SandboxEvent } from "./events.ts";
import { AgentboxError } from "./errors.ts";
import { openDatabase } from "../store/database.ts";
import { createSession } from "../store/sessions.ts";

const request = (host: string) => ({ host, port: 443, rule: `gray "${host}" (t.toml)` });

/** A gate whose asker answers from `answers` in order, counting the questions per host. */
function scripted(answers: ApprovalOutcome[], allowAlways = (_host: string) => Promise.resolve()) {
  const asked: string[] = [];
  const approve = approvalGate(async (req, settle) => {
    asked.push(req.host);
    await new Promise((r) => setTimeout(r, 5));
    return await settle(answers.shift() ?? "timeout");
  }, { allowAlways });
  return { approve, asked };
}

Deno.test("gate: once asks again; deny and timeout refuse; session stops asking for that host", async () => {
  const { approve, asked } = scripted(["once", "deny", "timeout", "session"]);
  assert.equal(await approve(request("a.test")), true);
  assert.equal(await approve(request("a.test")), false);
  assert.equal(await approve(request("a.test")), false);
  assert.equal(await approve(request("a.test")), true);
  assert.equal(await approve(request("a.test")), true);
  assert.deepEqual(asked, ["a.test", "a.test", "a.test", "a.test"]);
});

Deno.test("gate: one question per host at a time; a session answer settles the queued ones", async () => {
  const { approve, asked } = scripted(["session", "deny"]);
  const results = await Promise.all([
    approve(request("a.test")),
    approve(request("a.test")),
    approve(request("b.test")),
    approve(request("a.test")),
  ]);
  assert.deepEqual(results, [true, true, false, true]);
  assert.deepEqual(asked.sort(), ["a.test", "b.test"]);
});

Deno.test("gate: always saves; a failed save counts as session; a broken asker denies", async () => {
  const saved: string[] = [];
  const ok = scripted(["always"], (host) => Promise.resolve(void saved.push(host)));
  assert.equal(await ok.approve(request("a.test")), true);
  assert.equal(await ok.approve(request("a.test")), true);
  assert.deepEqual([saved, ok.asked], [["a.test"], ["a.test"]]);

  const outcomes: string[] = [];
  const failing = approvalGate(async (_req, settle) => {
    const settled = await settle("always");
    outcomes.push(`${settled.outcome}:${settled.saveError?.message}`);
    return settled;
  }, { allowAlways: () => Promise.reject(new Error("read-only file system")) });
  assert.equal(await failing(request("a.test")), true);
  assert.equal(await failing(request("a.test")), true);
  assert.deepEqual(outcomes, ["session:read-only file system"]);

  const broken = approvalGate(() => Promise.reject(new Error("terminal gone")), {
    allowAlways: () => Promise.resolve(),
  });
  assert.equal(await broken(request("a.test")), false);
});

/** Two connections on one real database file, as the owner and `agentbox approve` have. */
async function withQueue(
  fn: (parts: {
    owner: ReturnType<typeof openContext>;
    answerer: ReturnType<typeof openContext>;
    session: string;
    dir: string;
    events: SandboxEvent[];
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const events: SandboxEvent[] = [];
  const owner = openContext({
    db: openDatabase(`${dir}/agentbox.db`),
    onEvent: (e) => events.push(e),
  });
  const answerer = openContext({ db: openDatabase(`${dir}/agentbox.db`) });
  try {
    const { id: session } = createSession(owner.db, { project: dir });
    await fn({ owner, answerer, session, dir, events });
  } finally {
    owner.db.close();
    answerer.db.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The pending approval for `host`, once it is in the database. */
async function pendingFor(ctx: ReturnType<typeof openContext>, host: string) {
  for (let i = 0; i < 500; i++) {
    const found = listApprovals(ctx, { pending: true }).find((a) => a.host === host);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no pending approval for ${host}`);
}

Deno.test("queue: a question waits for the answer another connection writes; who decided is kept", async () => {
  await withQueue(async ({ owner, answerer, session, events }) => {
    const queue = queueApprover(owner, session, { projectDir: "/nonexistent", pollMs: 20 });
    try {
      const first = queue.approve(request("a.test"));
      const asked = await pendingFor(answerer, "a.test");
      assert.equal(asked.session, session);
      assert.equal(asked.state, "pending");
      assert.ok(asked.deadline - asked.askedAt >= 29_000);
      assert.equal(events.filter((e) => e.type === "approval").length, 1);
      const answered = answerApproval(answerer, asked.id, "once", "token:ci");
      assert.equal(answered.decidedBy, "token:ci");
      assert.equal(await first, true);

      const second = queue.approve(request("a.test"));
      const again = await pendingFor(answerer, "a.test");
      assert.notEqual(again.id, asked.id);
      answerApproval(answerer, again.id, "deny", cliDecider());
      assert.equal(await second, false);

      // A session answer settles what queued behind it and what comes later, without rows.
      const third = queue.approve(request("b.test"));
      const fourth = queue.approve(request("b.test"));
      answerApproval(answerer, (await pendingFor(answerer, "b.test")).id, "session", "token:ci");
      assert.deepEqual(await Promise.all([third, fourth, queue.approve(request("b.test"))]), [
        true,
        true,
        true,
      ]);
      const all = listApprovals(answerer, { session });
      assert.deepEqual(all.map((a) => [a.host, a.decision, a.state]), [
        ["b.test", "session", "decided"],
        ["a.test", "deny", "decided"],
        ["a.test", "once", "decided"],
      ]);
      assert.match(all[1].decidedBy ?? "", /^cli:/);
      assert.ok(all.every((a) => a.decidedAt !== null && a.decidedAt >= a.askedAt));
    } finally {
      queue.close();
    }
  });
});

Deno.test("queue: no answer by the deadline denies, recorded as timeout; late answers are refused", async () => {
  await withQueue(async ({ owner, answerer, session }) => {
    const queue = queueApprover(owner, session, {
      projectDir: "/nonexistent",
      timeoutMs: 300,
      pollMs: 20,
    });
    try {
      const started = Date.now();
      assert.equal(await queue.approve(request("slow.test")), false);
      assert.ok(Date.now() - started >= 300);
      const [row] = listApprovals(answerer, { session });
      assert.deepEqual([row.decision, row.decidedBy, row.state], [
        "timeout",
        TIMEOUT_DECIDER,
        "decided",
      ]);
      assert.throws(
        () => answerApproval(answerer, row.id, "once", "cli:late"),
        (e: AgentboxError) => e.code === "approval_decided" && e.kind === "conflict",
      );
    } finally {
      queue.close();
    }
  });
});

Deno.test("answerApproval: unknown id, bad decision or decider, expired, answered twice", async () => {
  await withQueue(async ({ owner, answerer, session }) => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return `${(error as AgentboxError).kind}/${(error as AgentboxError).code}`;
      }
      return "no error";
    };
    assert.equal(
      code(() => answerApproval(answerer, 999, "once", "cli:x")),
      "not_found/approval_unknown",
    );
    // An owner that died leaves a row past its deadline: answering it says it expired.
    const queue = queueApprover(owner, session, {
      projectDir: "/x",
      timeoutMs: 60_000,
      pollMs: 20,
    });
    const held = queue.approve(request("c.test"));
    const row = await pendingFor(answerer, "c.test");
    assert.equal(
      code(() => answerApproval(answerer, row.id, "yes", "cli:x")),
      "usage/approval_invalid",
    );
    assert.equal(
      code(() => answerApproval(answerer, row.id, "once", "")),
      "usage/approval_invalid",
    );
    assert.equal(
      code(() => answerApproval(answerer, row.id, "once", "cli:\x1b[2J")),
      "usage/approval_invalid",
    );
    answerer.db.prepare("UPDATE approvals SET deadline = ? WHERE id = ?").run(
      Date.now() - 1,
      row.id,
    );
    assert.equal(listApprovals(answerer, { session })[0].state, "expired");
    assert.equal(
      code(() => answerApproval(answerer, row.id, "once", "cli:x")),
      "state/approval_expired",
    );
    assert.equal(await held, false);
    assert.equal(
      code(() => answerApproval(answerer, row.id, "once", "cli:x")),
      "conflict/approval_decided",
    );
    assert.equal(
      code(() => listApprovals(answerer, { session: "nope" })),
      "not_found/session_unknown",
    );
    queue.close();
  });
});

Deno.test("queue: always writes the project's allowlist; close denies what still waits", async () => {
  await withQueue(async ({ owner, answerer, session, dir }) => {
    const project = `${dir}/project`;
    await Deno.mkdir(project);
    const queue = queueApprover(owner, session, { projectDir: project, pollMs: 20 });
    const first = queue.approve(request("keep.test"));
    answerApproval(answerer, (await pendingFor(answerer, "keep.test")).id, "always", "token:ops");
    assert.equal(await first, true);
    assert.match(await Deno.readTextFile(`${project}/.agentbox.toml`), /keep\.test/);
    const waiting = queue.approve(request("left.test"));
    await pendingFor(answerer, "left.test");
    queue.close();
    assert.equal(await waiting, false);
    const left = listApprovals(answerer, { session }).find((a) => a.host === "left.test")!;
    assert.deepEqual([left.decision, left.decidedBy], ["timeout", TIMEOUT_DECIDER]);
  });
});
