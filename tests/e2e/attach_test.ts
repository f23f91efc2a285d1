/**
 * Living in a session: `run --detach -- CMD` runs CMD on a terminal in the guest; `attach` (in
 * real terminals: tmux) replays its scrollback, shows new output, types into it, detaches with
 * Ctrl-P Ctrl-Q; a second, read-only client watches at the same time and cannot type; `logs -f`
 * follows the output and ends with the session; `stop` gives the command SIGTERM, its trap runs
 * and what it wrote is in the changes. One real VM.
 */

import assert from "node:assert/strict";
import { agentbox, waitFor } from "../helpers.ts";
import { decoder, sandbox } from "./session_sandbox.ts";
import { agentboxLine, hasTmux, startTmux } from "./tmux.ts";

// Busybox sh: `read -t 1` waits a second for a line, so the loop ticks and answers typing; the
// trap runs between commands once SIGTERM came (stop).
const COMMAND = `trap 'echo bye > /workspace/trapped.txt; exit 0' TERM
i=0
while :; do
  i=$((i+1)); echo "tick $i"
  if read -t 1 line; then echo "got:$line"; fi
done`;

Deno.test({
  name: "attach: replay, typing, detach keys, two clients, read-only, logs -f, graceful stop",
  ignore: !hasTmux,
}, async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "looper", "--", "sh", "-c", COMMAND]);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stderr, /agentbox attach looper/);
  // Output printed before anyone attached.
  const early = await s.cli(["logs", "looper"]);
  assert.ok(
    await waitFor(async () => /tick 2/.test((await s.cli(["logs", "looper"])).stdout), 60_000),
    `no ticks in the log: ${early.stdout} ${early.stderr}`,
  );

  await using typist = await startTmux(100, 30);
  typist.line(agentboxLine(s.env, ["attach", "looper"]));
  // The scrollback comes first (tick 1 was printed before attaching), then new lines.
  await typist.waitScreen((screen) => /tick 1\b/.test(screen), "the replayed tick 1");
  const latest = () => Math.max(...[...typist.screen().matchAll(/tick (\d+)/g)].map((m) => +m[1]));
  const seen = latest();
  await typist.waitScreen(() => latest() > seen + 1, "new ticks after attaching");

  // Typing reaches the program.
  typist.line("hello");
  await typist.waitScreen((screen) => /got:hello/.test(screen), "the program's answer");

  // A read-only watcher at the same time: it sees the replay and live output, its keys go nowhere.
  await using watcher = await startTmux(100, 30);
  watcher.line(agentboxLine(s.env, ["attach", "--read-only", "looper"]));
  await watcher.waitScreen((screen) => /got:hello/.test(screen), "the watcher's replay");
  watcher.line("sneaky");
  typist.line("again");
  await watcher.waitScreen((screen) => /got:again/.test(screen), "live output in the watcher");
  await typist.waitScreen((screen) => /got:again/.test(screen), "the typist's answer");
  const logged = (await s.cli(["logs", "looper"])).stdout;
  assert.match(logged, /got:again/);
  assert.doesNotMatch(logged, /got:sneaky/, "a read-only watcher typed into the command");

  // Ctrl-P Ctrl-Q detaches and leaves the command running; Ctrl-C detaches a watcher.
  typist.type("C-p", "C-q");
  await typist.waitScreen((screen) => /detached from looper[\s\S]*status=0/.test(screen), "detach");
  watcher.type("C-c");
  await watcher.waitScreen(
    (screen) => /detached from looper[\s\S]*status=0/.test(screen),
    "Ctrl-C",
  );
  const ps = await s.ps();
  assert.deepEqual(ps.map((e) => [e.name, e.state]), [["looper", "running"]]);
  const tail = await s.cli(["logs", "--tail", "2", "looper"]);
  assert.equal(tail.code, 0, tail.stderr);
  assert.equal(tail.stdout.trimEnd().split("\n").length, 2, tail.stdout);

  // `logs -f` follows until the session ends; `stop` sends SIGTERM and the trap's file is kept.
  const follow = agentbox(["logs", "-f", "looper"], { env: s.env, cwd: s.project });
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const stop = await s.cli(["stop", "--time", "20", "looper"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, /session looper stopped/);
  assert.doesNotMatch(stop.stderr, /killed/);
  const followed = await follow.output();
  assert.equal(followed.code, 0, decoder.decode(followed.stderr));
  assert.match(decoder.decode(followed.stdout), /got:again[\s\S]*tick/);
  assert.deepEqual((await s.ps()).map((e) => [e.name, e.state]), [["looper", "stopped"]]);
  const diff = await s.cli(["diff", "looper", "--name-only"]);
  assert.equal(diff.code, 0, diff.stderr);
  assert.equal(diff.stdout, "trapped.txt\n");
  const [session] = await s.ps();
  const ownerLog = await Deno.readTextFile(
    `${s.root}/state/agentbox/sessions/${session.id}/owner.log`,
  );
  assert.match(ownerLog, /command "sh" ended: \{"code":0/);
  assert.doesNotMatch(ownerLog, /did not finish/);
});

Deno.test("attach: a session without a command, and usage errors", async () => {
  await using s = await sandbox();
  for (
    const args of [["attach"], ["attach", "nope"], ["logs"], ["logs", "nope"], ["logs", "--json"], [
      "attach",
      "--detach-keys",
      "ctrl-1",
      "x",
    ], ["stop", "--kill", "--time", "3", "x"]]
  ) {
    const r = await s.cli(args);
    assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^agentbox: error: [^\n]+\n$/, args.join(" "));
  }
  const started = await s.cli(["run", "--detach", "--name", "bare"]);
  assert.equal(started.code, 0, started.stderr);
  const attach = await s.cli(["attach", "bare"]);
  assert.equal(attach.code, 126, attach.stderr);
  assert.match(attach.stderr, /started without a command.*agentbox shell bare/);
  const logs = await s.cli(["logs", "bare"]);
  assert.deepEqual([logs.code, logs.stdout], [0, ""]);
  const stop = await s.cli(["stop", "--time", "0", "bare"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, /session bare stopped/);
});
