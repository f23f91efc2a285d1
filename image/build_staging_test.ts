import assert from "node:assert/strict";
import { makeBuildStaging, removeOwnStagingsSync, removeStaleBuilds } from "./build_staging.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("removeStaleBuilds: removes dead builds' leftovers, keeps live builds and images", async () => {
  const images = await Deno.makeTempDir();
  await Deno.mkdir(`${images}/default`);
  // A killed build: its lock file is there, nobody holds it.
  await Deno.mkdir(`${images}/.default.build-dead1/work`, { recursive: true });
  await Deno.writeTextFile(`${images}/.default.build-dead1.lock`, "");
  // A half-removed image.
  await Deno.mkdir(`${images}/.old.rm-0123abcd`);
  // A build under way in another process: `flock` holds its lock while it sleeps.
  await Deno.mkdir(`${images}/.dev.build-live1`);
  const holder = new Deno.Command("flock", {
    args: [`${images}/.dev.build-live1.lock`, "sleep", "30"],
  }).spawn();
  // An image a killed build had moved aside, with nothing in its place: put back.
  await Deno.mkdir(`${images}/.bench.build-dead2.old`);
  await Deno.writeTextFile(`${images}/.bench.build-dead2.old/manifest.json`, "{}");
  await Deno.writeTextFile(`${images}/.bench.build-dead2.lock`, "");
  // Without a lock file (an older agentbox's build): stale only when old.
  await Deno.mkdir(`${images}/.fresh.build-nolock`);
  await Deno.mkdir(`${images}/.aged.build-nolock`);
  const hourAgo = new Date(Date.now() - 2 * 3600_000);
  await Deno.utime(`${images}/.aged.build-nolock`, hourAgo, hourAgo);
  // This process's own build in progress.
  const own = await makeBuildStaging(images, "mine");
  try {
    await new Promise((resolve) => setTimeout(resolve, 300)); // flock has taken its lock
    const removed = (await removeStaleBuilds(images)).map((p) => p.slice(images.length + 1));
    assert.deepEqual(removed.sort(), [
      ".aged.build-nolock",
      ".default.build-dead1",
      ".old.rm-0123abcd",
    ]);
    const left = (await Array.fromAsync(Deno.readDir(images))).map((e) => e.name).sort();
    assert.deepEqual(
      left,
      [
        ".dev.build-live1",
        ".dev.build-live1.lock",
        ".fresh.build-nolock",
        own.dir.slice(images.length + 1),
        `${own.dir.slice(images.length + 1)}.lock`,
        "bench",
        "default",
      ].sort(),
    );
    assert.ok(await exists(`${images}/bench/manifest.json`));
  } finally {
    holder.kill();
    await holder.status;
    await own.close();
  }
  assert.ok(!(await exists(own.dir)) && !(await exists(`${own.dir}.lock`)));
  await Deno.remove(images, { recursive: true });
});

Deno.test("removeOwnStagingsSync removes this process's staging directories at once", async () => {
  const images = await Deno.makeTempDir();
  const staging = await makeBuildStaging(images, "default");
  await Deno.writeTextFile(`${staging.dir}/rootfs.erofs`, "x".repeat(1000));
  assert.deepEqual(removeOwnStagingsSync(), [staging.dir]);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(images)), []);
  assert.deepEqual(removeOwnStagingsSync(), []);
  await staging.close();
  await Deno.remove(images, { recursive: true });
});
