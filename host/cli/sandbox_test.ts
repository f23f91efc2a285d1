import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { DEFAULT_COMMAND } from "./run.ts";
import { sandboxPlan } from "./sandbox_plan.ts";

Deno.test("sandboxPlan: exec shares nothing unless told, and keeps changes off a terminal", () => {
  const plan = sandboxPlan("exec", {}, ["true"], { interactive: false });
  assert.deepEqual([plan.share, plan.after, plan.json, plan.prompts], [
    undefined,
    "keep",
    false,
    false,
  ]);
});

Deno.test("sandboxPlan: a default share (run's) counts for --apply and --discard", () => {
  const plan = sandboxPlan("run", { apply: true }, [...DEFAULT_COMMAND], {
    interactive: true,
    share: "/tmp/project",
    prompts: false,
  });
  assert.deepEqual([plan.share, plan.after, plan.prompts], ["/tmp/project", "apply", false]);
  // --share wins over the default.
  const other = sandboxPlan("run", { share: "/srv/x" }, ["sh"], {
    interactive: true,
    share: "/tmp/project",
  });
  assert.deepEqual([other.share, other.after], ["/srv/x", "ask"]);
});

Deno.test("sandboxPlan: --apply without any share, and bad numbers, are usage errors", () => {
  assert.throws(
    () => sandboxPlan("run", { discard: true }, ["sh"], { interactive: true }),
    UsageError,
  );
  assert.throws(
    () => sandboxPlan("run", { cpus: "0" }, ["sh"], { interactive: false }),
    /agentbox run --help/,
  );
  assert.throws(() => sandboxPlan("exec", { memory: "64" }, ["sh"], { interactive: false }));
});

Deno.test("sandboxPlan: --vmm takes qemu or cloud-hypervisor; absent leaves it to the config", () => {
  assert.equal(sandboxPlan("exec", {}, ["true"], { interactive: false }).vmm, undefined);
  for (const vmm of ["qemu", "cloud-hypervisor"]) {
    assert.equal(sandboxPlan("exec", { vmm }, ["true"], { interactive: false }).vmm, vmm);
  }
  assert.throws(
    () => sandboxPlan("exec", { vmm: "firecracker" }, ["true"], { interactive: false }),
    /^UsageError: Invalid --vmm "firecracker": use qemu or cloud-hypervisor: see `agentbox exec --help`$/,
  );
});
