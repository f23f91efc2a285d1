/**
 * `agentbox images rm` removes the image's template snapshots too: a real template is made by a
 * real exec of an image derived from the default one (its files symlinked), then removed.
 */
import assert from "node:assert/strict";
import { dataDir } from "../../host/paths.ts";
import { agentbox } from "../helpers.ts";

const decoder = new TextDecoder();

async function cli(args: string[], env: Record<string, string>) {
  const out = await agentbox(args, { env }).output();
  return { code: out.code, stderr: decoder.decode(out.stderr) };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("images rm: the image's template snapshots go with it, other images' stay", async () => {
  const root = await Deno.makeTempDir({ prefix: "agentbox-images-rm-" });
  const env = {
    XDG_DATA_HOME: `${root}/data`,
    XDG_CACHE_HOME: `${root}/cache`,
    XDG_STATE_HOME: `${root}/state`,
  };
  try {
    const images = `${dataDir()}/images`;
    const dir = `${root}/data/agentbox/images/rmtest`;
    await Deno.mkdir(dir, { recursive: true });
    for (const file of ["vmlinuz", "initrd.img", "rootfs.erofs"]) {
      await Deno.symlink(`${images}/default/${file}`, `${dir}/${file}`);
    }
    const manifest = JSON.parse(await Deno.readTextFile(`${images}/default/manifest.json`));
    await Deno.writeTextFile(
      `${dir}/manifest.json`,
      JSON.stringify({ ...manifest, name: "rmtest" }),
    );
    const project = `${root}/project`;
    await Deno.mkdir(project);
    // Another image's template: must survive.
    const other = `${root}/cache/agentbox/templates/default/kept`;
    await Deno.mkdir(other, { recursive: true });

    const run = await agentbox(["exec", "--image", "rmtest", "--", "true"], { env, cwd: project })
      .output();
    assert.equal(run.code, 0, decoder.decode(run.stderr));
    const templates = `${root}/cache/agentbox/templates/rmtest`;
    const made = [];
    for await (const entry of Deno.readDir(templates)) made.push(entry.name);
    assert.equal(made.length, 1, "positive control: the exec made a template of the image");
    assert.ok(await exists(`${templates}/${made[0]}/state`));

    const rm = await cli(["images", "rm", "rmtest"], env);
    assert.equal(rm.code, 0, rm.stderr);
    assert.ok(!(await exists(dir)), "the image is gone");
    assert.ok(!(await exists(templates)), "its templates are gone");
    assert.ok(await exists(other), "another image's template is untouched");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
