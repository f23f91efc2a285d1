import assert from "node:assert/strict";
import { UnsafePathError, verifyParents, verifyRoot } from "./safe_path.ts";

Deno.test("parents must be real directories; a missing one stops the walk", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir());
  const outside = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/d`);
  await Deno.writeTextFile(`${root}/f`, "");
  await Deno.symlink(outside, `${root}/l`);
  assert.equal(await verifyParents(root, "d/x"), "present");
  assert.equal(await verifyParents(root, "top"), "present");
  assert.equal(await verifyParents(root, "none/x/y"), "missing");
  await assert.rejects(verifyParents(root, "l/x"), /l is a symlink on the host/);
  await assert.rejects(verifyParents(root, "f/x"), /f is not a directory/);
  await assert.rejects(verifyParents(root, "../x"), UnsafePathError);
  await assert.rejects(verifyParents(root, "a\nb"), UnsafePathError);
});

Deno.test("the root must be its own real path", async () => {
  const base = await Deno.realPath(await Deno.makeTempDir());
  await Deno.mkdir(`${base}/real`);
  await Deno.symlink(`${base}/real`, `${base}/link`);
  await verifyRoot(`${base}/real`);
  await assert.rejects(verifyRoot(`${base}/link`), /now resolves to/);
  await assert.rejects(verifyRoot(`${base}/gone`), /is gone/);
});
