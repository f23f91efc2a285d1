/**
 * `agentbox start`: a stopped session boots again over its own workspace disks — what its
 * commands wrote is there again — and its next stop collects everything it changed since it was
 * first started.
 */
import assert from "node:assert/strict";
import { sandbox } from "./session_sandbox.ts";

Deno.test("start: a stopped session comes back with its files; the next stop collects all", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "keep"]);
  assert.equal(started.code, 0, started.stderr);
  const wrote = await s.cli([
    "exec",
    "--session",
    "keep",
    "--",
    "sh",
    "-c",
    "echo kept > kept.txt && mkdir -p d && echo y > d/y && echo changed >> hello.txt",
  ]);
  assert.equal(wrote.code, 0, wrote.stderr);
  assert.equal((await s.cli(["stop", "keep"])).code, 0);
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["keep", "stopped"]]);

  // Running already: refused, nothing touched.
  const again = await s.cli(["start", "keep"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /session keep is running/);
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["keep", "running"]]);
  const twice = await s.cli(["start", "keep"]);
  assert.equal(twice.code, 125, twice.stderr);
  assert.match(twice.stderr, /keep is running: nothing to start/);

  const read = await s.cli([
    "exec",
    "--session",
    "keep",
    "--",
    "cat",
    "kept.txt",
    "d/y",
    "hello.txt",
  ]);
  assert.equal(read.stdout, "kept\ny\nhello\nchanged\n", read.stderr);
  const more = await s.cli(["exec", "--session", "keep", "--", "sh", "-c", "echo 2 > second.txt"]);
  assert.equal(more.code, 0, more.stderr);
  assert.equal((await s.cli(["stop", "keep"])).code, 0);
  const diff = await s.cli(["diff", "keep", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(diff.stdout.trim().split("\n").sort(), [
    "d/",
    "d/y",
    "hello.txt",
    "kept.txt",
    "second.txt",
  ]);

  const unknown = await s.cli(["start", "nosuch"]);
  assert.equal(unknown.code, 125);
  assert.equal((await s.cli(["rm", "keep"])).code, 0);
  assert.deepEqual(await s.ps(), []);
});
