import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { byteSize, DEFAULT_WORKSPACE_LIMITS, loadWorkspaceLimits } from "./workspace_settings.ts";

const at = { file: "config.toml", key: "workspace.max_changes" };

Deno.test("byteSize reads bytes and binary units, and refuses anything else", () => {
  assert.equal(byteSize(1000, at), 1000);
  assert.equal(byteSize("512 MiB", at), 512 * 1024 ** 2);
  assert.equal(byteSize("8G", at), 8 * 1024 ** 3);
  assert.equal(byteSize("1tib", at), 1024 ** 4);
  assert.equal(byteSize("0", at), 0);
  for (const bad of [-1, 1.5, "", "8 GB", "1e9", "lots", "-5M", true, [], "__proto__"]) {
    assert.throws(() => byteSize(bad, at), ConfigError, String(bad));
  }
});

Deno.test("loadWorkspaceLimits: defaults, the user's values, a project's table refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const user = `${dir}/config.toml`;
    assert.deepEqual(await loadWorkspaceLimits({ userFile: user }), DEFAULT_WORKSPACE_LIMITS);
    await Deno.writeTextFile(user, '[workspace]\nmax_changes = "64 MiB"\nstate_reserve = 0\n');
    assert.deepEqual(await loadWorkspaceLimits({ userFile: user }), {
      maxChangesBytes: 64 * 1024 ** 2,
      stateReserveBytes: 0,
    });
    await Deno.writeTextFile(user, '[workspace]\nmax_change = "64 MiB"\n');
    await assert.rejects(() => loadWorkspaceLimits({ userFile: user }), /unknown key/);
    // The sandbox can write the project's file: it cannot raise the quota.
    await Deno.writeTextFile(user, "");
    await Deno.writeTextFile(`${dir}/.agentbox.toml`, '[workspace]\nmax_changes = "1 TiB"\n');
    await assert.rejects(
      () => loadWorkspaceLimits({ userFile: user, projectDir: dir }),
      /\.agentbox\.toml line 1, key workspace: allowed in the user's config\.toml only/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
