import assert from "node:assert/strict";
import { PlanFileError, takePlanFile, writePlanFile } from "./plan_file.ts";

Deno.test("plan file: written exclusively with mode 0600, read once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/plan.json`;
    await writePlanFile(path, { argv: ["true"] });
    assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(await takePlanFile(path), { argv: ["true"] });
    await assert.rejects(() => Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan file: never written through a planted file or link", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = `${dir}/target`;
    await Deno.writeTextFile(target, "keep");
    await Deno.symlink(target, `${dir}/plan.json`);
    await assert.rejects(() => writePlanFile(`${dir}/plan.json`, {}), PlanFileError);
    await Deno.writeTextFile(`${dir}/other.json`, "{}");
    await assert.rejects(() => writePlanFile(`${dir}/other.json`, { a: 1 }), PlanFileError);
    assert.equal(await Deno.readTextFile(target), "keep");
    assert.equal(await Deno.readTextFile(`${dir}/other.json`), "{}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plan file: a link, another user's file, a loose mode or a second link is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/plan.json`;
    const planted = `${dir}/planted.json`;
    await Deno.writeTextFile(planted, '{"share":"/root"}', { mode: 0o600 });
    await Deno.symlink(planted, path);
    await assert.rejects(() => takePlanFile(path), /is a symbolic link/);
    await Deno.remove(path);
    await Deno.link(planted, path);
    await assert.rejects(() => takePlanFile(path), /has 2 links/);
    await Deno.remove(path);
    await Deno.writeTextFile(path, "{}", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    await assert.rejects(() => takePlanFile(path), /mode is 0644/);
    if (Deno.uid() === 0) {
      await Deno.chmod(path, 0o600);
      await Deno.chown(path, 65534, 65534);
      await assert.rejects(() => takePlanFile(path), /belongs to uid 65534/);
    }
    // Every refusal left the file where it was: nothing was read from it.
    assert.equal(await Deno.readTextFile(path), "{}");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
