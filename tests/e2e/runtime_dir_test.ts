/**
 * A runtime directory another user made first is refused with one clear line, before any VM or
 * file of the session exists (docs/security.md, "The VM's lifecycle").
 */
import assert from "node:assert/strict";
import { agentbox } from "../helpers.ts";

Deno.test({
  name: "runtime dir: a squatted fallback directory is refused with one line naming it",
  // chown to another uid needs root; with /run/user/<uid> the state directory is not the fallback.
  ignore: Deno.uid() !== 0 ||
    (await Deno.stat(`/run/user/${Deno.uid()}`).then(() => true, () => false)),
  async fn() {
    const state = await Deno.makeTempDir();
    const project = await Deno.makeTempDir();
    try {
      await Deno.chmod(state, 0o755);
      await Deno.mkdir(`${state}/agentbox/run`, { recursive: true, mode: 0o700 });
      await Deno.chown(`${state}/agentbox/run`, 65534, 65534);
      const out = await agentbox(["exec", "--net", "none", "--", "true"], {
        // No XDG_RUNTIME_DIR (as under sudo, cron or CI): the state directory's fallback is used.
        env: { XDG_RUNTIME_DIR: "", XDG_STATE_HOME: state },
        cwd: project,
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 126, stderr);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
      assert.match(
        stderr,
        /Cannot use the runtime directory .*agentbox\/run: it belongs to uid 65534/,
      );
    } finally {
      await Deno.remove(state, { recursive: true });
      await Deno.remove(project, { recursive: true });
    }
  },
});
