import assert from "node:assert/strict";
import { DEFAULT_COMMAND } from "./run.ts";
import { UsageError } from "./errors.ts";
import { sandboxPlan } from "./sandbox_plan.ts";

const CWD = "/srv/work";

Deno.test("sandboxPlan: exec shares nothing unless told, keeps changes off a terminal, and its project is the cwd", async () => {
  const plan = await sandboxPlan("exec", {}, ["true"], { interactive: false, cwd: CWD });
  assert.deepEqual([plan.spec.share, plan.after, plan.json, plan.prompts], [
    undefined,
    "keep",
    false,
    false,
  ]);
  assert.equal(plan.spec.projectDir, CWD);
});

Deno.test("sandboxPlan: a default share (run's) counts for --apply and --discard, and is the project", async () => {
  const plan = await sandboxPlan("run", { apply: true }, [...DEFAULT_COMMAND], {
    interactive: true,
    cwd: CWD,
    share: "/tmp/project",
    prompts: false,
  });
  assert.deepEqual([plan.spec.share, plan.after, plan.prompts], ["/tmp/project", "apply", false]);
  assert.equal(plan.spec.projectDir, "/tmp/project");
  const other = await sandboxPlan("run", { share: "sub/dir" }, ["sh"], {
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

Deno.test("sandboxPlan: --apply without any share, and bad numbers, are usage errors", async () => {
  await assert.rejects(
    () => sandboxPlan("run", { discard: true }, ["sh"], { interactive: true, cwd: CWD }),
    UsageError,
  );
  await assert.rejects(
    () => sandboxPlan("run", { cpus: "0" }, ["sh"], { interactive: false, cwd: CWD }),
    UsageError,
  );
  await assert.rejects(
    () => sandboxPlan("exec", { memory: "64" }, ["sh"], { interactive: false, cwd: CWD }),
    UsageError,
  );
  await assert.rejects(
    () => sandboxPlan("exec", { image: "../x" }, ["sh"], { interactive: false, cwd: CWD }),
    (e) => e instanceof UsageError && /--image/.test(e.message),
  );
  await assert.rejects(
    () => sandboxPlan("exec", { env: ["1BAD=x"] }, ["sh"], { interactive: false, cwd: CWD }),
    UsageError,
  );
});

Deno.test("sandboxPlan: --vmm takes qemu or cloud-hypervisor; absent leaves it to the config", async () => {
  const opts = { interactive: false, cwd: CWD };
  assert.equal((await sandboxPlan("exec", {}, ["true"], opts)).spec.vmm, undefined);
  for (const vmm of ["qemu", "cloud-hypervisor"] as const) {
    assert.equal((await sandboxPlan("exec", { vmm }, ["true"], opts)).spec.vmm, vmm);
  }
  await assert.rejects(
    () => sandboxPlan("exec", { vmm: "firecracker" }, ["true"], opts),
    UsageError,
  );
});

Deno.test("sandboxPlan: --yes is carried for --net learn", async () => {
  const plan = (values: Record<string, unknown>) =>
    sandboxPlan("exec", values, ["true"], { interactive: false, cwd: CWD });
  assert.equal((await plan({})).learnYes, false);
  assert.equal((await plan({ net: "learn", yes: true })).learnYes, true);
});

Deno.test("sandboxPlan: the home directory, / and /tmp are shared only when named with --share", async () => {
  const home = await Deno.makeTempDir();
  try {
    for (const dir of [home, "/", "/tmp"]) {
      await assert.rejects(
        () => sandboxPlan("run", {}, ["sh"], { interactive: false, cwd: dir, share: dir, home }),
        (e) =>
          e instanceof UsageError && e.code === "share_refused" &&
          e.message.includes(`name it with --share ${dir}`),
      );
      const plan = await sandboxPlan("run", { share: dir }, ["sh"], {
        interactive: false,
        cwd: dir,
        share: dir,
        home,
      });
      assert.equal(plan.spec.share, dir);
    }
    // A project below the home is fine.
    await Deno.mkdir(`${home}/proj`);
    const plan = await sandboxPlan("run", {}, ["sh"], {
      interactive: false,
      cwd: `${home}/proj`,
      share: `${home}/proj`,
      home,
    });
    assert.equal(plan.spec.share, `${home}/proj`);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("sandboxPlan: the project's .agentbox.toml sets image, cpus and memory; flags win", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/.git`);
    await Deno.mkdir(`${root}/sub/deeper`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/.agentbox.toml`,
      '[vm]\nimage = "dev"\ncpus = 3\nmemory = 1536\n',
    );
    const cwd = `${root}/sub/deeper`;
    const plan = await sandboxPlan("exec", {}, ["true"], { interactive: false, cwd });
    assert.deepEqual([plan.spec.image, plan.spec.cpus, plan.spec.memoryMb], ["dev", 3, 1536]);
    assert.equal(plan.spec.projectDir, cwd);
    const flags = await sandboxPlan("exec", { image: "default", cpus: "1", memory: "512" }, [
      "true",
    ], { interactive: false, cwd });
    assert.deepEqual([flags.spec.image, flags.spec.cpus, flags.spec.memoryMb], [
      "default",
      1,
      512,
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
