/**
 * Slow: `install.sh` from source on a fresh HOME with a PATH without Deno, ending with a working
 * `agentbox exec -- uname -a` (npm ci, the default image build, one VM). The checkout is copied
 * (git archive of HEAD) so that its `npm ci` never touches this checkout's node_modules. Set
 * AGENTBOX_SKIP_SLOW=1 to skip it.
 */
import assert from "node:assert/strict";
import { REPO } from "../helpers.ts";
import { exists, hostEnv, pathWithoutDeno, sh } from "../install_helpers.ts";

const decoder = new TextDecoder();

Deno.test({
  name:
    "slow: install.sh from source on a fresh HOME without Deno on PATH ends with a working exec",
  ignore: Deno.env.get("AGENTBOX_SKIP_SLOW") === "1" || Deno.uid() !== 0,
  fn: async () => {
    const base = await Deno.makeTempDir({ prefix: "agentbox-source-" });
    try {
      const checkout = `${base}/agentbox`;
      await Deno.mkdir(checkout);
      const archive = await new Deno.Command("sh", {
        args: ["-c", `git -C "$1" archive HEAD | tar -x -C "$2"`, "sh", REPO, checkout],
        stderr: "piped",
      }).output();
      assert.ok(archive.success, decoder.decode(archive.stderr));
      const home = `${base}/home`;
      await Deno.mkdir(home);
      const env = { ...hostEnv(), HOME: home, PATH: pathWithoutDeno(), PREFIX: `${home}/.local` };
      const install = await sh([`${checkout}/install.sh`], env);
      assert.equal(install.code, 0, install.stderr);
      assert.ok(exists(`${home}/.local/bin/deno`), "install.sh linked a deno for `deno task`");
      const run = await sh(["-c", `${home}/.local/bin/agentbox exec -- uname -a`], env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^Linux agentbox .*x86_64/);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});
