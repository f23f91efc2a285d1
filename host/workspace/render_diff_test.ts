import assert from "node:assert/strict";
import { classifyChanges, type DiffEntry } from "./classify.ts";
import { loadChangeset } from "./load_changeset.ts";
import {
  MAX_PATCH_BYTES,
  renderJson,
  renderNameOnly,
  type RenderOptions,
  renderPatch,
} from "./render_diff.ts";
import { renderStat } from "./render_stat.ts";
import {
  type GuestChange,
  type HostTree,
  makeHostTree,
  sha256Hex,
  writeSession,
} from "./testing/fixture.ts";

const HOST: HostTree = {
  "text.txt": "1\n2\n3\n4\n5\n6\n7\n8\n",
  "run.sh": "#!/bin/sh\n",
  "gone.txt": "bye\n",
  "link": { symlink: "old-target" },
  "bin.dat": new Uint8Array([0, 1, 2]),
  "tc": "was a file\n",
  "olddir/a": "a\n",
  "olddir/b": "b1\nb2\n",
};

const GUEST: GuestChange[] = [
  { path: "text.txt", type: "file", content: "1\n2\n3\n4\nfive\n6\n7\n8\n" },
  { path: "run.sh", type: "file", content: "#!/bin/sh\n", mode: 0o755 },
  { path: "gone.txt", type: "deleted" },
  { path: "link", type: "symlink", target: "new-target" },
  { path: "bin.dat", type: "file", content: new Uint8Array([0, 1, 3]) },
  { path: "tc", type: "symlink", target: "elsewhere" },
  { path: "olddir", type: "deleted" },
  { path: "new.txt", type: "file", content: "hello\n" },
  { path: "evil.txt", type: "file", content: "\x1b]0;owned\x07\x1b[2Jhi\r\n\u009b31m\u202eabc\n" },
  { path: "name\u202eoops.txt", type: "file", content: "" },
];

async function rendered(
  host: HostTree,
  guest: GuestChange[],
  fn: (entries: DiffEntry[], options: RenderOptions) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${base}/project`);
    await makeHostTree(`${base}/project`, host);
    await writeSession(`${base}/session`, `${base}/project`, guest);
    const { baseline, records, paths } = await loadChangeset(`${base}/session`);
    const options = { root: baseline.root, blobs: paths.blobs, color: false };
    await fn(await classifyChanges(records, baseline, options), options);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function patchText(entries: DiffEntry[], options: RenderOptions): Promise<string> {
  let text = "";
  for await (const chunk of renderPatch(entries, options)) text += chunk;
  return text;
}

function block(patch: string, path: string): string {
  const start = patch.indexOf(`diff --git a/${path} b/${path}\n`);
  assert.ok(start >= 0, `no block for ${path} in:\n${patch}`);
  const end = patch.indexOf("\ndiff --git", start + 1);
  return patch.slice(start, end < 0 ? undefined : end + 1);
}

Deno.test("patch: git-style blocks for text, new, deleted, mode, symlink, binary, type change", async () => {
  await rendered(HOST, GUEST, async (entries, options) => {
    const patch = await patchText(entries, options);
    assert.equal(
      block(patch, "text.txt"),
      "diff --git a/text.txt b/text.txt\n--- a/text.txt\n+++ b/text.txt\n" +
        "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
    );
    assert.equal(
      block(patch, "new.txt"),
      "diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n" +
        "@@ -0,0 +1 @@\n+hello\n",
    );
    assert.equal(
      block(patch, "gone.txt"),
      "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n" +
        "+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n",
    );
    assert.equal(
      block(patch, "run.sh"),
      "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
    );
    assert.equal(
      block(patch, "link"),
      "diff --git a/link b/link\n--- a/link\n+++ b/link\n@@ -1 +1 @@\n-old-target\n" +
        "\\ No newline at end of file\n+new-target\n\\ No newline at end of file\n",
    );
    assert.equal(
      block(patch, "bin.dat"),
      "diff --git a/bin.dat b/bin.dat\nBinary files a/bin.dat and b/bin.dat differ\n",
    );
    assert.match(patch, /diff --git a\/tc b\/tc\ndeleted file mode 100644\n[^]*-was a file\n/);
    assert.match(patch, /diff --git a\/tc b\/tc\nnew file mode 120000\n[^]*\+elsewhere\n/);
    assert.match(patch, /diff --git a\/olddir b\/olddir\ndeleted directory mode 04\d{4}\n/);
    assert.match(block(patch, "olddir/b"), /-b1\n-b2\n/);
  });
});

Deno.test("patch: control characters in content and names never reach the terminal", async () => {
  await rendered(HOST, GUEST, async (entries, options) => {
    for (const color of [false, true]) {
      const patch = await patchText(entries, { ...options, color });
      // deno-lint-ignore no-control-regex
      const withoutColour = patch.replace(/\x1b\[[0-9;]*m/g, "");
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e]/.test(withoutColour));
      assert.match(withoutColour, /\+\\x1b\]0;owned\\x07\\x1b\[2Jhi\\x0d\n/);
      assert.match(withoutColour, /\+\\x9b31m\\u202eabc\n/);
      assert.match(withoutColour, /diff --git a\/name\\u202eoops\.txt/);
    }
    const json = renderJson(entries, { session: "s", root: options.root });
    assert.ok(!/[\u007f-\u009f\u202a-\u202e]/.test(json));
    assert.equal(
      JSON.parse(json).entries.find((e: DiffEntry) => e.path.includes("oops")).path,
      "name\u202eoops.txt",
    );
    assert.ok(renderNameOnly(entries).includes("name\\u202eoops.txt"));
  });
});

Deno.test("patch: colour only when asked", async () => {
  await rendered(HOST, GUEST, async (entries, options) => {
    assert.ok(!(await patchText(entries, options)).includes("\x1b["));
    const coloured = await patchText(entries, { ...options, color: true });
    assert.ok(coloured.includes("\x1b[31m-5\x1b[0m") && coloured.includes("\x1b[32m+five\x1b[0m"));
  });
});

Deno.test("patch and stat summarise files over the size cap", async () => {
  const big = "x\n".repeat(MAX_PATCH_BYTES / 2 + 1);
  await rendered(
    { "big.txt": "small\n" },
    [{ path: "big.txt", type: "file", content: big }],
    async (entries, options) => {
      const patch = await patchText(entries, options);
      assert.equal(
        patch,
        "diff --git a/big.txt b/big.txt\nLarge files a/big.txt (6 bytes) and b/big.txt " +
          `(${big.length} bytes) differ, not shown\n`,
      );
      assert.deepEqual(await renderStat(entries, options), [
        ` big.txt | Large 6 -> ${big.length} bytes`,
        " 1 file changed",
      ]);
    },
  );
});

Deno.test("stat: git-style lines, deleted directories folded, summary", async () => {
  await rendered(HOST, GUEST, async (entries, options) => {
    assert.deepEqual(await renderStat(entries, options), [
      " bin.dat               | Bin 3 -> 3 bytes",
      " evil.txt              | 2 ++",
      " gone.txt              | 1 -",
      " link                  | 2 +-",
      " name\\u202eoops.txt    | 0",
      " new.txt               | 1 +",
      " olddir/ (and 2 below) | 3 ---",
      " run.sh                | 0",
      " tc                    | 2 +-",
      " text.txt              | 2 +-",
      " 10 files changed, 6 insertions(+), 7 deletions(-)",
      " mode 100644 -> 100755 run.sh",
    ]);
    assert.deepEqual(await renderStat([], options), ["No changes."]);
  });
});

Deno.test("name-only and json list every entry", async () => {
  await rendered(HOST, GUEST, async (entries, options) => {
    assert.deepEqual(renderNameOnly(entries).slice(0, 3), ["bin.dat", "evil.txt", "gone.txt"]);
    assert.ok(renderNameOnly(entries).includes("olddir/"));
    const doc = JSON.parse(renderJson(entries, { session: "abc", root: options.root }));
    assert.equal(doc.version, 1);
    assert.equal(doc.session, "abc");
    assert.deepEqual(doc.entries.find((e: DiffEntry) => e.path === "run.sh"), {
      path: "run.sh",
      status: "mode-changed",
      old: { type: "file", mode: 0o644, size: 10 },
      new: {
        type: "file",
        mode: 0o755,
        size: 10,
        sha256: await sha256Hex("#!/bin/sh\n"),
      },
      binary: false,
      hostChanged: false,
    });
  });
});

Deno.test("every mode change is shown: patch, stat and json, with what a plain apply leaves alone (issue 14.9)", async () => {
  const host: HostTree = { "d/f.txt": "same\n", "g.txt": "same\n" };
  const guest: GuestChange[] = [
    { path: "d", type: "dir", mode: 0o777 },
    { path: "d/f.txt", type: "file", content: "same\n", mode: 0o666 },
    { path: "g.txt", type: "file", content: "same\n", mode: 0o755 },
  ];
  await rendered(host, guest, async (entries, options) => {
    assert.deepEqual(entries.map((e) => `${e.status} ${e.path}`), [
      "mode-changed d",
      "mode-changed d/f.txt",
      "mode-changed g.txt",
    ]);
    const patch = await patchText(entries, options);
    assert.match(
      block(patch, "d"),
      /old mode 040755\nnew mode 040777\n# permissions 0755 -> 0777: applied only with --exact-modes\n/,
    );
    assert.equal(
      block(patch, "d/f.txt"),
      "diff --git a/d/f.txt b/d/f.txt\n# permissions 0644 -> 0666: applied only with --exact-modes\n",
    );
    assert.match(block(patch, "g.txt"), /old mode 100644\nnew mode 100755\n/);
    const stat = await renderStat(entries, options);
    assert.deepEqual(stat.slice(-3), [
      " permissions 0755 -> 0777 d/ (applied only with --exact-modes)",
      " permissions 0644 -> 0666 d/f.txt (applied only with --exact-modes)",
      " mode 100644 -> 100755 g.txt",
    ]);
    const doc = JSON.parse(renderJson(entries, { session: "s", root: options.root }));
    assert.equal(doc.entries[0].new.mode, 0o777);
  });
});

Deno.test("stat: a large new directory collapses to one line when asked, with its file count (issue 19.4)", async () => {
  const entries: DiffEntry[] = [
    {
      path: "node_modules",
      status: "added",
      new: { type: "dir", mode: 0o755 },
      binary: false,
      hostChanged: false,
    },
    {
      path: "node_modules/a",
      status: "added",
      new: { type: "dir", mode: 0o755 },
      binary: false,
      hostChanged: false,
    },
    ...Array.from({ length: 24 }, (_, i): DiffEntry => ({
      path: `node_modules/a/f${String(i).padStart(2, "0")}.js`,
      status: "added",
      new: { type: "file", mode: 0o644, size: 0, sha256: EMPTY_SHA },
      binary: false,
      hostChanged: false,
    })),
    {
      path: "small",
      status: "added",
      new: { type: "dir", mode: 0o755 },
      binary: false,
      hostChanged: false,
    },
    {
      path: "small/x",
      status: "added",
      new: { type: "file", mode: 0o644, size: 0, sha256: EMPTY_SHA },
      binary: false,
      hostChanged: false,
    },
  ];
  const options = { root: "/nonexistent", blobs: await emptyBlobs(), color: false };
  assert.deepEqual(await renderStat(entries, { ...options, collapseAt: 20 }), [
    " node_modules/ | 24 files (new directory, collapsed)",
    " small/        | 0",
    " small/x       | 0",
    " 26 files changed",
  ]);
  const full = await renderStat(entries, options);
  assert.equal(full.length, 29, "without collapseAt every entry has its line");
});

const EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** A blobs directory holding the empty file's blob. */
async function emptyBlobs(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/${EMPTY_SHA}`, new Uint8Array());
  return dir;
}
