import assert from "node:assert/strict";
import { hashUnder, lstatUnder, readUnder } from "./host_file.ts";

Deno.test("host files are read only through real directories, never through symlinks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/root/sub`, { recursive: true });
    await Deno.mkdir(`${dir}/outside`);
    await Deno.writeTextFile(`${dir}/outside/secret`, "secret");
    await Deno.writeTextFile(`${dir}/root/sub/ok`, "hello");
    await Deno.symlink(`${dir}/outside`, `${dir}/root/link`);
    await Deno.symlink(`${dir}/outside/secret`, `${dir}/root/filelink`);
    const root = `${dir}/root`;
    assert.equal(new TextDecoder().decode(await readUnder(root, "sub/ok", 100)), "hello");
    assert.equal(new TextDecoder().decode(await readUnder(root, "sub/ok", 2)), "he");
    assert.equal(
      await hashUnder(root, "sub/ok"),
      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    );
    assert.equal(await lstatUnder(root, "link/secret"), undefined);
    assert.equal(await readUnder(root, "link/secret", 100), undefined);
    assert.equal(await readUnder(root, "filelink", 100), undefined);
    assert.equal(await hashUnder(root, "sub"), undefined);
    assert.equal(await hashUnder(root, "missing"), undefined);
    assert.ok((await lstatUnder(root, "filelink"))?.isSymlink);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
