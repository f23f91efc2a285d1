import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { loadPolicy } from "./load_config.ts";
import { addToProjectAllowlist } from "./project_allowlist.ts";

async function edit(before: string | undefined, hosts: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-allowlist-" });
  try {
    if (before !== undefined) await Deno.writeTextFile(`${dir}/.agentbox.toml`, before);
    const update = await addToProjectAllowlist(dir, hosts);
    const after = await Deno.readTextFile(`${dir}/.agentbox.toml`).catch(() => undefined);
    const policy = await loadPolicy({ projectDir: dir, userFile: `${dir}/none.toml` });
    return { update, after, allowed: policy.allow.map((r) => r.pattern.text) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("addToProjectAllowlist creates the file and the table", async () => {
  const r = await edit(undefined, ["b.test", "a.test"]);
  assert.equal(r.after, '[network]\nallow = ["b.test", "a.test"]\n');
  assert.deepEqual(r.update.added, ["b.test", "a.test"]);
});

Deno.test("addToProjectAllowlist keeps comments and layout, adds only new names", async () => {
  const before = `# my project
[network]
mode = "allowlist" # comment
allow = [
  "a.test", # the API
  "x]y.test#not-a-comment",
]

[tools.claude]
allow = ["c.test"]
`;
  // The odd name is refused by the loader, so check the editing on a parse, not a load.
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/.agentbox.toml`, before);
  const update = await addToProjectAllowlist(dir, ["a.test", "new.test"]);
  const after = await Deno.readTextFile(`${dir}/.agentbox.toml`);
  await Deno.remove(dir, { recursive: true });
  assert.deepEqual(update.added, ["new.test"]);
  assert.equal(
    after,
    before.replace('"x]y.test#not-a-comment",\n]', '"x]y.test#not-a-comment",\n"new.test"]'),
  );
});

Deno.test("addToProjectAllowlist: a table without allow, an empty array, a one-liner", async () => {
  let r = await edit('[network]\nmode = "open"\n', ["a.test"]);
  assert.equal(r.after, '[network]\nallow = ["a.test"]\nmode = "open"\n');
  r = await edit("[network]\nallow = []\n", ["a.test"]);
  assert.equal(r.after, '[network]\nallow = ["a.test"]\n');
  r = await edit('[network]\nallow = ["x.test"]\ndeny = ["d.test"]\n', ["a.test"]);
  assert.deepEqual(r.allowed, ["x.test", "a.test"]);
  assert.match(r.after!, /deny = \["d.test"\]/);
  r = await edit('network.allow = ["x.test"]\n', ["a.test"]);
  assert.deepEqual(r.allowed, ["x.test", "a.test"]);
});

Deno.test("addToProjectAllowlist refuses bad files and bad names, changing nothing", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/.agentbox.toml`;
  try {
    await Deno.writeTextFile(file, "[network\n");
    await assert.rejects(() => addToProjectAllowlist(dir, ["a.test"]), /\.agentbox\.toml/);
    assert.equal(await Deno.readTextFile(file), "[network\n");
    await Deno.writeTextFile(file, "");
    await assert.rejects(() => addToProjectAllowlist(dir, ["*"]));
    assert.equal(await Deno.readTextFile(file), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("addToProjectAllowlist never writes through a link: not the file's, not the temp name's", async () => {
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "agentbox-victim-" }));
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "agentbox-allowlist-" }));
  const victim = `${outside}/.bashrc`;
  await Deno.writeTextFile(victim, "export PS1='$ '\n");
  try {
    // The temp name main used, planted as a link to the victim: never followed.
    await Deno.symlink(victim, `${dir}/.agentbox.toml.agentbox-tmp`);
    await Deno.writeTextFile(`${dir}/.agentbox.toml`, "[network]\n");
    await Deno.chmod(`${dir}/.agentbox.toml`, 0o640);
    const { added } = await addToProjectAllowlist(dir, ["a.test"]);
    assert.deepEqual(added, ["a.test"]);
    assert.equal(await Deno.readTextFile(victim), "export PS1='$ '\n");
    assert.equal(
      await Deno.readTextFile(`${dir}/.agentbox.toml`),
      '[network]\nallow = ["a.test"]\n',
    );
    assert.equal((await Deno.stat(`${dir}/.agentbox.toml`)).mode! & 0o777, 0o640, "mode kept");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, [".agentbox.toml", ".agentbox.toml.agentbox-tmp"], "no temp left");

    // .agentbox.toml itself a link to the victim: refused, link and victim untouched.
    await Deno.remove(`${dir}/.agentbox.toml`);
    await Deno.symlink(victim, `${dir}/.agentbox.toml`);
    await assert.rejects(
      addToProjectAllowlist(dir, ["evil.test"]),
      (e: Error) => e instanceof ConfigError && /a symlink, not a regular file/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(victim), "export PS1='$ '\n");
    assert.ok((await Deno.lstat(`${dir}/.agentbox.toml`)).isSymlink);

    // A FIFO: refused at once, never opened.
    await Deno.remove(`${dir}/.agentbox.toml`);
    const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/.agentbox.toml`] }).output();
    assert.equal(fifo.code, 0);
    await assert.rejects(addToProjectAllowlist(dir, ["evil.test"]), /a FIFO, not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("addToProjectAllowlist refuses a project directory reached through a symlink", async () => {
  const real = await Deno.realPath(await Deno.makeTempDir({ prefix: "agentbox-allowlist-" }));
  const link = `${real}-link`;
  await Deno.symlink(real, link);
  try {
    await assert.rejects(addToProjectAllowlist(link, ["a.test"]), ConfigError);
    assert.equal(await Deno.lstat(`${real}/.agentbox.toml`).catch(() => null), null);
  } finally {
    await Deno.remove(link);
    await Deno.remove(real, { recursive: true });
  }
});
