/**
 * `--share`, `diff` and `apply` as a user runs them: real VMs change a shared directory through
 * the overlay, and the host tree is checked byte for byte afterwards.
 */
import assert from "node:assert/strict";
import { cli, hostListing, shareSandbox as sandbox, TREE_LISTING } from "./share_sandbox.ts";

Deno.test("workspace: diff lists exactly the guest's changes, apply reproduces its tree", async () => {
  const s = await sandbox();
  try {
    const p = s.project;
    await Deno.writeTextFile(`${p}/text.txt`, "one\ntwo\n");
    await Deno.writeTextFile(`${p}/tool.sh`, "#!/bin/sh\necho hi\n");
    await Deno.writeTextFile(`${p}/old-name.txt`, "moved\n");
    await Deno.writeTextFile(`${p}/gone.txt`, "bye\n");
    await Deno.mkdir(`${p}/dir/sub`, { recursive: true });
    await Deno.writeTextFile(`${p}/dir/sub/deep.txt`, "deep\n");
    await Deno.writeFile(`${p}/blob.bin`, new Uint8Array([0, 1, 2, 3]));
    const script = [
      "printf 'one\\nTWO\\nthree\\n' > text.txt",
      "chmod +x tool.sh",
      "mv old-name.txt new-name.txt",
      "rm gone.txt",
      "mkdir -p made/nested && printf 'nested\\n' > made/nested/file.txt",
      "head -c 4096 /dev/urandom > blob.bin",
      "ln -s made/nested/file.txt link",
      "rm -r dir/sub",
      TREE_LISTING,
    ].join("\n");
    const run = await cli(["exec", "--share", p, "--", "sh", "-c", script], s.env);
    assert.equal(run.code, 0, run.stderr);
    const guestTree = run.stdout;
    const session = /agentbox diff ([0-9a-f]{8})/.exec(run.stderr)?.[1];
    assert.ok(session, run.stderr);
    assert.match(run.stderr, /kept: review with/);

    const diff = await cli(["diff", session, "--json"], s.env);
    assert.equal(diff.code, 0, diff.stderr);
    const entries = JSON.parse(diff.stdout).entries.map((e: { path: string; status: string }) =>
      `${e.status} ${e.path}`
    );
    assert.deepEqual(entries.sort(), [
      "added link",
      "added made",
      "added made/nested",
      "added made/nested/file.txt",
      "added new-name.txt",
      "deleted dir/sub",
      "deleted dir/sub/deep.txt",
      "deleted gone.txt",
      "deleted old-name.txt",
      "mode-changed tool.sh",
      "modified blob.bin",
      "modified text.txt",
    ]);
    const patch = await cli(["diff", session], s.env);
    assert.match(patch.stdout, /-two\n\+TWO\n\+three/);
    assert.match(patch.stdout, /Binary files a\/blob.bin and b\/blob.bin differ/);

    const apply = await cli(["apply", session, "--allow-symlinks"], s.env);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.equal(await hostListing(p), guestTree);
    // Applying again changes nothing.
    const again = await cli(["apply", session], s.env);
    assert.match(again.stdout, /Already applied/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("workspace: a host file changed during the session is a conflict, not overwritten", async () => {
  const s = await sandbox();
  try {
    await Deno.writeTextFile(`${s.project}/a.txt`, "original\n");
    const run = await cli(
      ["exec", "--json", "--share", s.project, "--", "sh", "-c", "echo guest > a.txt; echo out"],
      s.env,
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    // The command's stdout is in the file the report names, not on agentbox's stdout or stderr.
    assert.equal(await Deno.readTextFile(report.output.stdout), "out\n");
    assert.equal(report.exitCode, 0);
    assert.deepEqual(report.changes.entries.map((e: { path: string }) => e.path), ["a.txt"]);
    assert.ok(report.timings.bootMs > 0 && report.timings.totalMs >= report.timings.bootMs);

    await Deno.writeTextFile(`${s.project}/a.txt`, "edited on the host\n");
    const apply = await cli(["apply", report.session], s.env);
    assert.equal(apply.code, 1);
    assert.match(apply.stdout, /conflict\s+a\.txt/);
    assert.equal(await Deno.readTextFile(`${s.project}/a.txt`), "edited on the host\n");
    const forced = await cli(["apply", report.session, "--force"], s.env);
    assert.equal(forced.code, 0, forced.stdout);
    assert.equal(await Deno.readTextFile(`${s.project}/a.txt`), "guest\n");
  } finally {
    await s.cleanup();
  }
});

Deno.test("workspace: --apply writes the changes at once, --discard drops them", async () => {
  const s = await sandbox();
  try {
    const applied = await cli(
      ["exec", "--share", s.project, "--apply", "--", "sh", "-c", "echo a > a.txt"],
      s.env,
    );
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(await Deno.readTextFile(`${s.project}/a.txt`), "a\n");
    const discarded = await cli(
      ["exec", "--share", s.project, "--discard", "--", "sh", "-c", "echo b > b.txt"],
      s.env,
    );
    assert.equal(discarded.code, 0, discarded.stderr);
    assert.match(discarded.stderr, /changes discarded/);
    assert.deepEqual([...Deno.readDirSync(s.project)].map((e) => e.name), ["a.txt"]);
    const usage = await cli(["exec", "--discard", "--", "true"], s.env);
    assert.equal(usage.code, 125);
    assert.match(usage.stderr, /--discard needs --share DIR/);
  } finally {
    await s.cleanup();
  }
});

Deno.test("workspace: a hostile guest cannot reach outside the shared directory on apply", async () => {
  const s = await sandbox();
  try {
    const p = s.project;
    const outside = `${s.base}/outside`; // stands for /etc and the rest of the host
    await Deno.mkdir(outside);
    await Deno.writeTextFile(`${outside}/passwd`, "root:x:0:0\n");
    await Deno.mkdir(`${p}/d`);
    await Deno.writeTextFile(`${p}/d/f.txt`, "host\n");
    await Deno.mkdir(`${p}/.git/hooks`, { recursive: true });
    const script = [
      // A link out of the workspace and a write "through" it: in the guest that is the guest's
      // own /etc; on the host only the link may ever be considered.
      `mkdir -p ${outside} && ln -s ${outside} x && echo pwned >> x/passwd`,
      "ln -s .. up",
      "printf 'evil\\n' > \"$(printf 'new\\nline')\"",
      "printf 'bad' > \"$(printf 'bad\\377name')\"",
      "printf 'x' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit",
      "printf 'suid' > suid && chmod 4755 suid",
      "mkfifo fifo",
      "echo guest > d/f.txt && echo new > d/g.txt",
    ].join(" && ");
    const run = await cli(["exec", "--share", p, "--", "sh", "-c", script], s.env);
    assert.equal(run.code, 0, run.stderr);
    const session = /agentbox diff ([0-9a-f]{8})/.exec(run.stderr)![1];
    // Between the session and the apply, a host directory becomes a link to elsewhere.
    await Deno.remove(`${p}/d`, { recursive: true });
    await Deno.symlink(outside, `${p}/d`);

    const apply = await cli(["apply", session], s.env);
    assert.equal(apply.code, 1, apply.stdout + apply.stderr);
    const out = apply.stdout;
    assert.match(out, /x: .*--allow-symlinks/);
    assert.match(out, /\.git\/hooks\/pre-commit/);
    assert.match(out, /new\\x0aline/); // the name is escaped, never printed raw
    assert.match(out, /fifo/);
    assert.match(out, /d\/f\.txt/);
    // Nothing outside the project changed; the hook, the fifo and the odd names were not made.
    assert.equal(await Deno.readTextFile(`${outside}/passwd`), "root:x:0:0\n");
    assert.deepEqual([...Deno.readDirSync(outside)].map((e) => e.name), ["passwd"]);
    assert.deepEqual([...Deno.readDirSync(`${p}/.git/hooks`)], []);
    const names = [...Deno.readDirSync(p)].map((e) => e.name).sort();
    assert.ok(
      !names.includes("fifo") && !names.includes("x") && !names.includes("up"),
      names.join(),
    );
    assert.ok(!names.some((n) => n.includes("\n")), names.join());
    const suid = await Deno.lstat(`${p}/suid`).catch(() => undefined);
    if (suid) assert.equal((suid.mode ?? 0) & 0o7000, 0);
  } finally {
    await s.cleanup();
  }
});

Deno.test("workspace: a generated tree is one line of the summary, and the gitignore filter says what it hid (issue 19.4)", async () => {
  const s = await sandbox();
  try {
    await Deno.writeTextFile(`${s.project}/.gitignore`, "node_modules/\n");
    const run = await cli([
      "exec",
      "--share",
      s.project,
      "--",
      "sh",
      "-c",
      "mkdir -p node_modules/pkg && for i in $(seq 30); do echo $i > node_modules/pkg/f$i.js; done; echo hi > a.txt",
    ], s.env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, / {2}node_modules\/ \| 30 files \(new directory, collapsed\)\n/);
    assert.match(run.stderr, / {2}a\.txt +\| 1 \+\n/);
    assert.match(run.stderr, / 31 files changed, 1 insertion\(\+\)\n/);
    const session = run.stderr.match(/agentbox diff (\w{8})`/)?.[1];
    assert.ok(session, run.stderr);
    assert.match(run.stderr, new RegExp(`every file: \`agentbox diff ${session} --stat\``));
    const full = await cli(["diff", session, "--stat"], s.env);
    assert.match(full.stdout, /node_modules\/pkg\/f30\.js/);
    const hidden = await cli(["diff", session, "--name-only", "--hide-gitignored"], s.env);
    assert.equal(hidden.stdout, "a.txt\n");
    assert.match(hidden.stderr, /32 entries not shown: 32 hidden by --hide-gitignored/);
    const only = await cli(["diff", session, "--hide-gitignored", "--", "node_modules"], s.env);
    assert.match(only.stdout, /^No changes shown \(.*32 hidden by --hide-gitignored/);
  } finally {
    await s.cleanup();
  }
});
