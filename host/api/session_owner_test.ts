import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { type InProcessVm, startInProcessVm } from "../vm/testing/in_process_vm.ts";
import { openContext } from "./context.ts";
import { ownSession, parseDetachedPlan } from "./session_owner.ts";
import { UsageError } from "../agentbox_error.ts";
import { AgentClient } from "../channel/agent_client.ts";

/**
 * An owner of a session whose first command is `argv`, over an in-process VM, in a temporary
 * directory; `stopped` is its stop request. Disposing of it stops the VMs and removes it all.
 */
async function owner(argv: string[], stopped: Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-owner-test-" });
  Deno.env.set("XDG_CONFIG_HOME", `${dir}/config`);
  const vms: InProcessVm[] = [];
  const lines: string[] = [];
  const ctx = openContext({
    db: openDatabase(`${dir}/agentbox.db`),
    onEvent: (e) => lines.push(e.message),
    startVm: async (options) => {
      const vm = await startInProcessVm(options);
      vms.push(vm);
      return vm;
    },
  });
  const plan = parseDetachedPlan({
    id: crypto.randomUUID(),
    spec: { argv, net: "none", projectDir: dir },
    runCommand: true,
  }, "the test");
  await Deno.mkdir(`${dir}/run`);
  await Deno.mkdir(`${dir}/state`);
  const paths = {
    runtime: `${dir}/run`,
    controlSocket: `${dir}/run/ctl.sock`,
    lock: `${dir}/run/owner.lock`,
    plan: `${dir}/run/plan.json`,
    state: `${dir}/state`,
    log: `${dir}/state/owner.log`,
    commandLog: `${dir}/state/command.log`,
  };
  const owned = ownSession(ctx, plan, { paths, stopped });
  owned.catch(() => {});
  return {
    ctx,
    plan,
    paths,
    vms,
    lines,
    owned,
    /** Wait until the first command printed `text`. */
    async printed(text: string) {
      const deadline = Date.now() + 10_000;
      while (!(await Deno.readTextFile(paths.commandLog).catch(() => "")).includes(text)) {
        assert.ok(Date.now() < deadline, `the first command did not print ${text}`);
        await new Promise((f) => setTimeout(f, 20));
      }
    },
    async [Symbol.asyncDispose]() {
      await owned.catch(() => {});
      for (const vm of vms) await vm.stop();
      ctx.db.close();
      Deno.env.delete("XDG_CONFIG_HOME");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("owner: stopping a session whose first command still runs records it stopped", async () => {
  const stop = Promise.withResolvers<void>();
  // `exec sleep` ends on SIGTERM like most commands that set no trap.
  await using o = await owner(["sh", "-c", "echo started; exec sleep 600"], stop.promise);
  await o.printed("started");
  assert.equal(findLifecycle(o.ctx.db, o.plan.id)?.status, "running");
  stop.resolve();
  // The VM stops under the running command: nothing may escape as an unhandled rejection.
  await o.owned;
  assert.equal(findLifecycle(o.ctx.db, o.plan.id)?.status, "stopped");
  assert.equal((await o.vms[0].exited).code, 0);
  assert.ok(o.lines.some((l) => /session stopped/.test(l)), o.lines.join("\n"));
  assert.ok(o.lines.some((l) => /ended: .*"signal":"SIGTERM"/.test(l)), o.lines.join("\n"));
});

Deno.test("owner: a plan that is not a plan is a usage error naming the file and the field", () => {
  const bad = [
    [{}, /id/],
    [{ id: "x", spec: {}, runCommand: true }, /id: is not a session id/],
    [{
      id: "0f3c2a9e-0000-4000-8000-000000000000",
      spec: { argv: ["sh"], projectDir: "relative" },
      runCommand: false,
    }, /spec\.projectDir/],
    [{
      id: "0f3c2a9e-0000-4000-8000-000000000000",
      spec: { argv: ["sh"], projectDir: "/p", share: "/etc", extra: 1 },
      runCommand: false,
    }, /extra|Unrecognized/],
  ] as const;
  for (const [value, pattern] of bad) {
    assert.throws(
      () => parseDetachedPlan(value, "/run/plan.json"),
      (e) =>
        e instanceof UsageError && e.code === "plan_invalid" &&
        /\/run\/plan\.json/.test(e.message) &&
        pattern.test(e.message),
      JSON.stringify(value),
    );
  }
});

Deno.test("owner: --yes reaches a detached session's plan; without it learn mode writes nothing", () => {
  const base = {
    id: "0f3c2a9e-0000-4000-8000-000000000000",
    spec: { argv: ["sh"], projectDir: "/p", net: "learn" },
    runCommand: false,
  };
  assert.equal(parseDetachedPlan(base, "plan.json").learnYes, false);
  assert.equal(parseDetachedPlan({ ...base, learnYes: true }, "plan.json").learnYes, true);
});

Deno.test("owner: stop gives the commands SIGTERM and time; the trap runs and is logged as an end", async () => {
  await using o = await owner([
    "sh",
    "-c",
    'trap "echo trapped; exit 7" TERM; echo started; while :; do sleep 0.1; done',
  ], new Promise(() => {}));
  await o.printed("started");
  // A client connected meanwhile runs a command that traps SIGTERM too.
  const connect = async () =>
    await AgentClient.connect(
      await Deno.connect({ transport: "unix", path: o.paths.controlSocket }),
    );
  const client = await connect();
  const other = client.exec({
    argv: [
      "sh",
      "-c",
      'trap "echo other-trapped; exit 5" TERM; echo up; while :; do sleep 0.1; done',
    ],
  });
  const reader = other.stdout.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "up\n");
  const stopper = await connect();
  await stopper.stopSession(5_000);
  stopper.close();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "other-trapped\n");
  assert.equal((await other.result).code, 5);
  await o.owned;
  client.close();
  assert.equal(findLifecycle(o.ctx.db, o.plan.id)?.status, "stopped");
  assert.match(await Deno.readTextFile(o.paths.commandLog), /trapped/);
  assert.ok(o.lines.some((l) => /command "sh" ended: \{"code":7/.test(l)), o.lines.join("\n"));
  assert.ok(!o.lines.some((l) => /did not finish/.test(l)), o.lines.join("\n"));
});
