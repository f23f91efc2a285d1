import assert from "node:assert/strict";
import { fileLock, fileLockHeld, tryFileLock } from "./file_lock.ts";

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

Deno.test("fileLock waits while another holder has the lock, and takes it once released", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/sub/pack.lock`;
    const first = await tryFileLock(path);
    assert.ok(first);
    let taken = false;
    const waiting = fileLock(path).then((lock) => {
      taken = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(taken, false);
    first.release();
    const second = await waiting;
    assert.ok(await fileLockHeld(path));
    second[Symbol.dispose]();
    assert.equal(await fileLockHeld(path), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
