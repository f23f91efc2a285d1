import assert from "node:assert/strict";
import { AgentClient } from "../channel/agent_client.ts";
import { openDatabase } from "../store/database.ts";
import { type InProcessVm, startInProcessVm } from "../vm/testing/in_process_vm.ts";
import type { AuditEvent } from "../audit/audit_event.ts";
import type { AuditSink } from "../audit/sink_queue.ts";
import { AuditEventSchema } from "./audit_schema.ts";
import { auditedApprover, emitAudit, openAuditLog, sessionAuditor } from "./audit.ts";
import { openContext } from "./context.ts";
import { runSandbox, startSandbox } from "./sandbox.ts";
import { parseSandboxSpec } from "./sandbox_spec.ts";
import { ownSession, parseDetachedPlan } from "./session_owner.ts";
import { removeSessions } from "./sessions.ts";

const text = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

/** A context whose VMs are in-process agents and whose audit log also feeds `events`. */
async function harness(configToml = "") {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-audit-test-" });
  const vms: InProcessVm[] = [];
  const events: AuditEvent[] = [];
  const warnings: string[] = [];
  const memory: AuditSink = {
    name: "memory",
    deliver: (batch) => Promise.resolve(void events.push(...batch)),
    close: () => Promise.resolve(),
  };
  await Deno.mkdir(`${dir}/config/agentbox`, { recursive: true });
  await Deno.writeTextFile(`${dir}/config/agentbox/config.toml`, configToml);
  Deno.env.set("XDG_CONFIG_HOME", `${dir}/config`);
  const onEvent = (e: { type: string; message: string }) => {
    if (e.type === "warning") warnings.push(e.message);
  };
  const ctx = openContext({
    db: openDatabase(`${dir}/agentbox.db`),
    onEvent,
    audit: openAuditLog({ onWarning: (m) => warnings.push(m), sinks: [memory] }),
    actor: "token:ci",
    startVm: async (options) => {
      const vm = await startInProcessVm(options);
      vms.push(vm);
      return vm;
    },
  });
  return {
    dir,
    ctx,
    events,
    warnings,
    spec: (extra: Record<string, unknown> = {}) =>
      parseSandboxSpec({ argv: ["true"], net: "none", projectDir: dir, ...extra }, "the test"),
    async [Symbol.asyncDispose]() {
      await ctx.flush();
      for (const vm of vms) await vm.stop();
      Deno.env.delete("XDG_CONFIG_HOME");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("audit: a one-shot sandbox leaves created, started, exec started/finished, stopped — valid, one session, one actor", async () => {
  await using h = await harness();
  const run = await runSandbox(
    h.ctx,
    h.spec({ argv: ["sh", "-c", "echo secret-output; exit 3"] }),
    async (box) => {
      const handle = box.exec(box.command());
      const [out] = await Promise.all([text(handle.stdout), text(handle.stderr)]);
      assert.equal(out, "secret-output\n");
      return await handle.result;
    },
  );
  await h.ctx.audit!.close();
  const types = h.events.map((e) => e.type);
  assert.deepEqual(types, [
    "sandbox.created",
    "sandbox.started",
    "exec.started",
    "exec.finished",
    "sandbox.stopped",
  ]);
  for (const event of h.events) {
    assert.deepEqual(AuditEventSchema.parse(event), event);
    assert.equal(event.session.id, run.id);
    assert.equal(event.actor, "token:ci");
  }
  assert.equal(new Set(h.events.map((e) => e.id)).size, 5);
  const [, , started, finished] = h.events;
  assert.ok(started.type === "exec.started" && finished.type === "exec.finished");
  assert.deepEqual(started.exec, finished.exec);
  assert.deepEqual(started.exec.argv, ["sh", "-c", "echo secret-output; exit 3"]);
  assert.equal(finished.exitCode, 3);
  assert.ok(!JSON.stringify(h.events).includes("secret-output\n"), "never the output");
  assert.deepEqual(h.warnings, []);
});

Deno.test("audit: an invalid [audit] table refuses to start a sandbox, before anything starts", async () => {
  await using h = await harness('[audit.file]\npath = "relative.jsonl"\n');
  await assert.rejects(
    startSandbox(h.ctx, h.spec()),
    (e: Error & { code?: string }) =>
      e.code === "config_invalid" && /audit\.file\.path/.test(e.message),
  );
  assert.deepEqual(h.events, []);
});

Deno.test("audit: a detached session audits its clients' commands (by the owner, for its creator), its stop and its removal", async () => {
  await using h = await harness();
  const stop = Promise.withResolvers<void>();
  const plan = parseDetachedPlan({
    id: crypto.randomUUID(),
    name: "web",
    spec: { argv: ["true"], net: "none", projectDir: h.dir },
    runCommand: false,
    createdBy: "ci-token",
  }, "the test");
  await Deno.mkdir(`${h.dir}/run`);
  await Deno.mkdir(`${h.dir}/state`);
  const paths = {
    runtime: `${h.dir}/run`,
    controlSocket: `${h.dir}/run/ctl.sock`,
    lock: `${h.dir}/run/owner.lock`,
    plan: `${h.dir}/run/plan.json`,
    state: `${h.dir}/state`,
    log: `${h.dir}/state/owner.log`,
    commandLog: `${h.dir}/state/command.log`,
  };
  const owned = ownSession(h.ctx, plan, { paths, stopped: stop.promise });
  const deadline = Date.now() + 20_000;
  while (!(await Deno.stat(paths.controlSocket).then(() => true, () => false))) {
    assert.ok(Date.now() < deadline, "the session did not come up");
    await new Promise((r) => setTimeout(r, 20));
  }
  const client = await AgentClient.connect(
    await Deno.connect({ transport: "unix", path: paths.controlSocket }),
  );
  const run = client.exec({ argv: ["sh", "-c", "exit 7"] });
  await Promise.all([text(run.stdout), text(run.stderr)]);
  assert.equal((await run.result).code, 7);
  client.close();
  stop.resolve();
  await owned;
  await removeSessions(h.ctx, ["web"], { force: false });
  await h.ctx.audit!.close();
  assert.deepEqual(h.events.map((e) => e.type), [
    "sandbox.created",
    "sandbox.started",
    "exec.started",
    "exec.finished",
    "sandbox.stopped",
    "sandbox.removed",
  ]);
  for (const event of h.events) {
    assert.deepEqual(event.session, { id: plan.id, name: "web" });
  }
  // The owner acts for whoever created the session (a server's client); rm here for the context's.
  assert.deepEqual(h.events.map((e) => e.actor), [...Array(5).fill("ci-token"), "token:ci"]);
  const finished = h.events[3];
  assert.ok(finished.type === "exec.finished");
  assert.equal(finished.exitCode, 7);
  assert.deepEqual(finished.exec.argv, ["sh", "-c", "exit 7"]);
});

Deno.test("audit: emitAudit never throws, with or without a log", () => {
  emitAudit({}, { type: "sandbox.removed", session: { id: "s" } });
  emitAudit({
    audit: {
      ready: () => Promise.resolve(),
      emit: () => {
        throw new Error("broken sink");
      },
      stats: () => [],
      close: () => Promise.resolve([]),
    },
  }, { type: "sandbox.removed", session: { id: "s" } });
});

Deno.test("audit: an unusable [audit] table met by a lazy emit is one warning, and nothing waits", async () => {
  const warnings: string[] = [];
  const audit = openAuditLog({
    onWarning: (m) => warnings.push(m),
    settings: () => Promise.reject(new Error("Invalid configuration: c.toml, key audit.queue")),
  });
  const ctx = { audit, actor: "cli:me" };
  for (let i = 0; i < 3; i++) emitAudit(ctx, { type: "sandbox.removed", session: { id: "s" } });
  assert.deepEqual(await audit.close(), []);
  emitAudit(ctx, { type: "sandbox.removed", session: { id: "s" } });
  assert.deepEqual(warnings, [
    "audit events are not exported: Invalid configuration: c.toml, key audit.queue",
  ]);
  await assert.rejects(audit.ready(), /key audit\.queue/);
});

Deno.test("audit: events emitted while the settings load are delivered once they are", async () => {
  const got: string[] = [];
  const loaded = Promise.withResolvers<{ queue: number }>();
  const audit = openAuditLog({
    onWarning: () => {},
    settings: () => loaded.promise,
    sinks: [{
      name: "memory",
      deliver: (batch) => Promise.resolve(void got.push(...batch.map((e) => e.session.id))),
      close: () => Promise.resolve(),
    }],
  });
  emitAudit({ audit }, { type: "sandbox.removed", session: { id: "a" } });
  emitAudit({ audit }, { type: "sandbox.removed", session: { id: "b" } });
  loaded.resolve({ queue: 8 });
  const [stats] = await audit.close();
  assert.deepEqual([got, stats.delivered, stats.dropped], [["a", "b"], 2, 0]);
});

Deno.test("audit: a graylist question and its answer are approval.requested and approval.decided", async () => {
  const events: AuditEvent[] = [];
  const audit = openAuditLog({
    onWarning: () => {},
    settings: () => Promise.resolve({ queue: 8 }),
    sinks: [{
      name: "memory",
      deliver: (batch) => Promise.resolve(void events.push(...batch)),
      close: () => Promise.resolve(),
    }],
  });
  const ctx = { audit, actor: "cli:alice" };
  const session = sessionAuditor(ctx, { id: "s1", name: "web" });
  let answer = true;
  const approve = auditedApprover(ctx, () => session, () => Promise.resolve(answer));
  const request = { host: "registry.npmjs.org", port: 443, rule: "gray: registry.npmjs.org" };
  assert.equal(await approve(request), true);
  answer = false;
  assert.equal(await approve(request), false);
  await audit.close();
  assert.deepEqual(
    events.map((e) => [e.type, "decision" in e ? e.decision : null, e.actor, e.session.name]),
    [
      ["approval.requested", null, "cli:alice", "web"],
      ["approval.decided", "allow", "cli:alice", "web"],
      ["approval.requested", null, "cli:alice", "web"],
      ["approval.decided", "deny", "cli:alice", "web"],
    ],
  );
  const decided = events[1];
  assert.ok(decided.type === "approval.decided");
  assert.deepEqual([decided.host, decided.port, decided.rule, decided.by], [
    request.host,
    443,
    request.rule,
    "cli:alice",
  ]);
});
