/**
 * Bugs of the time when the sandbox lifecycle existed twice (exec/run and the session owner),
 * reproduced as a user meets them, each with real VMs and the CLI as a subprocess:
 *
 * - a detached session's first command, and `exec --session`, lacked the agent preset's
 *   environment that `run -- claude` gives;
 * - `agentbox stop` of a `run --detach -- CMD` session crashed its owner (an unhandled rejection
 *   when the VM stopped under the command) and the session showed `dead`;
 * - `snapshot restore` read the `.agentbox.toml` of the directory it was started from instead of
 *   the session's own project.
 */
import assert from "node:assert/strict";
import { waitFor } from "../helpers.ts";
import { sandbox } from "./session_sandbox.ts";

/** A fake `claude` in the project: records what it sees, then works until stopped. */
const FAKE_AGENT = `#!/bin/sh
{
  echo "autoupdater=$DISABLE_AUTOUPDATER"
  echo "pwd=$(pwd)"
} > /workspace/first.txt
exec sleep 600
`;

Deno.test("detached: the first command gets the session's defaults; stop ends it as stopped with its changes", async () => {
  await using s = await sandbox();
  await Deno.writeTextFile(`${s.project}/claude`, FAKE_AGENT, { mode: 0o755 });
  const started = await s.cli(["run", "--detach", "--net", "none", "--", "/workspace/claude"]);
  assert.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  const first = () => s.cli(["exec", "--session", id, "--", "cat", "/workspace/first.txt"]);
  assert.ok(await waitFor(async () => (await first()).code === 0, 60_000), "no first.txt");
  const seen = (await first()).stdout;
  // Every command of the session gets the same defaults, not only the first.
  const later = await s.cli([
    "exec",
    "--session",
    id,
    "--",
    "sh",
    "-c",
    "echo $DISABLE_AUTOUPDATER",
  ]);

  // Stopped while its first command still runs: the owner must survive the VM stopping under it.
  const stop = await s.cli(["stop", id]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual((await s.ps()).map((e) => e.state), ["stopped"]);
  const log = await Deno.readTextFile(`${s.root}/state/agentbox/sessions/${id}/owner.log`);
  assert.doesNotMatch(log, /Uncaught|agentbox: error/, log);
  assert.match(log, /session stopped/);

  assert.equal(seen, "autoupdater=1\npwd=/workspace\n");
  assert.equal(later.stdout, "1\n", later.stderr);
  const diff = await s.cli(["diff", id, "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.deepEqual(diff.stdout.trim().split("\n"), ["first.txt"]);
});

Deno.test("snapshot restore started elsewhere uses the session's own project and policy", async () => {
  await using s = await sandbox();
  // The session's project has a valid policy; the directory the restore is typed in has a
  // broken one, which must not be read.
  await Deno.writeTextFile(`${s.project}/.agentbox.toml`, '[network]\nallow = ["example.org"]\n');
  const elsewhere = `${s.root}/elsewhere`;
  await Deno.mkdir(elsewhere);
  await Deno.writeTextFile(`${elsewhere}/.agentbox.toml`, "[network\nbroken");
  const started = await s.cli(["run", "--detach", "--no-share", "--name", "src"]);
  assert.equal(started.code, 0, started.stderr);
  const saved = await s.cli(["snapshot", "save", "src", "base"]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal((await s.cli(["stop", "src"])).code, 0);

  // Positive control: the broken file is what a session started there would read.
  const control = await s.cli(["exec", "--net", "none", "--", "true"], undefined, elsewhere);
  assert.equal(control.code, 125, control.stderr);
  assert.match(control.stderr, /Invalid configuration/);

  const restored = await s.cli(
    ["snapshot", "restore", "base", "--as", "fork"],
    undefined,
    elsewhere,
  );
  assert.equal(restored.code, 0, restored.stderr);
  const fork = (await s.ps()).find((e) => e.name === "fork");
  assert.equal(fork?.state, "running");
  const ps = await s.cli(["ps", "--json"]);
  const project = (JSON.parse(ps.stdout) as { name: string; project: string }[])
    .find((e) => e.name === "fork")?.project;
  assert.equal(project, s.project);
  assert.equal((await s.cli(["stop", "fork"])).code, 0);
});
