import assert from "node:assert/strict";
import { AgentError } from "../channel/agent_client.ts";
import { openDatabase } from "../store/database.ts";
import { findSession } from "../store/sessions.ts";
import { VmError } from "../vm/errors.ts";
import { type InProcessVm, startInProcessVm } from "../vm/testing/in_process_vm.ts";
import { openContext } from "./context.ts";
import type { SandboxEvent } from "./events.ts";
import { allowHostForProject, runSandbox, startSandbox } from "./sandbox.ts";
import { parseSandboxSpec } from "./sandbox_spec.ts";

const text = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

/** A context on a private database whose VMs are in-process agents. */
async function harness() {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-api-test-" });
  const vms: InProcessVm[] = [];
  const events: SandboxEvent[] = [];
  const ctx = openContext({
    db: openDatabase(`${dir}/agentbox.db`),
    onEvent: (e) => events.push(e),
    startVm: async (options) => {
      const vm = await startInProcessVm(options);
      vms.push(vm);
      return vm;
    },
  });
  // A user config of its own: the developer's must not decide what the test sees.
  const config = `${dir}/config`;
  await Deno.mkdir(`${config}/agentbox`, { recursive: true });
  Deno.env.set("XDG_CONFIG_HOME", config);
  return {
    dir,
    ctx,
    vms,
    events,
    spec: (extra: Record<string, unknown> = {}) =>
      parseSandboxSpec({ argv: ["true"], net: "none", projectDir: dir, ...extra }, "the test"),
    async [Symbol.asyncDispose]() {
      for (const vm of vms) await vm.stop();
      ctx.db.close();
      Deno.env.delete("XDG_CONFIG_HOME");
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("sandbox: one lifecycle runs a command with the preset's, the user's and the spec's settings", async () => {
  await using h = await harness();
  // A command named like a known agent gets that agent's preset environment.
  const claude = `${h.dir}/claude`;
  await Deno.writeTextFile(claude, '#!/bin/sh\necho "$DISABLE_AUTOUPDATER $MINE $(pwd)"\n', {
    mode: 0o755,
  });
  const spec = h.spec({ argv: [claude], env: { MINE: "mine" }, workdir: "/" });
  let output = "";
  const run = await runSandbox(h.ctx, spec, async (box) => {
    assert.equal(box.defaults.env.DISABLE_AUTOUPDATER, "1");
    const handle = box.exec(box.command());
    const [out, , result] = await Promise.all([
      text(handle.stdout),
      text(handle.stderr),
      handle.result,
    ]);
    output = out;
    return result;
  });
  assert.equal(output, "1 mine /\n");
  assert.deepEqual(run.result, { code: 0, signal: null, timedOut: false });
  assert.equal(run.network.backend, "none");
  assert.equal(run.changes, undefined);
  // The VM is stopped and the session ended, with the project the spec named.
  assert.equal(h.vms.length, 1);
  assert.equal(await h.vms[0].exited.then((e) => e.code), 0);
  const session = findSession(h.ctx.db, run.id);
  assert.ok(session?.endedAt, "the session was not ended");
  assert.equal(session?.project, h.dir);
  assert.deepEqual(h.vms[0].options.cpus, spec.cpus);
});

Deno.test("sandbox: the user's --env wins over the preset, and the command's own env over both", async () => {
  await using h = await harness();
  const box = await startSandbox(
    h.ctx,
    h.spec({
      argv: ["claude"],
      env: { DISABLE_AUTOUPDATER: "0", A: "spec" },
    }),
  );
  try {
    const handle = box.exec({
      argv: ["sh", "-c", 'echo "$DISABLE_AUTOUPDATER $A"'],
      env: { A: "call" },
    });
    assert.equal(await text(handle.stdout), "0 call\n");
    await handle.result;
  } finally {
    await box.stop();
  }
  // stop is idempotent.
  assert.equal((await box.stop()).backend, "none");
});

Deno.test("sandbox: a VM that dies under a command is reported as the VM's death, with its code", async () => {
  await using h = await harness();
  const box = await startSandbox(h.ctx, h.spec());
  try {
    const handle = box.exec({ argv: ["sleep", "30"] });
    const failure = handle.result.catch((e) => e);
    await handle.started;
    await h.vms[0].die(137);
    await assert.rejects(box.lost, (e) => e instanceof VmError && e.code === "vm_died");
    const error = await failure;
    assert.ok(error instanceof AgentError);
    const explained = await box.explain(error);
    assert.ok(explained instanceof VmError);
    assert.match(
      explained.message,
      /The VM stopped while the command was running \(QEMU exit status 137\)/,
    );
  } finally {
    await box.stop();
  }
});

Deno.test("sandbox: a failed start leaves no session open and no VM running", async () => {
  await using h = await harness();
  const failing = openContext({
    db: h.ctx.db,
    startVm: () => Promise.reject(new VmError("Cannot boot: no kernel", { code: "vm_failed" })),
  });
  await assert.rejects(
    runSandbox(failing, h.spec(), () => Promise.reject(new Error("never runs"))),
    (e) => e instanceof VmError && e.kind === "vm",
  );
  const open = h.ctx.db.prepare("SELECT count(*) AS n FROM sessions WHERE ended_at IS NULL").get();
  assert.equal((open as { n: number }).n, 0);
});

Deno.test("sandbox: a command that throws stops the VM and the network before the error surfaces", async () => {
  await using h = await harness();
  await assert.rejects(
    runSandbox(h.ctx, h.spec(), () => Promise.reject(new Error("the edge gave up"))),
    /the edge gave up/,
  );
  assert.equal(h.vms.length, 1);
  assert.equal((await h.vms[0].exited).code, 0);
  const open = h.ctx.db.prepare("SELECT count(*) AS n FROM sessions WHERE ended_at IS NULL").get();
  assert.equal((open as { n: number }).n, 0);
});

Deno.test("allowHostForProject: an 'always' answer from a subdirectory goes to the repository's .agentbox.toml", async () => {
  const repo = await Deno.makeTempDir({ prefix: "agentbox-allow-" });
  try {
    await Deno.mkdir(`${repo}/.git`);
    await Deno.mkdir(`${repo}/pkg/deep`, { recursive: true });
    await allowHostForProject(`${repo}/pkg/deep`, "api.example.com");
    assert.match(await Deno.readTextFile(`${repo}/.agentbox.toml`), /"api\.example\.com"/);
    assert.equal(await Deno.stat(`${repo}/pkg/deep/.agentbox.toml`).catch(() => null), null);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});
