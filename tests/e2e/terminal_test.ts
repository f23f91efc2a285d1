/**
 * `agentbox run` on a real terminal: tmux gives agentbox a terminal, types into it, resizes its
 * window and reads the screen back with `capture-pane`. Real VMs (two boots).
 *
 * What is asserted after agentbox is killed with SIGKILL: the pane's shell (dash, which unlike
 * bash does not reset the terminal itself after a killed job) is still alive and `stty -a` shows
 * the settings it had before (`icanon`, `echo`, `opost`, `isig`, `min = 1`): the guardian put them
 * back. Nothing asserts how the screen looks then.
 */

import assert from "node:assert/strict";
import { openDatabase } from "../../host/store/database.ts";
import { createSession } from "../../host/store/sessions.ts";
import { changesetPaths } from "../../host/workspace/changeset.ts";
import {
  takeTestBaseline,
  writeChangeset,
  writeTree,
} from "../../host/workspace/testing/test_tree.ts";
import { processesMatching, REPO, waitFor } from "../helpers.ts";
import { agentboxLine, hasTmux, startTmux } from "./tmux.ts";

function childrenOf(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
      .filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

Deno.test({
  name: "terminal: vi in agentbox run renders, takes keys, follows a resize, saves",
  ignore: !hasTmux,
}, async () => {
  await using term = await startTmux(80, 24);
  const project = `${term.dir}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(`${project}/notes.txt`, "original\n");
  term.line(`cd ${project}`);
  term.line(
    agentboxLine({ XDG_RUNTIME_DIR: term.dir }, [
      "run",
      "--net",
      "none",
      "--apply",
      "--",
      "vi",
      "notes.txt",
    ]),
  );
  // Busybox vi: the text, `~` for lines past the end, and a status line at the bottom.
  await term.waitScreen((s) => /^original$/m.test(s) && /notes\.txt/.test(s), "vi's screen");
  term.type("A", " typed in vi", "Escape");
  await term.waitScreen((s) => /^original typed in vi$/m.test(s), "the typed text");

  term.resize(60, 15);
  await term.waitScreen((s) => {
    const rows = s.split("\n").slice(0, 15);
    // Redrawn for 15 rows: text, 13 tildes, the status line on the last row.
    return rows.filter((r) => r === "~").length === 13 && /notes\.txt/.test(rows[14] ?? "");
  }, "vi redrawn at 60x15");

  term.line(":wq");
  await term.waitScreen((s) => /status=\d+/.test(s), "agentbox to end");
  const screen = term.screen();
  assert.match(screen, /status=0/);
  assert.match(screen, /notes\.txt/);
  assert.equal(await Deno.readTextFile(`${project}/notes.txt`), "original typed in vi\n");
});

Deno.test({
  name: "terminal: top in agentbox run follows a resize; SIGKILL leaves a sane terminal",
  ignore: !hasTmux,
}, async () => {
  await using term = await startTmux(60, 20);
  term.line(
    agentboxLine({ XDG_RUNTIME_DIR: term.dir }, [
      "run",
      "--net",
      "none",
      "--no-share",
      "--",
      "top",
    ]),
  );
  await term.waitScreen((s) => /Load average/.test(s) && /PID/.test(s), "top's screen");
  const widest = (s: string) => Math.max(...s.split("\n").map((line) => line.length));
  assert.ok(widest(term.screen()) <= 60);
  term.resize(100, 30);
  await term.waitScreen((s) => widest(s) > 60 && s.split("\n").length >= 29, "top at 100x30");

  // agentbox is the pane shell's child; QEMU is agentbox's.
  const agentbox = childrenOf(term.panePid());
  assert.equal(agentbox.length, 1, "positive control: agentbox is running");
  const vms = `${term.dir}/agentbox/vm-`;
  assert.ok(processesMatching(vms).length > 0, "positive control: QEMU is running");
  // Its whole process group, as a job control `kill -9 %1` would.
  Deno.kill(-agentbox[0], "SIGKILL");
  await term.waitScreen((s) => /status=137/.test(s), "the shell to report the kill");
  assert.match(term.screen(), /agentbox: killed; terminal settings restored/);
  assert.equal(term.paneDead(), false, "the pane's shell survived");

  term.line("stty -a; echo done");
  await term.waitScreen((s) => /^done$/m.test(s), "stty's output");
  const screen = term.screen();
  const settings = screen.slice(screen.lastIndexOf("stty -a; echo done") + 18);
  for (const flag of ["icanon", "echo", "opost", "isig", "icrnl"]) {
    assert.match(settings, new RegExp(`(^|\\s)${flag}(\\s|$)`, "m"), `${flag} is on`);
  }
  assert.match(settings, /min = 1;/);
  assert.ok(await waitFor(() => processesMatching(vms).length === 0, 5000), "QEMU survived");
});

Deno.test({
  name: "terminal: one Ctrl-C typed during exec reaches the command, not the VM; changes are kept",
  ignore: !hasTmux,
}, async () => {
  await using term = await startTmux(100, 30);
  const project = `${term.dir}/project`;
  await Deno.mkdir(project);
  term.line(`cd ${project}`);
  term.line(agentboxLine({ XDG_RUNTIME_DIR: term.dir }, [
    "exec",
    "--net",
    "none",
    "--share",
    project,
    "--",
    "sh",
    "-c",
    "echo kept > made.txt && echo READY && sleep 60",
  ]));
  await term.waitScreen((s) => /^READY$/m.test(s), "the command to start");
  // Typed into the terminal: the kernel sends SIGINT to the whole foreground process group.
  term.type("C-c");
  await term.waitScreen((s) => /Apply these changes/.test(s), "the question about the changes");
  const asked = term.screen();
  assert.doesNotMatch(asked, /The VM stopped/);
  assert.match(asked, /made\.txt/);
  term.line("n");
  await term.waitScreen((s) => /status=\d+/.test(s), "agentbox to end");
  const screen = term.screen();
  assert.match(screen, /status=130/);
  assert.match(screen, /agentbox: kept: review with `agentbox diff [0-9a-f]{8}`/);
  assert.equal(await Deno.readTextFile(`${project}/made.txt`).catch(() => "absent"), "absent");
});

Deno.test({
  name:
    "terminal: exec's graylist question is not drawn over by the guest; the answer names the host",
  ignore: !hasTmux,
}, async () => {
  await using term = await startTmux(120, 30);
  const project = `${term.dir}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(`${project}/.agentbox.toml`, '[network]\ngray = ["gray.test"]\n');
  // The guest erases the current line and prints a fake question for another host, every 50 ms,
  // while it asks for a graylisted one.
  const guest = `while :; do printf '\\033[2K\\ragentbox: evil.test:80 is graylisted (fake). '; ` +
    `sleep 0.05; done & flood=$!; curl -s -o /dev/null -m 60 http://gray.test/; kill $flood; ` +
    `echo; echo guest-done`;
  term.line(`cd ${project}`);
  const state = `${term.dir}/state`;
  term.line(
    agentboxLine({ XDG_RUNTIME_DIR: term.dir, XDG_STATE_HOME: state }, [
      ...["exec", "--", "sh", "-c", guest],
    ]),
  );
  const real = "agentbox: gray.test:80 is graylisted";
  await term.waitScreen((s) => s.includes(real) && /Allow it\? \[o\]nce/.test(s), "the question");
  assert.match(term.screen(), /evil\.test/, "positive control: the guest was drawing");
  await new Promise((r) => setTimeout(r, 2000)); // forty rounds of the guest's loop
  const screen = term.screen();
  const below = screen.slice(screen.lastIndexOf(real));
  assert.doesNotMatch(below, /evil\.test/, `drawn over:\n${screen}`);
  assert.match(
    below,
    /^ {2}Allow it\? \[o\]nce, .*denies\):$/m,
    `the question is gone:\n${screen}`,
  );
  term.line("o");
  await term.waitScreen((s) => s.includes("agentbox: gray.test:80 allowed once"), "the answer");
  await term.waitScreen((s) => /status=\d+/.test(s), "agentbox to end");
  assert.match(term.screen(), /guest-done/);
  assert.match(term.screen(), /status=0/);
  // The question was in the approval queue too, and the typed answer is recorded as the user's.
  const db = openDatabase(`${state}/agentbox/agentbox.db`);
  try {
    const rows = db.prepare("SELECT host, decision, decided_by AS by FROM approvals").all();
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0].host, rows[0].decision], ["gray.test", "once"]);
    assert.match(String(rows[0].by), /^cli:/);
  } finally {
    db.close();
  }
});

Deno.test("terminal: run --help, and usage errors exit 125", async () => {
  const cli = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        `--config=${REPO}/deno.json`,
        `${REPO}/host/main.ts`,
        ...args,
      ],
      stdin: "null",
    }).output();
  const help = await cli(["run", "--help"]);
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /Usage: agentbox run \[OPTIONS\] \[-- CMD/);
  for (
    const args of [["run", "--share", ".", "--no-share"], ["run", "--no-share", "--apply"], [
      "run",
      "--bogus",
    ]]
  ) {
    const out = await cli(args);
    assert.equal(out.code, 125, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), /^agentbox: error: /);
  }
});

Deno.test({
  name:
    "terminal: apply asks once about high-risk changes (the CLI's decision callback) and says what it did",
  ignore: !hasTmux,
}, async () => {
  await using term = await startTmux(120, 30);
  const project = `${term.dir}/project`;
  const state = `${term.dir}/state`;
  await Deno.mkdir(project);
  await writeTree(project, { "Makefile": "all:\n", "a.txt": "a\n" });
  const db = openDatabase(`${state}/agentbox/agentbox.db`);
  createSession(db, { id: "7e4a1b2c-terminal-apply" });
  db.close();
  const paths = changesetPaths(`${state}/agentbox/sessions/7e4a1b2c-terminal-apply`);
  await Deno.mkdir(paths.blobs, { recursive: true });
  await Deno.writeTextFile(paths.baseline, JSON.stringify(await takeTestBaseline(project)));
  const records = await writeChangeset(paths.blobs, [
    { path: "Makefile", type: "file", content: "all:\n\techo changed\n" },
    { path: "a.txt", type: "file", content: "A\n" },
  ]);
  await Deno.writeTextFile(paths.records, JSON.stringify(records));
  term.line(`cd ${project} && export XDG_STATE_HOME=${state}`);
  term.line(agentboxLine({ XDG_RUNTIME_DIR: term.dir }, ["apply"]));
  await term.waitScreen((s) => /Apply these 1 high-risk change\(s\) too\?/.test(s), "the question");
  assert.match(term.screen(), /These changes are high-risk.*\n {2}Makefile: /);
  term.line("y");
  await term.waitScreen((s) => /status=\d+/.test(s), "apply to end");
  const screen = term.screen();
  assert.match(screen, /Applied 2 of 2\./);
  assert.match(screen, /Undo this apply with `agentbox apply 7e4a1b2c --undo`\./);
  assert.match(screen, /status=0/);
  assert.equal(await Deno.readTextFile(`${project}/Makefile`), "all:\n\techo changed\n");
});
