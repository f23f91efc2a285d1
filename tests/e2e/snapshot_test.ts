/**
 * Session snapshots as a user drives them: `snapshot save` of a running session, two sessions
 * restored from it (files and a running process are there, the forks diverge, the original runs
 * on), `snapshot ls` and `snapshot rm`, each a subprocess with private XDG directories.
 */
import assert from "node:assert/strict";
import { waitFor } from "../helpers.ts";
import { sandbox } from "./session_sandbox.ts";

/** A counter in a shell's memory, written out every 100 ms by a process outside any exec. */
// Returns once the counter runs in a session of its own: until its first write, it could still be
// in the exec's process group, which ends with the exec (a race that a loaded host lost).
const COUNTER =
  "setsid sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done' " +
  "</dev/null >/dev/null 2>&1 & while [ ! -s /tmp/count ]; do sleep 0.1; done";

Deno.test("snapshot: save a session, restore two forks that diverge, ls, rm", async () => {
  await using s = await sandbox();
  const sh = async (session: string, script: string) => {
    const r = await s.cli(["exec", "--session", session, "--", "sh", "-c", script]);
    assert.equal(r.code, 0, `${session}: ${script}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const started = await s.cli(["run", "--detach", "--name", "orig", "--cpus", "2"]);
  assert.equal(started.code, 0, started.stderr);
  await sh("orig", `echo kept > kept.txt; echo root > /root/file; ${COUNTER}`);
  let before = 0;
  for (const deadline = Date.now() + 120_000; before < 10 && Date.now() < deadline;) {
    before = Number(await sh("orig", "cat /tmp/count 2>/dev/null || echo 0"));
  }
  assert.ok(before >= 10, `the counter did not count (${before})`);

  const saved = await s.cli(["snapshot", "save", "orig", "base"]);
  assert.equal(saved.code, 0, saved.stderr);
  const taken = await s.cli(["snapshot", "save", "orig", "base"]);
  assert.equal(taken.code, 125, taken.stderr);
  assert.match(taken.stderr, /A snapshot named base exists/);

  // The original runs on after the save, and goes its own way.
  assert.ok(Number(await sh("orig", "sleep 0.3; cat /tmp/count")) > before);
  await sh("orig", "echo orig > fork.txt");

  for (const fork of ["a", "b"]) {
    const restored = await s.cli(["snapshot", "restore", "base", "--as", fork]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^[0-9a-f-]{36}\n$/);
  }
  for (const fork of ["a", "b"]) {
    assert.equal(await sh(fork, "cat kept.txt /root/file"), "kept\nroot");
    // Not the original's later write: the fork starts from the snapshot.
    assert.equal(await sh(fork, "cat fork.txt 2>/dev/null || echo none"), "none");
    const count = Number(await sh(fork, "cat /tmp/count"));
    assert.ok(count >= before, `${fork}: the counter went on from ${before}, not ${count}`);
    const later = Number(await sh(fork, "sleep 0.5; cat /tmp/count"));
    assert.ok(later > count, `${fork}: the counter is still counting`);
    await sh(fork, `echo ${fork} > fork.txt`);
  }
  assert.deepEqual(
    await Promise.all(["orig", "a", "b"].map((f) => sh(f, "cat fork.txt"))),
    ["orig", "a", "b"],
  );
  const states = Object.fromEntries((await s.ps()).map((e) => [e.name, e.state]));
  assert.deepEqual(states, { orig: "running", a: "running", b: "running" });

  const ls = await s.cli(["snapshot", "ls", "--json"]);
  assert.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout) as { name: string; source: { name: string } }[];
  assert.deepEqual(listed.map((e) => [e.name, e.source.name]), [["base", "orig"]]);
  assert.match(
    (await s.cli(["snapshot", "ls"])).stdout,
    /^NAME +SESSION +SIZE +CREATED\nbase +orig /,
  );

  // A fork stops like any session: its changes are against the project as it was.
  const stop = await s.cli(["stop", "a"]);
  assert.equal(stop.code, 0, stop.stderr);
  const diff = await s.cli(["diff", "a", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(diff.stdout.trim().split("\n").sort(), ["fork.txt", "kept.txt"]);

  const rm = await s.cli(["snapshot", "rm", "base"]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await s.cli(["snapshot", "ls", "--json"])).stdout.trim(), "[]");
  // b has its own disks: removing the snapshot does not touch it.
  assert.equal(await sh("b", "cat fork.txt"), "b");
  const unknown = await s.cli(["snapshot", "restore", "base"]);
  assert.equal(unknown.code, 125, unknown.stderr);
  assert.match(unknown.stderr, /^agentbox: error: No snapshot named base/);

  const stopAll = await s.cli(["stop", "orig", "b"]);
  assert.equal(stopAll.code, 0, stopAll.stderr);
  assert.ok(await waitFor(() => s.qemus().length === 0, 5000), "QEMU outlived stop");
});

Deno.test("snapshot: usage errors exit 125 with one line", async () => {
  await using s = await sandbox();
  const cases = [
    ["snapshot"],
    ["snapshot", "nope"],
    ["snapshot", "save", "nope", "x"],
    ["snapshot", "save", "nope", "../x"],
    ["snapshot", "save", "only-one"],
    ["snapshot", "restore", "nope"],
    ["snapshot", "restore", "-bad"],
    ["snapshot", "rm", "nope"],
    ["snapshot", "ls", "extra"],
  ];
  for (const args of cases) {
    const r = await s.cli(args);
    assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
    if (args.length > 1) assert.match(r.stderr, /^agentbox: error: [^\n]+\n$/, args.join(" "));
  }
  for (const command of ["save", "restore", "ls", "rm"]) {
    const help = await s.cli(["snapshot", command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`Usage: agentbox snapshot ${command}`));
  }
});
