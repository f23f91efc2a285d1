import assert from "node:assert/strict";
import { openDatabase } from "../store/database.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { type InProcessVm, startInProcessVm } from "../vm/testing/in_process_vm.ts";
import { openContext } from "./context.ts";
import { ownSession, parseDetachedPlan } from "./session_owner.ts";
import { UsageError } from "../agentbox_error.ts";
import { AgentClient } from "../channel/agent_client.ts";

Deno.test("owner: stopping a session whose first command still runs records it stopped", async () => {
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
  try {
    const plan = parseDetachedPlan({
      id: crypto.randomUUID(),
      spec: {
        // `exec sleep` stands in for a command that ignores SIGTERM: it is killed after the grace.
        argv: ["sh", "-c", "echo started; exec sleep 600"],
        net: "none",
        projectDir: dir,
      },
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
    const stop = Promise.withResolvers<void>();
    const owned = ownSession(ctx, plan, { paths, stopped: stop.promise });
    const log = `${dir}/state/command.log`;
    const deadline = Date.now() + 10_000;
    while (!(await Deno.readTextFile(log).catch(() => "")).includes("started")) {
      assert.ok(Date.now() < deadline, "the first command did not start");
      await new Promise((f) => setTimeout(f, 20));
    }
    assert.equal(findLifecycle(ctx.db, plan.id)?.status, "running");
    stop.resolve();
    // The VM stops under the running command: nothing may escape as an unhandled rejection.
    await owned;
    assert.equal(findLifecycle(ctx.db, plan.id)?.status, "stopped");
    assert.equal((await vms[0].exited).code, 0);
    assert.ok(lines.some((l) => /session stopped/.test(l)), lines.join("\n"));
  } finally {
    for (const vm of vms) await vm.stop();
    ctx.db.close();
    Deno.env.delete("XDG_CONFIG_HOME");
    await Deno.remove(dir, { recursive: true });
  }
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
  try {
    const plan = parseDetachedPlan({
      id: crypto.randomUUID(),
      spec: {
        argv: [
          "sh",
          "-c",
          'trap "echo trapped; exit 7" TERM; echo started; while :; do sleep 0.1; done',
        ],
        net: "none",
        projectDir: dir,
      },
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
    const owned = ownSession(ctx, plan, { paths, stopped: new Promise(() => {}) });
    const deadline = Date.now() + 10_000;
    while (!(await Deno.readTextFile(paths.commandLog).catch(() => "")).includes("started")) {
      assert.ok(Date.now() < deadline, "the first command did not start");
      await new Promise((f) => setTimeout(f, 20));
    }
    // A client connected meanwhile runs a command that traps SIGTERM too.
    const client = await AgentClient.connect(
      await Deno.connect({ transport: "unix", path: paths.controlSocket }),
    );
    const other = client.exec({
      argv: [
        "sh",
        "-c",
        'trap "echo other-trapped; exit 5" TERM; echo up; while :; do sleep 0.1; done',
      ],
    });
    const reader = other.stdout.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "up\n");
    const stopper = await AgentClient.connect(
      await Deno.connect({ transport: "unix", path: paths.controlSocket }),
    );
    await stopper.stopSession(5_000);
    stopper.close();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "other-trapped\n");
    assert.equal((await other.result).code, 5);
    await owned;
    client.close();
    assert.equal(findLifecycle(ctx.db, plan.id)?.status, "stopped");
    assert.match(await Deno.readTextFile(paths.commandLog), /trapped/);
    assert.ok(lines.some((l) => /command "sh" ended: \{"code":7/.test(l)), lines.join("\n"));
    assert.ok(!lines.some((l) => /did not finish/.test(l)), lines.join("\n"));
  } finally {
    for (const vm of vms) await vm.stop();
    ctx.db.close();
    Deno.env.delete("XDG_CONFIG_HOME");
    await Deno.remove(dir, { recursive: true });
  }
});
