import assert from "node:assert/strict";
import { DEFAULT_COMMAND } from "./run.ts";
import { UsageError } from "./errors.ts";
import { sandboxPlan } from "./sandbox_plan.ts";

const CWD = "/srv/work";

Deno.test("sandboxPlan: exec shares nothing unless told, keeps changes off a terminal, and its project is the cwd", () => {
  const plan = sandboxPlan("exec", {}, ["true"], { interactive: false, cwd: CWD });
  assert.deepEqual([plan.spec.share, plan.after, plan.json, plan.prompts], [
    undefined,
    "keep",
    false,
    false,
  ]);
  assert.equal(plan.spec.projectDir, CWD);
});

Deno.test("sandboxPlan: a default share (run's) counts for --apply and --discard, and is the project", () => {
  const plan = sandboxPlan("run", { apply: true }, [...DEFAULT_COMMAND], {
    interactive: true,
    cwd: CWD,
    share: "/tmp/project",
    prompts: false,
  });
  assert.deepEqual([plan.spec.share, plan.after, plan.prompts], ["/tmp/project", "apply", false]);
  assert.equal(plan.spec.projectDir, "/tmp/project");
  const other = sandboxPlan("run", { share: "sub/dir" }, ["sh"], {
    interactive: true,
    cwd: CWD,
    share: "/tmp/project",
  });
  // --share wins over the default, relative to the cwd.
  assert.deepEqual([other.spec.share, other.spec.projectDir, other.after], [
    "/srv/work/sub/dir",
    "/srv/work/sub/dir",
    "ask",
  ]);
});

Deno.test("sandboxPlan: --apply without any share, and bad numbers, are usage errors", () => {
  assert.throws(
    () => sandboxPlan("run", { discard: true }, ["sh"], { interactive: true, cwd: CWD }),
    UsageError,
  );
  assert.throws(
    () => sandboxPlan("run", { cpus: "0" }, ["sh"], { interactive: false, cwd: CWD }),
    UsageError,
  );
  assert.throws(
    () => sandboxPlan("exec", { memory: "64" }, ["sh"], { interactive: false, cwd: CWD }),
    UsageError,
  );
  assert.throws(
    () => sandboxPlan("exec", { image: "../x" }, ["sh"], { interactive: false, cwd: CWD }),
    (e) => e instanceof UsageError && /--image/.test(e.message),
  );
  assert.throws(
    () => sandboxPlan("exec", { env: ["1BAD=x"] }, ["sh"], { interactive: false, cwd: CWD }),
    UsageError,
  );
});

Deno.test("sandboxPlan: --vmm takes qemu or cloud-hypervisor; absent leaves it to the config", () => {
  const opts = { interactive: false, cwd: CWD };
  assert.equal(sandboxPlan("exec", {}, ["true"], opts).spec.vmm, undefined);
  for (const vmm of ["qemu", "cloud-hypervisor"] as const) {
    assert.equal(sandboxPlan("exec", { vmm }, ["true"], opts).spec.vmm, vmm);
  }
  assert.throws(() => sandboxPlan("exec", { vmm: "firecracker" }, ["true"], opts), UsageError);
});

Deno.test("sandboxPlan: --yes is carried for --net learn", () => {
  const plan = (values: Record<string, unknown>) =>
    sandboxPlan("exec", values, ["true"], { interactive: false, cwd: CWD });
  assert.equal(plan({}).learnYes, false);
  assert.equal(plan({ net: "learn", yes: true }).learnYes, true);
});
