import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { findProjectFile } from "./project_file.ts";

async function tree(run: (root: string) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "agentbox-project-" });
  try {
    await run(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("project file: found in a parent, as git finds .git", async () => {
  await tree(async (root) => {
    await Deno.mkdir(`${root}/repo/.git`, { recursive: true });
    await Deno.mkdir(`${root}/repo/a/b`, { recursive: true });
    await Deno.writeTextFile(`${root}/repo/.agentbox.toml`, "");
    const found = await findProjectFile(`${root}/repo/a/b`);
    assert.deepEqual(found, {
      projectDir: `${root}/repo/a/b`,
      dir: `${root}/repo`,
      file: `${root}/repo/.agentbox.toml`,
      exists: true,
      repoRoot: `${root}/repo`,
    });
    // The nearest one wins.
    await Deno.writeTextFile(`${root}/repo/a/.agentbox.toml`, "");
    assert.equal((await findProjectFile(`${root}/repo/a/b`)).dir, `${root}/repo/a`);
  });
});

Deno.test("project file: the walk stops at the repository root", async () => {
  await tree(async (root) => {
    // A file above the repository is not the repository's.
    await Deno.writeTextFile(`${root}/.agentbox.toml`, "");
    await Deno.mkdir(`${root}/repo/.git`, { recursive: true });
    await Deno.mkdir(`${root}/repo/sub`);
    const found = await findProjectFile(`${root}/repo/sub`);
    assert.deepEqual([found.dir, found.exists, found.repoRoot], [
      `${root}/repo`,
      false,
      `${root}/repo`,
    ]);
    // A worktree's .git is a file: it counts too.
    await Deno.mkdir(`${root}/wt/sub`, { recursive: true });
    await Deno.writeTextFile(`${root}/wt/.git`, "gitdir: /elsewhere\n");
    assert.equal((await findProjectFile(`${root}/wt/sub`)).dir, `${root}/wt`);
  });
});

Deno.test("project file: none without a repository means the project directory", async () => {
  await tree(async (root) => {
    await Deno.mkdir(`${root}/plain`);
    const found = await findProjectFile(`${root}/plain`);
    // Nothing up to / (unless the machine has a /.agentbox.toml, which this test would show).
    assert.equal(found.exists, false);
    assert.equal(found.dir, `${root}/plain`);
  });
});

Deno.test("project file: one above the project that belongs to another user is refused", async () => {
  if (Deno.uid() !== 0) return; // Needs chown.
  await tree(async (root) => {
    await Deno.mkdir(`${root}/shared/proj`, { recursive: true });
    await Deno.writeTextFile(`${root}/shared/.agentbox.toml`, '[network]\nmode = "open"\n');
    await Deno.chown(`${root}/shared/.agentbox.toml`, 4242, 4242);
    // Deno.uid() is 0 here, and root-owned files are trusted: act as another user by checking
    // the message through a file owned by 4242 seen by uid 0 — root trusts only itself and root.
    await assert.rejects(
      findProjectFile(`${root}/shared/proj`),
      (e) => e instanceof ConfigError && /belongs to another user \(uid 4242\)/.test(e.message),
    );
    // In the project directory itself, it is the project's own file.
    assert.equal((await findProjectFile(`${root}/shared`)).exists, true);
  });
});
