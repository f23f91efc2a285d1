/**
 * Long-lived sessions as a user drives them: `run --detach`, `ps`, `exec --session`, `shell`,
 * `stop`, `diff`, `rm`, `prune`, each a subprocess with private XDG runtime, state and cache
 * directories (the image comes from the default data directory).
 */
import assert from "node:assert/strict";
import { agentbox, waitFor } from "../helpers.ts";
import { decoder, sandbox } from "./session_sandbox.ts";

Deno.test("sessions: detach, exec twice at once, shells, stop keeps the diff, rm", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "web"]);
  assert.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.deepEqual((await s.ps()).map((e) => [e.id, e.name, e.state]), [[id, "web", "running"]]);
  // The command that started it is gone; the session is not.
  assert.equal(s.qemus().length, 1);

  // Two commands at once: each waits until the other has started, so they overlap for sure.
  const [a, b] = await Promise.all([
    s.cli([
      "exec",
      "--session",
      "web",
      "--",
      "sh",
      "-c",
      "touch /tmp/a; while [ ! -e /tmp/b ]; do sleep 0.1; done; echo A",
    ]),
    s.cli([
      "exec",
      "--session",
      id.slice(0, 8),
      "--",
      "sh",
      "-c",
      "touch /tmp/b; while [ ! -e /tmp/a ]; do sleep 0.1; done; echo B; exit 3",
    ]),
  ]);
  assert.deepEqual([a.code, a.stdout, b.code, b.stdout], [0, "A\n", 3, "B\n"], a.stderr + b.stderr);

  // One exec's file is seen by the next; the working directory is the shared project.
  const write = await s.cli([
    "exec",
    "--session",
    "web",
    "--",
    "sh",
    "-c",
    "pwd; echo changed > hello.txt; echo new > new.txt",
  ]);
  assert.deepEqual([write.code, write.stdout], [0, "/workspace\n"], write.stderr);
  const read = await s.cli(["exec", "--session", "web", "--", "cat", "hello.txt", "new.txt"]);
  assert.equal(read.stdout, "changed\nnew\n", read.stderr);

  // Two shells attached at once (stdin not a terminal): each sees the other's marker.
  const shell = (mine: string, theirs: string) =>
    s.cli(
      ["shell", "web"],
      `touch /tmp/${mine}; while [ ! -e /tmp/${theirs} ]; do sleep 0.1; done; echo "$0 ${mine}"; cat new.txt\n`,
    );
  const [one, two] = await Promise.all([shell("s1", "s2"), shell("s2", "s1")]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, "/bin/sh s1\nnew\n");
  assert.equal(two.stdout, "/bin/sh s2\nnew\n");

  // The host's project is untouched while the session runs.
  assert.equal(await Deno.readTextFile(`${s.project}/hello.txt`), "hello\n");

  const stop = await s.cli(["stop", "web"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, /session web stopped/);
  assert.deepEqual((await s.ps()).map((e) => e.state), ["stopped"]);
  assert.ok(await waitFor(() => s.qemus().length === 0, 5000), "QEMU outlived stop");
  const diff = await s.cli(["diff", "web", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(diff.stdout.trim().split("\n").sort(), ["hello.txt", "new.txt"]);
  const gone = await s.cli(["exec", "--session", "web", "--", "true"]);
  assert.equal(gone.code, 126);
  assert.match(gone.stderr, /Session web is stopped/);

  const rm = await s.cli(["rm", "web"]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(await s.ps(), []);
  assert.equal((await s.cli(["diff", "web"])).code, 125);
  const sessionsDir = `${s.root}/state/agentbox/sessions`;
  assert.deepEqual([...Deno.readDirSync(sessionsDir)], []);
});

Deno.test("sessions: a killed owner leaves no QEMU and a recoverable diff; prune spares a booting session", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "doomed"]);
  assert.equal(started.code, 0, started.stderr);
  const write = await s.cli([
    "exec",
    "--session",
    "doomed",
    "--",
    "sh",
    "-c",
    "echo saved > saved.txt; sync",
  ]);
  assert.equal(write.code, 0, write.stderr);
  const kill = await s.cli(["stop", "--kill", "doomed"]);
  assert.equal(kill.code, 0, kill.stderr);
  assert.ok(await waitFor(() => s.qemus().length === 0, 5000), "QEMU outlived its owner");
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["doomed", "dead"]]);
  // Still recorded as running, its control socket left behind: exec finds nobody and says why.
  const orphaned = await s.cli(["exec", "--session", "doomed", "--", "true"]);
  assert.equal(orphaned.code, 126, orphaned.stderr);
  assert.match(orphaned.stderr, /Session doomed is dead: start a new one/);

  // As after a host crash: the changes were never collected, but the disk is there.
  const diff = await s.cli(["diff", "doomed", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stderr, /recovering/);
  assert.equal(diff.stdout, "saved.txt\n");

  // A second session, caught while it boots: prune removes the dead one only.
  // Its first command runs in the background, its output going to command.log.
  const booting = agentbox(
    ["run", "--detach", "--name", "young", "--", "sh", "-c", "echo first $PWD"],
    { env: s.env, cwd: s.project },
  );
  let seen = false;
  for (const deadline = Date.now() + 60_000; !seen && Date.now() < deadline;) {
    seen = (await s.ps()).some((e) => e.name === "young" && e.state === "booting");
  }
  assert.ok(seen, "never saw the session booting");
  const prune = await s.cli(["prune"]);
  assert.equal(prune.code, 0, prune.stderr);
  assert.match(prune.stdout, /doomed detached dead/);
  assert.doesNotMatch(prune.stdout, /young/);
  const out = await booting.output();
  assert.equal(out.code, 0, decoder.decode(out.stderr));
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["young", "running"]]);
  const check = await s.cli(["exec", "--session", "young", "--", "cat", "hello.txt"]);
  assert.equal(check.stdout, "hello\n", check.stderr);
  const [young] = await s.ps();
  const commandLog = `${s.root}/state/agentbox/sessions/${young.id}/command.log`;
  const logged = () => {
    try {
      // The command ran on a terminal: its lines end with CR LF.
      return Deno.readTextFileSync(commandLog) === "first /workspace\r\n";
    } catch {
      return false;
    }
  };
  assert.ok(await waitFor(logged, 10_000), "the first command's output is not in command.log");

  const rm = await s.cli(["rm", "--force", "young"]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.ok(await waitFor(() => s.qemus().length === 0, 5000), "QEMU outlived rm --force");
  assert.deepEqual(await s.ps(), []);
});

Deno.test("sessions: usage errors exit 125 with one line", async () => {
  await using s = await sandbox();
  const cases = [
    ["shell", "nope"],
    ["stop", "nope"],
    ["rm", "nope"],
    ["exec", "--session", "nope", "--", "true"],
    ["exec", "--session", "x", "--cpus", "2", "--", "true"],
    ["run", "--name", "x"],
    ["run", "--detach", "--name", "-bad"],
    ["run", "--detach", "--apply"],
    ["ps", "extra"],
  ];
  for (const args of cases) {
    const r = await s.cli(args);
    assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^agentbox: error: [^\n]+\n$/, args.join(" "));
  }
  for (const command of ["ps", "shell", "stop", "rm", "prune"]) {
    const help = await s.cli([command, "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`Usage: agentbox ${command}`));
  }
});
