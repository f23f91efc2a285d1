/**
 * Project configuration and safe sharing as a user meets them, through the real CLI from scratch
 * directories (each test with its own XDG directories, never the caller's): the project's
 * `.agentbox.toml` found from a subdirectory and from `--share` run elsewhere (checked inside a
 * real VM: its memory and its egress decisions), `share.exclude` keeping `node_modules` out of the
 * guest's /workspace, two concurrent runs of one project packing once, a home directory refused
 * as an implicit share, and a misspelled table reported with file and line.
 */
import assert from "node:assert/strict";
import { agentbox } from "../helpers.ts";

const decoder = new TextDecoder();

async function cli(args: string[], env: Record<string, string>, cwd: string) {
  const out = await agentbox(args, { env, cwd }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A base directory with private state, cache and config (images shared from the caller's). */
async function scratch() {
  const base = await Deno.makeTempDir({ prefix: "agentbox-project-e2e-" });
  await Deno.mkdir(`${base}/config/agentbox`, { recursive: true });
  const env: Record<string, string> = {
    XDG_STATE_HOME: `${base}/state`,
    XDG_CACHE_HOME: `${base}/cache`,
    XDG_CONFIG_HOME: `${base}/config`,
    HOME: `${base}/home`,
    // The images are the caller's (the fake HOME would hide them).
    XDG_DATA_HOME: Deno.env.get("XDG_DATA_HOME") ?? `${Deno.env.get("HOME")}/.local/share`,
  };
  await Deno.mkdir(env.HOME);
  return { base, env, cleanup: () => Deno.remove(base, { recursive: true }) };
}

/** Guest memory in MiB as the guest's kernel reports it (MemTotal, a little under the VM's). */
function memTotalMb(stdout: string): number {
  const kb = Number(/MemTotal:\s+(\d+) kB/.exec(stdout)?.[1]);
  assert.ok(kb > 0, stdout);
  return kb / 1024;
}

Deno.test({
  name:
    "project config: a subdirectory finds the project's .agentbox.toml (VM memory, egress rule)",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const s = await scratch();
  try {
    const repo = `${s.base}/repo`;
    await Deno.mkdir(`${repo}/.git`, { recursive: true });
    await Deno.mkdir(`${repo}/pkg/deep`, { recursive: true });
    await Deno.writeTextFile(
      `${repo}/.agentbox.toml`,
      '[vm]\nmemory = 700\n\n[network]\ndeny = ["denied.test"]\n',
    );
    // The probe goes to the proxy, which decides by the policy and answers; nothing leaves.
    const run = await cli(
      [
        "exec",
        "--net-backend",
        "user",
        "--",
        "sh",
        "-c",
        "grep MemTotal /proc/meminfo; curl -s -o /dev/null -w '%{http_code}\\n' http://denied.test/",
      ],
      s.env,
      `${repo}/pkg/deep`,
    );
    assert.equal(run.code, 0, run.stderr);
    const mb = memTotalMb(run.stdout);
    assert.ok(mb > 500 && mb <= 700, `MemTotal ${mb} MiB: vm.memory = 700 not applied`);
    assert.match(run.stdout, /\n403\n/);
    const logs = await cli(["requests", "--json"], s.env, `${repo}/pkg/deep`);
    const rows = logs.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const row = rows.find((r) => r.host === "denied.test");
    assert.equal(row?.decision, "deny", logs.stdout);
    // The rule names the project's file (not "default deny"): the file was found and obeyed.
    assert.match(row.rule, new RegExp(`${repo}/\\.agentbox\\.toml`));
  } finally {
    await s.cleanup();
  }
});

Deno.test({
  name:
    "project config: exec --share DIR from elsewhere uses DIR's policy; share.exclude keeps node_modules out",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const s = await scratch();
  try {
    const project = `${s.base}/proj`;
    await Deno.mkdir(`${project}/src`, { recursive: true });
    await Deno.mkdir(`${project}/node_modules/left-pad`, { recursive: true });
    await Deno.writeTextFile(`${project}/src/main.js`, "1\n");
    await Deno.writeTextFile(`${project}/node_modules/left-pad/index.js`, "2\n");
    await Deno.writeTextFile(
      `${project}/.agentbox.toml`,
      '[vm]\nmemory = 640\n\n[share]\nexclude = ["node_modules/"]\n',
    );
    const elsewhere = `${s.base}/elsewhere`;
    await Deno.mkdir(elsewhere);
    const run = await cli(
      [
        "exec",
        "--net",
        "none",
        "--share",
        project,
        "--",
        "sh",
        "-c",
        "grep MemTotal /proc/meminfo; cd /workspace && find . | sort",
      ],
      s.env,
      elsewhere,
    );
    assert.equal(run.code, 0, run.stderr);
    const mb = memTotalMb(run.stdout);
    assert.ok(mb > 450 && mb <= 640, `MemTotal ${mb} MiB: the shared project's vm.memory`);
    const listing = run.stdout.split("\n").filter((l) => l.startsWith("."));
    assert.deepEqual(listing, [".", "./.agentbox.toml", "./src", "./src/main.js"]);
    // Untouched on the host.
    assert.equal(await Deno.readTextFile(`${project}/node_modules/left-pad/index.js`), "2\n");
  } finally {
    await s.cleanup();
  }
});

Deno.test({
  name: "project config: two concurrent runs of one project pack its share once",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const s = await scratch();
  try {
    const project = `${s.base}/proj`;
    await Deno.mkdir(`${project}/data`, { recursive: true });
    // Enough files that packing takes a moment, so the two runs meet at the lock.
    for (let i = 0; i < 2000; i++) await Deno.writeTextFile(`${project}/data/f${i}`, `${i}\n`);
    const args = ["exec", "--net", "none", "--share", project, "--", "cat", "data/f7"];
    const [a, b] = await Promise.all([cli(args, s.env, s.base), cli(args, s.env, s.base)]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout, "7\n");
    assert.equal(b.stdout, "7\n");
    const packed = [a, b].filter((r) => /agentbox: packing /.test(r.stderr));
    assert.equal(packed.length, 1, `${a.stderr}\n---\n${b.stderr}`);
    const caches = [...Deno.readDirSync(`${s.base}/cache/agentbox/shares`)];
    assert.equal(caches.length, 1);
    // One packed image (a cache also keeps its layer chain and the top layer's baseline).
    const files = [...Deno.readDirSync(`${s.base}/cache/agentbox/shares/${caches[0].name}`)]
      .map((e) => e.name);
    const images = files.filter((n) => n.endsWith(".erofs"));
    assert.equal(images.length, 1, files.join(", "));
  } finally {
    await s.cleanup();
  }
});

Deno.test("project config: run in the home directory is refused (125) unless --share names it", async () => {
  const s = await scratch();
  try {
    const home = s.env.HOME;
    await Deno.mkdir(`${home}/.ssh`);
    await Deno.writeTextFile(`${home}/.ssh/id_ed25519`, "secret\n");
    const refused = await cli(["run", "--", "true"], s.env, home);
    assert.equal(refused.code, 125, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`Refusing to share ${home} \\(your home directory\\) without --share`),
    );
    // Nothing was started or packed.
    assert.equal(await Deno.stat(`${s.base}/cache/agentbox/shares`).catch(() => null), null);
    assert.equal(await Deno.stat(`${s.base}/state/agentbox/sessions`).catch(() => null), null);
  } finally {
    await s.cleanup();
  }
});

Deno.test("project config: a misspelled table stops exec, config and doctor with file and line", async () => {
  const s = await scratch();
  try {
    const project = `${s.base}/proj`;
    await Deno.mkdir(`${project}/.git`, { recursive: true });
    await Deno.mkdir(`${project}/sub`);
    await Deno.writeTextFile(`${project}/.agentbox.toml`, '# ours\n[netwrk]\nallow = ["x.test"]\n');
    const message = new RegExp(
      `${project}/\\.agentbox\\.toml line 2, key netwrk: unknown table; did you mean \\[network\\]\\?`,
    );
    const exec = await cli(["exec", "--", "true"], s.env, `${project}/sub`);
    assert.equal(exec.code, 125);
    assert.match(exec.stderr, message);
    const config = await cli(["config"], s.env, `${project}/sub`);
    assert.equal(config.code, 125);
    assert.match(config.stderr, message);
    assert.match(config.stdout, /project file: .*\.agentbox\.toml \(INVALID\)/);
    const doctor = await cli(["doctor", "--json"], s.env, `${project}/sub`);
    const checks = JSON.parse(doctor.stdout);
    const projectCheck = checks.find((c: { name: string }) => c.name === "project config");
    assert.equal(projectCheck.ok, false);
    assert.match(projectCheck.detail, message);
    assert.equal(doctor.code, 1);
    // The user's file is checked the same way.
    await Deno.writeTextFile(`${s.env.XDG_CONFIG_HOME}/agentbox/config.toml`, "[vm]\nvcpus = 2\n");
    const user = await cli(["config", "--json"], s.env, s.base);
    assert.equal(user.code, 125);
    const report = JSON.parse(user.stdout);
    assert.equal(report.version, 1);
    assert.match(report.files[0].error.message, /config\.toml line 2, key vm\.vcpus: unknown key/);
  } finally {
    await s.cleanup();
  }
});
