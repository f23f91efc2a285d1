import assert from "node:assert/strict";
import { overlayMountOptions, type ScanEntry, scanOverlay } from "./scan_overlay.ts";

const SCAN_MAIN = new URL("./testing/scan_main.ts", import.meta.url).pathname;

/** Run `script` in a private mount namespace with an overlay of `base`/{lower,upper} at merged. */
async function inOverlay(base: string, script: string): Promise<{ ok: boolean; output: string }> {
  const dirs = { lower: `${base}/lower`, upper: `${base}/upper`, work: `${base}/work` };
  for (const dir of [...Object.values(dirs), `${base}/merged`]) {
    await Deno.mkdir(dir, { recursive: true });
  }
  const mount = `mount -t overlay overlay -o '${overlayMountOptions(dirs)}' "$M"`;
  const { code, stdout, stderr } = await new Deno.Command("unshare", {
    args: ["--mount", "--propagation", "private", "sh", "-euc", `${mount}\n${script}`],
    env: { M: `${base}/merged`, DENO: Deno.execPath(), ...dirs },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(code === 0 ? stdout : stderr);
  return { ok: code === 0, output };
}

async function overlayUnavailable(): Promise<string | undefined> {
  const base = await Deno.makeTempDir();
  try {
    const { ok, output } = await inOverlay(base, "true");
    return ok ? undefined : `cannot mount overlayfs in a private mount namespace: ${output.trim()}`;
  } catch (error) {
    return `cannot run unshare: ${(error as Error).message}`;
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

const unavailable = await overlayUnavailable();
if (unavailable) console.log(`skipped: ${unavailable}`);

const LOWER_FILES: Record<string, string> = {
  "a.txt": "one\n",
  "keep.txt": "same\n",
  "gone.txt": "bye\n",
  "olddir/x": "x\n",
  "olddir/sub/y": "y\n",
  "opaque/p": "p\n",
  "opaque/q": "q\n",
  "script.sh": "#!/bin/sh\n",
  "tc": "was a file\n",
  "d/e/f": "f\n",
  "d/e/g": "g\n",
  "r1": "renamed\n",
  "movedir/m": "m\n",
  "untouched/u": "u\n",
};

// Every kind of change the scan must see, made through the merged view.
const CHANGES = `cd "$M"
printf 'two\\n' > a.txt
: >> keep.txt
rm gone.txt
rm -r olddir
rm -r opaque && mkdir opaque && printf 'n\\n' > opaque/new
chmod +x script.sh
rm tc && mkdir tc && : > tc/inner
printf 'more\\n' >> d/e/f
mv r1 r2
mv movedir moved
mkdir -p new/sub && printf 'x\\n' > new/sub/x
ln -s ../outside newlink
mkfifo fifo
mknod dev c 1 3
: > "$(printf 'bad\\377name')"
`;

async function scanAfterChanges(base: string): Promise<ScanEntry[]> {
  for (const [path, content] of Object.entries(LOWER_FILES)) {
    const file = `${base}/lower/${path}`;
    await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(file, content);
  }
  const scan = `"$DENO" run -A --quiet --no-config ${SCAN_MAIN} "$upper" "$lower" "$M"`;
  const { ok, output } = await inOverlay(base, `${CHANGES}\ncd /\n${scan}`);
  assert.ok(ok, output);
  return JSON.parse(output);
}

function summary(entry: ScanEntry): string {
  const r = entry.record;
  switch (r.type) {
    case "file":
      return `file ${r.path} ${r.mode.toString(8)} ${r.size}`;
    case "symlink":
      return `symlink ${r.path} -> ${r.target}`;
    case "unsupported":
      return `unsupported ${r.path} (${r.detail})`;
    default:
      return `${r.type} ${r.path}`;
  }
}

Deno.test({
  name: "scanOverlay reports every change of a real overlay, and nothing else",
  ignore: unavailable !== undefined,
  async fn() {
    const base = await Deno.makeTempDir();
    try {
      const entries = await scanAfterChanges(base);
      const lines = entries.map(summary).sort();
      assert.deepEqual(lines, [
        "deleted gone.txt",
        "deleted movedir",
        "deleted olddir",
        "deleted opaque/p",
        "deleted opaque/q",
        "deleted r1",
        "dir d",
        "dir d/e",
        "dir moved",
        "dir new",
        "dir new/sub",
        "dir opaque",
        "dir tc",
        "file a.txt 644 4",
        "file d/e/f 644 7",
        "file keep.txt 644 5",
        "file moved/m 644 2",
        "file new/sub/x 644 2",
        "file opaque/new 644 2",
        "file r2 644 8",
        "file script.sh 755 10",
        "file tc/inner 644 0",
        "symlink newlink -> ../outside",
        "unsupported bad\ufffdname (name is not valid UTF-8)",
        "unsupported dev (character device)",
        "unsupported fifo (fifo)",
      ]);
      const a = entries.find((e) => e.record.path === "a.txt")!;
      assert.equal(a.record.type === "file" && a.record.size, 4);
      assert.equal(a.contentPath, `${base}/merged/a.txt`);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test({
  name: "scanOverlay finds nothing in an overlay that was only read",
  ignore: unavailable !== undefined,
  async fn() {
    const base = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${base}/lower/a/b`, { recursive: true });
      await Deno.writeTextFile(`${base}/lower/a/b/c`, "c");
      const scan = `"$DENO" run -A --quiet --no-config ${SCAN_MAIN} "$upper" "$lower" "$M"`;
      const { ok, output } = await inOverlay(base, `cat "$M/a/b/c" > /dev/null\n${scan}`);
      assert.ok(ok, output);
      assert.deepEqual(JSON.parse(output), []);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test("scanOverlay yields a directory's entries in name order, parents before children", async () => {
  const base = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${base}/lower`);
    await Deno.mkdir(`${base}/upper/z/y`, { recursive: true });
    await Deno.mkdir(`${base}/upper/a/b`, { recursive: true });
    await Deno.writeTextFile(`${base}/upper/z/y/x`, "x");
    const dirs = { upper: `${base}/upper`, lower: `${base}/lower`, merged: `${base}/upper` };
    const order = [];
    for await (const { record } of scanOverlay(dirs)) order.push(record.path);
    assert.deepEqual(order, ["a", "z", "a/b", "z/y", "z/y/x"]);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("scanOverlay reports paths past the limits as unsupported, goes on, and never looks below them", async () => {
  // A long prefix, so that the guest's own limit (PATH_MAX) comes before the host's 4096 bytes.
  const temp = await Deno.realPath(await Deno.makeTempDir());
  const base = `${temp}/${"p".repeat(100)}`;
  const dirs = { upper: `${base}/upper`, lower: `${base}/lower`, merged: `${base}/merged` };
  for (const dir of Object.values(dirs)) await Deno.mkdir(dir, { recursive: true });
  const name = (i: number) => `${String(i).padStart(3, "0")}-${"n".repeat(196)}`;
  // Relative steps, as a guest makes them: no call ever sees the whole path.
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dirs.upper);
    Deno.writeTextFileSync("ok.txt", "ok\n");
    for (let depth = 0; depth < 24; depth++) {
      Deno.mkdirSync(name(depth));
      Deno.chdir(name(depth));
      Deno.writeTextFileSync("f.txt", `${depth}\n`);
    }
  } finally {
    Deno.chdir(cwd);
  }
  try {
    const records = [];
    for await (const { record } of scanOverlay(dirs)) records.push(record);
    const prefix = dirs.upper.length + 1;
    // Everything the guest can read is there, with its content's path within the kernel's limit.
    assert.ok(records.some((r) => r.path === "ok.txt" && r.type === "file"));
    const files = records.filter((r) => r.type === "file").map((r) => r.path);
    assert.equal(files.length, 1 + 19, files.map((p) => p.length).join(" ")); // depths 0-18
    for (const path of files) assert.ok(prefix + path.length <= 4095);
    // The first directory too long for the guest is reported with its reason, once; nothing
    // below it is looked at.
    const unsupported = records.filter((r) => r.type === "unsupported");
    assert.equal(unsupported.length, 1);
    assert.equal(unsupported[0].path.split("/").length, 20);
    assert.match(
      (unsupported[0] as { detail: string }).detail,
      /^path is 4019 bytes, too long to read in the guest/,
    );
  } finally {
    await new Deno.Command("rm", { args: ["-rf", "--", temp] }).output();
  }
});

Deno.test("scanOverlay: skip leaves out a subtree and its deletions; owners adds uid and gid", async () => {
  const base = await Deno.makeTempDir();
  try {
    // No overlay mount needed: an upper layer with whiteouts over a lower one.
    for (const dir of ["upper/etc", "upper/var/log", "lower/var/log", "lower/etc"]) {
      await Deno.mkdir(`${base}/${dir}`, { recursive: true });
    }
    await Deno.writeTextFile(`${base}/upper/etc/a.conf`, "a\n");
    await Deno.writeTextFile(`${base}/upper/var/log/x.log`, "log\n");
    await Deno.writeTextFile(`${base}/lower/var/log/gone.log`, "old\n");
    await Deno.writeTextFile(`${base}/lower/etc/gone.conf`, "old\n");
    // Whiteouts, as overlayfs makes them for deletions.
    for (const path of ["var/log/gone.log", "etc/gone.conf"]) {
      const made = await new Deno.Command("mknod", {
        args: [`${base}/upper/${path}`, "c", "0", "0"],
      })
        .output();
      assert.ok(made.success, "mknod (needs root)");
    }
    const dirs = { upper: `${base}/upper`, lower: `${base}/lower`, merged: `${base}/upper` };
    const seen: Record<string, unknown>[] = [];
    const skip = (path: string) => path === "var/log" || path.startsWith("var/log/");
    for await (const { record } of scanOverlay(dirs, { skip, owners: true })) seen.push(record);
    assert.deepEqual(seen.map((r) => [r.path, r.type]), [
      ["etc", "dir"],
      ["var", "dir"],
      ["etc/a.conf", "file"],
      ["etc/gone.conf", "deleted"],
    ]);
    const file = seen.find((r) => r.path === "etc/a.conf")!;
    assert.equal(file.uid, Deno.uid());
    assert.equal(file.gid, Deno.gid());
    assert.ok(!("uid" in seen.find((r) => r.type === "deleted")!));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
