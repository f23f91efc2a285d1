import assert from "node:assert/strict";
import { fileLockHeld, tryFileLock } from "./file_lock.ts";

Deno.test("file lock: one holder; released on release and when the holder dies", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sessions/x/owner.lock`;
  try {
    assert.equal(await fileLockHeld(path), false);
    const lock = await tryFileLock(path);
    assert.ok(lock);
    assert.equal(await fileLockHeld(path), true);
    assert.equal(await tryFileLock(path), undefined);
    lock.release();
    lock.release();
    assert.equal(await fileLockHeld(path), false);

    // Another process holds it until it is killed.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const f = await Deno.open(${JSON.stringify(path)}, { write: true }); await f.lock(true);` +
        " setTimeout(() => {}, 600_000);",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 5000;
    while (!await fileLockHeld(path) && Date.now() < deadline) {
      await new Promise((f) => setTimeout(f, 20));
    }
    assert.equal(await fileLockHeld(path), true);
    holder.kill("SIGKILL");
    await holder.status;
    assert.equal(await fileLockHeld(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
