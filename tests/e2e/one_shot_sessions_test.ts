/**
 * One-shot runs (`exec`, `run` without `--detach`) as sessions a user can see and collect:
 * `ps -a` lists them with their state (running while their agentbox process lives, exited, or
 * dead when it was killed) and whether their changes are pending or applied; `rm` removes one,
 * `prune` (with `--older-than`) the rest, leaving no state directory behind — nor orphaned
 * session files or unused share caches, which `system df` counts as reclaimable.
 */
import assert from "node:assert/strict";
import { agentbox } from "../helpers.ts";
import { sandbox } from "./session_sandbox.ts";

interface Entry {
  id: string;
  kind: string;
  state: string;
  changes: string;
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

Deno.test("one-shot runs: ps -a shows them, their changes' state, rm and prune collect them", async () => {
  await using s = await sandbox();
  const psAll = async () => {
    const r = await s.cli(["ps", "-a", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as Entry[]).filter((e) => e.kind === "one-shot");
  };
  const sessionsDir = `${s.root}/state/agentbox/sessions`;

  // An exec that changes the project: exited, changes pending; plain `ps` does not list it.
  const wrote = await s.cli([
    "exec",
    "--net",
    "none",
    "--share",
    s.project,
    "--",
    "sh",
    "-c",
    "echo new > new.txt",
  ]);
  assert.equal(wrote.code, 0, wrote.stderr);
  const [first] = await psAll();
  assert.deepEqual([first.kind, first.state, first.changes], ["one-shot", "exited", "pending"]);
  assert.deepEqual(await s.ps(), [], "plain ps lists long-lived sessions only");
  const table = await s.cli(["ps", "-a"]);
  assert.match(table.stdout, /^NAME +ID +KIND +STATE +CHANGES/m);
  assert.match(table.stdout, new RegExp(`${first.id.slice(0, 8)} +one-shot +exited +pending`));

  // Applied, it says so.
  const applied = await s.cli(["apply", first.id]);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(await Deno.readTextFile(`${s.project}/new.txt`), "new\n");
  assert.equal((await psAll()).find((e) => e.id === first.id)?.changes, "applied");

  // A run in progress is running; killed (SIGKILL: nothing can end it cleanly), it is dead.
  const running = agentbox(["exec", "--net", "none", "--", "sleep", "600"], {
    env: s.env,
    cwd: s.project,
  });
  let second: Entry | undefined;
  assert.ok(
    await waitFor(async () => {
      second = (await psAll()).find((e) => e.state === "running");
      return second !== undefined;
    }, 120_000),
    "the exec never showed as running",
  );
  const refused = await s.cli(["rm", second!.id]);
  assert.equal(refused.code, 1, "rm of a running one-shot run is refused");
  assert.match(refused.stderr, /is running/);
  running.kill("SIGKILL");
  await running.status;
  assert.ok(
    await waitFor(
      async () => (await psAll()).find((e) => e.id === second!.id)?.state === "dead",
      10_000,
    ),
    "a killed run is not dead",
  );
  assert.ok(
    await waitFor(() => Promise.resolve(s.qemus().length === 0), 10_000),
    "QEMU outlived it",
  );

  // rm one by id prefix; prune --older-than keeps what is recent, prune takes the rest.
  const rm = await s.cli(["rm", first.id.slice(0, 8)]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stderr, new RegExp(`removed session ${first.id.slice(0, 8)}`));
  await assert.rejects(Deno.stat(`${sessionsDir}/${first.id}`), Deno.errors.NotFound);
  const kept = await s.cli(["prune", "--older-than", "1h"]);
  assert.equal(kept.code, 0, kept.stderr);
  assert.equal((await psAll()).length, 1, "prune --older-than 1h removed a run a moment old");
  const dry = await s.cli(["prune", "--dry-run"]);
  assert.match(dry.stdout, new RegExp(`${second!.id} .* one-shot dead`));
  assert.equal((await psAll()).length, 1, "--dry-run removed something");
  // Files no session owns (a crash between steps) and share caches count as reclaimable.
  const orphan = `${sessionsDir}/0f0f0f0f-orphan`;
  await Deno.mkdir(`${orphan}/workspace`, { recursive: true });
  await Deno.writeFile(`${orphan}/workspace/upper.ext4`, new Uint8Array(256 * 1024).fill(7));
  const df = async () => {
    const r = await s.cli(["system", "df", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    return Object.fromEntries(
      (JSON.parse(r.stdout) as { what: string; count: number; reclaimableBytes: number }[])
        .map((row) => [row.what, row]),
    );
  };
  const before = await df();
  assert.ok(before.sessions.reclaimableBytes >= 256 * 1024, JSON.stringify(before.sessions));
  assert.ok(before["share caches"].count >= 1, "the shared exec packed no share cache");
  assert.ok(before["share caches"].reclaimableBytes > 0);
  const pruned = await s.cli(["prune"]);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /0f0f0f0f-orphan orphaned session files/);
  assert.match(pruned.stdout, /unused share cache/);
  assert.deepEqual(await psAll(), []);
  const left = [];
  for await (const entry of Deno.readDir(sessionsDir)) left.push(entry.name);
  assert.deepEqual(left, [], "session state directories left behind");
  const caches = [];
  for await (const entry of Deno.readDir(`${s.root}/cache/agentbox/shares`)) {
    caches.push(entry.name);
  }
  assert.deepEqual(caches, [], "share caches left behind");
  const after = await df();
  assert.equal(after.sessions.reclaimableBytes, 0);
  assert.equal(after["share caches"].reclaimableBytes, 0);

  const bad = await s.cli(["prune", "--older-than", "yesterday"]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /--older-than takes a number and a unit/);
});
