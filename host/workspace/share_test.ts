import assert from "node:assert/strict";
import { readBaseline } from "./baseline.ts";
import { prepareShare } from "./share.ts";

/** A scratch project, a cache and two session directories. */
async function scratch() {
  const base = await Deno.makeTempDir({ prefix: "agentbox-share-" });
  const project = `${base}/project`;
  await Deno.mkdir(`${project}/src`, { recursive: true });
  await Deno.mkdir(`${project}/node_modules/left-pad`, { recursive: true });
  await Deno.mkdir(`${project}/web/node_modules/x`, { recursive: true });
  await Deno.writeTextFile(`${project}/src/main.ts`, "console.log(1);\n");
  await Deno.writeTextFile(`${project}/node_modules/left-pad/index.js`, "module.exports = 1;\n");
  await Deno.writeTextFile(`${project}/web/node_modules/x/a.js`, "x\n");
  await Deno.writeTextFile(`${project}/debug.log`, "noise\n");
  return {
    base,
    project,
    cacheDir: `${base}/cache`,
    cleanup: () => Deno.remove(base, { recursive: true }),
  };
}

/** Every path inside an erofs image, extracted by fsck.erofs (the real tool, no mount needed). */
async function imagePaths(image: string, into: string): Promise<string[]> {
  const out = await new Deno.Command("fsck.erofs", { args: [`--extract=${into}`, image] })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const paths: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      paths.push(path);
      if (e.isDirectory) walk(`${dir}/${e.name}`, path);
    }
  };
  walk(into, "");
  return paths.sort();
}

Deno.test("share: share.exclude leaves paths out of the baseline and of the packed image", async () => {
  const s = await scratch();
  try {
    const share = await prepareShare(s.project, `${s.base}/session`, {
      cacheDir: s.cacheDir,
      exclude: ["node_modules/", "*.log"],
      upperBytes: 64 * 1024 ** 2,
    });
    assert.deepEqual(share.excluded?.sort(), ["debug.log", "node_modules", "web/node_modules"]);
    const baseline = await readBaseline(share.baselineFile);
    assert.deepEqual(Object.keys(baseline.entries).sort(), ["src", "src/main.ts", "web"]);
    assert.deepEqual(await imagePaths(share.lowerImage, `${s.base}/extracted`), [
      "src",
      "src/main.ts",
      "web",
    ]);
  } finally {
    await s.cleanup();
  }
});

Deno.test("share: concurrent sessions of one tree pack it once", async () => {
  const s = await scratch();
  try {
    const messages: string[] = [];
    const options = {
      cacheDir: s.cacheDir,
      upperBytes: 64 * 1024 ** 2,
      onProgress: (m: string) => messages.push(m),
    };
    const [a, b, c] = await Promise.all([
      prepareShare(s.project, `${s.base}/s1`, options),
      prepareShare(s.project, `${s.base}/s2`, options),
      prepareShare(s.project, `${s.base}/s3`, options),
    ]);
    assert.equal(messages.filter((m) => m.startsWith("packing")).length, 1, messages.join("\n"));
    assert.equal(new Set([a.lowerImage, b.lowerImage, c.lowerImage]).size, 1);
    assert.deepEqual([a.cached, b.cached, c.cached].filter((x) => !x).length, 1);
  } finally {
    await s.cleanup();
  }
});

Deno.test("share: a failed pack leaves no image and no temporary file; a killed one's leftover goes", async () => {
  const s = await scratch();
  const path = Deno.env.get("PATH") ?? "";
  try {
    // A mkfs.erofs that writes part of an image, then fails (as a full disk would).
    const bin = `${s.base}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      `${bin}/mkfs.erofs`,
      '#!/bin/sh\nfor a; do out=$prev; prev=$a; done\nhead -c 4096 /dev/zero > "$out"\n' +
        'echo "No space left on device" >&2\nexit 1\n',
    );
    await Deno.chmod(`${bin}/mkfs.erofs`, 0o755);
    Deno.env.set("PATH", `${bin}:${path}`);
    await assert.rejects(
      prepareShare(s.project, `${s.base}/s1`, { cacheDir: s.cacheDir }),
      /Cannot pack .*No space left on device/,
    );
    const [dir] = [...Deno.readDirSync(s.cacheDir)].map((e) => `${s.cacheDir}/${e.name}`);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left.filter((n) => n !== "pack.lock"), [], left.join(", "));
    Deno.env.set("PATH", path);
    // A pack killed half-way leaves its temporary file: the next pack removes it.
    await Deno.writeTextFile(`${dir}/0123.erofs.dead.tmp`, "partial");
    const share = await prepareShare(s.project, `${s.base}/s2`, {
      cacheDir: s.cacheDir,
      upperBytes: 64 * 1024 ** 2,
    });
    const now = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !n.startsWith("top-"));
    assert.deepEqual(
      now.sort(),
      [share.lowerImage.split("/").at(-1)!, "chain.json", "pack.lock"].sort(),
    );
  } finally {
    Deno.env.set("PATH", path);
    await s.cleanup();
  }
});

Deno.test("share: a large tree is announced with its size and how to exclude, with progress", async () => {
  const s = await scratch();
  try {
    for (let i = 0; i < 10_050; i++) Deno.writeTextFileSync(`${s.project}/src/f${i}`, "");
    const messages: string[] = [];
    const steps: string[] = [];
    await prepareShare(s.project, `${s.base}/s1`, {
      cacheDir: s.cacheDir,
      upperBytes: 64 * 1024 ** 2,
      largeTree: { entries: 10_000, bytes: 1024 ** 3 },
      onProgress: (m) => messages.push(m),
      onStep: (m) => steps.push(m),
    });
    assert.equal(messages.length, 1);
    assert.match(
      messages[0],
      /^packing .*\/project \(10060 entries, .*\): a large tree; leave parts out with share\.exclude in \.agentbox\.toml \(e\.g\. exclude = \["node_modules\/", "target\/"\]\)/,
    );
    // Every 10,000 entries or so (as a chunk of find's output ends).
    const counts = steps.map((m) => /^reading .*: (\d+) entries$/.exec(m)?.[1]).filter(Boolean);
    assert.ok(counts.length > 0 && counts.every((n) => Number(n) >= 10000), steps.join("\n"));
  } finally {
    await s.cleanup();
  }
});
