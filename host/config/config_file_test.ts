import assert from "node:assert/strict";
import { agentbox } from "../../tests/helpers.ts";
import { ConfigError } from "./config_error.ts";
import { CONFIG_MAX_BYTES, readConfigFile } from "./config_file.ts";
import { loadPolicy } from "./load_config.ts";
import { loadVmSettings } from "./vm_settings.ts";

async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.equal(code, 0);
}

/** A project directory whose `.agentbox.toml` is made by `make`, and an empty user config. */
async function project(make: (file: string) => Promise<void>) {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "agentbox-config-file-" }));
  await make(`${dir}/.agentbox.toml`);
  return { dir, file: `${dir}/.agentbox.toml`, userFile: `${dir}/no-user-config.toml` };
}

const HOSTILE: [string, (file: string) => Promise<void>, RegExp][] = [
  ["a FIFO", mkfifo, /is a FIFO, not a regular file/],
  ["a symlink to /dev/zero", (f) => Deno.symlink("/dev/zero", f), /symlink to a character device/],
  ["a directory", (f) => Deno.mkdir(f), /is a directory, not a regular file/],
  ["a dangling symlink", (f) => Deno.symlink("/nonexistent-agentbox", f), /symlink to nothing/],
  [
    "too large",
    (f) => Deno.writeTextFile(f, `# ${"x".repeat(CONFIG_MAX_BYTES)}\n`),
    /larger than 1024 KiB/,
  ],
  ["not UTF-8", (f) => Deno.writeFile(f, new Uint8Array([0x23, 0xff, 0x0a])), /not valid UTF-8/],
];

for (const [what, make, message] of HOSTILE) {
  Deno.test(`a project .agentbox.toml that is ${what} is a ConfigError naming it`, async () => {
    const p = await project(make);
    try {
      for (
        const load of [
          () => loadPolicy({ projectDir: p.dir, userFile: p.userFile }),
          () => loadVmSettings({ projectDir: p.dir, userFile: p.userFile }),
        ]
      ) {
        const error = await load().then(() => undefined, (e) => e);
        assert.ok(error instanceof ConfigError, String(error));
        assert.ok(error.message.includes(p.file), error.message);
        assert.match(error.message, message);
      }
    } finally {
      await Deno.remove(p.dir, { recursive: true });
    }
  });
}

Deno.test("the user's config.toml gets the same checks; a symlink to a regular file is fine", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "agentbox-config-file-" }));
  try {
    const fifo = `${dir}/config.toml`;
    await mkfifo(fifo);
    await assert.rejects(
      loadPolicy({ userFile: fifo }),
      (e: Error) => e instanceof ConfigError && e.message.includes(fifo) && /FIFO/.test(e.message),
    );
    await assert.rejects(loadVmSettings({ userFile: fifo }), ConfigError);
    await Deno.writeTextFile(`${dir}/real.toml`, '[network]\nallow = ["a.test"]\n');
    await Deno.symlink(`${dir}/real.toml`, `${dir}/linked.toml`);
    const policy = await loadPolicy({ userFile: `${dir}/linked.toml` });
    assert.ok(policy.allow.some((r) => r.pattern.text === "a.test"));
    assert.equal(await readConfigFile(`${dir}/missing.toml`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Run `agentbox ARGS` in `cwd`, killed after `ms` (a hang fails the test instead of stalling it). */
async function cliWithin(ms: number, args: string[], cwd: string, env: Record<string, string>) {
  const child = agentbox(args, { cwd, env });
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const out = await child.output();
    return { code: out.code, signal: out.signal, stderr: new TextDecoder().decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("agentbox exec in a project whose .agentbox.toml is a FIFO or /dev/zero exits 125 at once", async () => {
  for (const [what, make] of HOSTILE.slice(0, 2)) {
    const p = await project(make);
    const env = {
      XDG_CONFIG_HOME: `${p.dir}/config`,
      XDG_STATE_HOME: `${p.dir}/state`,
      XDG_RUNTIME_DIR: `${p.dir}/run`,
    };
    await Deno.mkdir(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    try {
      const out = await cliWithin(60_000, ["exec", "--", "true"], p.dir, env);
      assert.equal(out.signal, null, `${what}: agentbox hung and was killed`);
      assert.equal(out.code, 125, `${what}: ${out.stderr}`);
      assert.ok(out.stderr.includes(p.file), out.stderr);
      assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
    } finally {
      await Deno.remove(p.dir, { recursive: true });
    }
  }
});
