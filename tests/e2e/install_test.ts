/**
 * `install.sh`'s release path: a fake release served from a file:// URL, so no outside host is
 * involved — download, SHA-256 check, install, uninstall. The from-source path is
 * tests/slow/install_source_test.ts.
 */
import assert from "node:assert/strict";
import { REPO } from "../helpers.ts";
import { exists, pathWithoutDeno, sh } from "../install_helpers.ts";

async function sha256Hex(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A release directory: a stand-in binary, an image tarball and SHA256SUMS. */
async function fakeRelease(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/image`, { recursive: true });
  await Deno.writeTextFile(`${dir}/agentbox-linux-x64`, '#!/bin/sh\necho "release agentbox $*"\n');
  await Deno.writeTextFile(`${dir}/image/manifest.json`, '{"name":"default"}\n');
  const tar = await new Deno.Command("tar", {
    args: ["-czf", `${dir}/agentbox-image-default-x64.tar.gz`, "-C", `${dir}/image`, "."],
  }).output();
  assert.ok(tar.success);
  const files = ["agentbox-linux-x64", "agentbox-image-default-x64.tar.gz"];
  const sums = await Promise.all(files.map(async (f) => `${await sha256Hex(`${dir}/${f}`)}  ${f}`));
  await Deno.writeTextFile(`${dir}/SHA256SUMS`, sums.join("\n") + "\n");
}

Deno.test({
  name: "install.sh: release path downloads, verifies, installs; a bad digest installs nothing",
  ignore: Deno.uid() !== 0 || Deno.build.arch !== "x86_64",
  fn: async () => {
    const base = await Deno.makeTempDir({ prefix: "agentbox-install-" });
    try {
      const release = `${base}/release`;
      await fakeRelease(release);
      const home = `${base}/home`;
      await Deno.mkdir(home);
      const env = {
        HOME: home,
        PATH: pathWithoutDeno(),
        PREFIX: `${home}/.local`,
        AGENTBOX_RELEASE_URL: `file://${release}`,
      };
      // Piped into sh from a directory that is no checkout: the release path.
      const script = await Deno.readTextFile(`${REPO}/install.sh`);
      const piped = await sh([], env, { cwd: base, stdin: script });
      assert.equal(piped.code, 0, piped.stderr);
      const installed = await sh(["-c", `${home}/.local/bin/agentbox --version`], env);
      assert.equal(installed.stdout, "release agentbox --version\n");
      const manifest = `${home}/.local/share/agentbox/images/default/manifest.json`;
      assert.equal(await Deno.readTextFile(manifest), '{"name":"default"}\n');
      // Completions and the man page come from the installed binary (this one echoes its args).
      const extras = {
        "share/bash-completion/completions/agentbox": "completion bash",
        "share/zsh/site-functions/_agentbox": "completion zsh",
        "share/fish/vendor_completions.d/agentbox.fish": "completion fish",
        "share/man/man1/agentbox.1": "help --man",
      };
      for (const [file, args] of Object.entries(extras)) {
        assert.equal(
          await Deno.readTextFile(`${home}/.local/${file}`),
          `release agentbox ${args}\n`,
        );
      }

      // Uninstall keeps the images unless --purge.
      const kept = await sh([`${REPO}/install.sh`, "--uninstall"], env);
      assert.equal(kept.code, 0, kept.stderr);
      assert.ok(!exists(`${home}/.local/bin/agentbox`));
      for (const file of Object.keys(extras)) assert.ok(!exists(`${home}/.local/${file}`), file);
      assert.ok(exists(manifest));
      const purged = await sh([`${REPO}/install.sh`, "--uninstall", "--purge"], env);
      assert.equal(purged.code, 0, purged.stderr);
      assert.ok(!exists(`${home}/.local/share/agentbox`));

      // A binary that does not match SHA256SUMS is refused and nothing is installed.
      await Deno.writeTextFile(`${release}/agentbox-linux-x64`, "#!/bin/sh\necho evil\n");
      const tampered = await sh([`${REPO}/install.sh`], { ...env, AGENTBOX_RELEASE: "1" });
      assert.equal(tampered.code, 1);
      assert.match(tampered.stderr, /agentbox-linux-x64 does not match its SHA-256/);
      assert.ok(!exists(`${home}/.local/bin/agentbox`));
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});
