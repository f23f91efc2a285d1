import assert from "node:assert/strict";
import { ownerLockHeld, tryOwnerLock } from "./owner_lock.ts";

Deno.test("owner lock: one holder; released on release and when the holder dies", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sessions/x/owner.lock`;
  try {
    assert.equal(await ownerLockHeld(path), false);
    const lock = await tryOwnerLock(path);
    assert.ok(lock);
    assert.equal(await ownerLockHeld(path), true);
    assert.equal(await tryOwnerLock(path), undefined);
    lock.release();
    lock.release();
    assert.equal(await ownerLockHeld(path), false);

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
    while (!await ownerLockHeld(path) && Date.now() < deadline) {
      await new Promise((f) => setTimeout(f, 20));
    }
    assert.equal(await ownerLockHeld(path), true);
    holder.kill("SIGKILL");
    await holder.status;
    assert.equal(await ownerLockHeld(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
