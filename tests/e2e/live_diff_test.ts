/**
 * Live diff (issue 15, item 3): `diff` and `apply` on a running session collect its changes as
 * they are now (the session's owner reads them through the guest while its commands run on); a
 * later apply takes what is new and never overwrites what the user changed on the host since.
 */
import assert from "node:assert/strict";
import { sandbox } from "./session_sandbox.ts";

Deno.test("live diff: a running session's changes now, applied twice without loss", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "live"]);
  assert.equal(started.code, 0, started.stderr);
  const write = async (script: string) => {
    const r = await s.cli(["exec", "--session", "live", "--", "sh", "-c", script]);
    assert.equal(r.code, 0, r.stderr);
  };
  await write("echo one > one.txt && echo changed >> hello.txt");

  const diff = await s.cli(["diff", "live", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(diff.stdout.trim().split("\n").sort(), ["hello.txt", "one.txt"]);
  assert.match(diff.stderr, /live is running: collecting its workspace changes as they are now/);

  const first = await s.cli(["apply", "live"]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.equal(await Deno.readTextFile(`${s.project}/one.txt`), "one\n");
  assert.equal(await Deno.readTextFile(`${s.project}/hello.txt`), "hello\nchanged\n");

  // The session goes on; the user edits an applied file on the host meanwhile.
  await write("echo two > two.txt");
  await Deno.writeTextFile(`${s.project}/one.txt`, "mine\n");
  const second = await s.cli(["apply", "live"]);
  assert.equal(await Deno.readTextFile(`${s.project}/two.txt`), "two\n", second.stderr);
  assert.equal(
    await Deno.readTextFile(`${s.project}/one.txt`),
    "mine\n",
    "a later apply overwrote the user's edit of an applied file",
  );
  assert.equal(await Deno.readTextFile(`${s.project}/hello.txt`), "hello\nchanged\n");
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["live", "running"]]);

  // Stopped, its changes are all there, as for any session.
  assert.equal((await s.cli(["stop", "live"])).code, 0);
  const after = await s.cli(["diff", "live", "--name-only"]);
  assert.deepEqual(after.stdout.trim().split("\n").sort(), ["hello.txt", "one.txt", "two.txt"]);
});

Deno.test("live diff: diff --system of a running session shows what it changed on the machine now", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "sys", "--no-share"]);
  assert.equal(started.code, 0, started.stderr);
  const wrote = await s.cli([
    "exec",
    "--session",
    "sys",
    "--",
    "sh",
    "-c",
    "echo live > /etc/live.conf",
  ]);
  assert.equal(wrote.code, 0, wrote.stderr);
  const diff = await s.cli(["diff", "sys", "--system", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /etc\/live\.conf/);
  assert.match(diff.stderr, /sys is running: collecting its system changes as they are now/);
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["sys", "running"]]);
  assert.equal((await s.cli(["stop", "sys"])).code, 0);
});
