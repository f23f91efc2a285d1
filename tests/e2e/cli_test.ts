/**
 * `agentbox` as a user runs it: a subprocess, real VMs, exit statuses and stderr lines checked.
 */
import assert from "node:assert/strict";
import { dataDir } from "../../host/paths.ts";
import type { ImageManifest } from "../../image/manifest.ts";
import { agentbox, processesMatching, randomBytes, sha256, waitFor } from "../helpers.ts";

const decoder = new TextDecoder();

async function cli(
  args: string[],
  options: { env?: Record<string, string>; stdin?: Uint8Array; cwd?: string } = {},
) {
  const child = agentbox(args, {
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin ? "piped" : "null",
  });
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: decoder.decode(out.stderr) };
}

/** A private runtime dir, so that this test's QEMU can be told apart from any other. */
async function runtimeEnv(): Promise<{ env: Record<string, string>; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-e2e-" });
  return { env: { XDG_RUNTIME_DIR: dir }, dir };
}

/** Start `exec` and wait until the guest command printed its first line. */
async function startLongExec(env: Record<string, string>) {
  const child = agentbox(["exec", "--", "sh", "-c", "echo started; sleep 600"], { env });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.equal(decoder.decode(value), "started\n");
  reader.releaseLock();
  return child;
}

Deno.test("cli: --version and --help", async () => {
  const version = await cli(["--version"]);
  assert.equal(version.code, 0);
  assert.match(decoder.decode(version.stdout), /^agentbox \d+\.\d+\.\d+\n$/);
  for (const args of [["--help"], ["exec", "--help"], ["doctor", "--help"], ["images", "--help"]]) {
    const help = await cli(args);
    assert.equal(help.code, 0, args.join(" "));
    assert.match(decoder.decode(help.stdout), /Usage: agentbox/);
  }
});

Deno.test("cli: usage errors exit 125 with one line", async () => {
  const cases = [
    ["exec", "--bogus", "--", "true"],
    ["exec"],
    ["nope"],
    ["exec", "--cpus", "0", "--", "true"],
    ["exec", "--memory", "64", "--", "true"],
  ];
  for (const args of cases) {
    const r = await cli(args);
    assert.equal(r.code, 125, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^agentbox: error: /);
  }
});

Deno.test("cli: a missing image says how to build it, exit 126", async () => {
  const data = await Deno.makeTempDir();
  const r = await cli(["exec", "--", "true"], { env: { XDG_DATA_HOME: data } });
  assert.equal(r.code, 126);
  assert.match(r.stderr, /agentbox images build/);
  await Deno.remove(data, { recursive: true });
});

Deno.test("cli: exit status is the command's; 128+N for signal N", async () => {
  assert.equal((await cli(["exec", "--", "sh", "-c", "exit 7"])).code, 7);
  assert.equal((await cli(["exec", "--", "sh", "-c", "kill -KILL $$"])).code, 137);
});

Deno.test("cli: stdin, env and workdir reach the command", async () => {
  const input = randomBytes(256 * 1024);
  const r = await cli(
    [
      "exec",
      "--env",
      "GREETING=hi there",
      "--workdir",
      "/tmp",
      "--",
      "sh",
      "-c",
      'sha256sum; echo "$GREETING"; pwd',
    ],
    { stdin: input },
  );
  assert.equal(r.code, 0, r.stderr);
  const [hash, greeting, pwd] = decoder.decode(r.stdout).trim().split("\n");
  assert.equal(hash.split(" ")[0], await sha256(input));
  assert.deepEqual([greeting, pwd], ["hi there", "/tmp"]);
});

Deno.test("cli: command not found exits 127 with a clear line", async () => {
  const r = await cli(["exec", "--", "no-such-command"]);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /no-such-command: command not found/);
});

Deno.test("cli: --timeout kills the command and exits 124", async () => {
  const r = await cli(["exec", "--timeout", "2", "--", "sleep", "600"]);
  assert.equal(r.code, 124);
  assert.match(r.stderr, /timed out after 2 s/);
});

Deno.test("cli: the VM killed mid-exec gives a clear error and exit 126", async () => {
  const { env, dir } = await runtimeEnv();
  const child = await startLongExec(env);
  const qemu = processesMatching(`${dir}/agentbox/vm-`).filter((pid) => isQemu(pid));
  assert.equal(qemu.length, 1, "exactly one QEMU for this test");
  Deno.kill(qemu[0], "SIGKILL");
  const out = await child.output();
  assert.equal(out.code, 126);
  assert.match(
    decoder.decode(out.stderr),
    /agentbox: error: The VM stopped while the command was running/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: agentbox killed with SIGKILL leaves no QEMU behind", async () => {
  const { env, dir } = await runtimeEnv();
  const child = await startLongExec(env);
  const needle = `${dir}/agentbox/vm-`;
  assert.ok(processesMatching(needle).some(isQemu), "positive control: QEMU is running");
  child.kill("SIGKILL");
  await child.status;
  await Promise.allSettled([child.stdout.cancel(), child.stderr.cancel()]);
  assert.ok(await waitFor(() => !processesMatching(needle).some(isQemu), 5000), "QEMU survived");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: Ctrl-C is forwarded to the command", async () => {
  const { env, dir } = await runtimeEnv();
  const child = agentbox(
    ["exec", "--", "sh", "-c", "trap 'echo got-INT; exit 42' INT; echo started; sleep 600 & wait"],
    { env },
  );
  const reader = child.stdout.getReader();
  assert.equal(decoder.decode((await reader.read()).value), "started\n");
  child.kill("SIGINT");
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += decoder.decode(r.value);
  }
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(rest, "got-INT\n");
  assert.equal(status.code, 42);
  await Deno.remove(dir, { recursive: true });
});

function isQemu(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).startsWith("qemu-system");
  } catch {
    return false;
  }
}

Deno.test("cli: doctor reports each check, and fails when the image is missing", async () => {
  const ok = await cli(["doctor", "--json"]);
  const checks = JSON.parse(decoder.decode(ok.stdout)) as { name: string; ok: boolean }[];
  const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
  for (
    const name of [
      "qemu",
      "kvm",
      "vhost-vsock",
      "image",
      "setpriv",
      "mkfs.erofs",
      "virtiofsd",
      "tap networking",
      "crashed sessions' leftovers",
      "cloud-hypervisor",
    ]
  ) {
    assert.ok(byName[name], `doctor checks ${name}`);
  }
  // Informational: QEMU is the default, so an unusable Cloud Hypervisor never fails doctor.
  assert.equal((byName["cloud-hypervisor"] as unknown as { required: boolean }).required, false);
  assert.equal(byName.qemu.ok, true);
  assert.equal(byName.image.ok, true);
  assert.equal(ok.code, 0);

  const data = await Deno.makeTempDir();
  const missing = await cli(["doctor"], { env: { XDG_DATA_HOME: data } });
  assert.equal(missing.code, 1);
  assert.match(decoder.decode(missing.stdout), /\[FAIL\] image: .*\n\s+fix: agentbox images build/);
  await Deno.remove(data, { recursive: true });
});

Deno.test("cli: SIGTERM to agentbox stops the VM and exits 143", async () => {
  const { env, dir } = await runtimeEnv();
  const child = await startLongExec(env);
  const needle = `${dir}/agentbox/vm-`;
  assert.ok(processesMatching(needle).some(isQemu), "positive control: QEMU is running");
  child.kill("SIGTERM");
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.cancel(),
  ]);
  assert.equal(status.code, 143);
  assert.match(stderr, /SIGTERM: stopping the VM/);
  assert.ok(await waitFor(() => !processesMatching(needle).some(isQemu), 5000), "QEMU survived");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cli: a closed stdout gives the command SIGPIPE, as in a shell pipeline", async () => {
  const child = agentbox(["exec", "--", "yes"]);
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.match(decoder.decode(first.value), /^y\n/, "positive control: output flows");
  await reader.cancel();
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(status.code, 141);
});

/**
 * A data dir holding an image "default" made from the real one: `links` are symlinked, `files` are
 * written, and the manifest is edited by `edit`. Returns the XDG_DATA_HOME to use.
 */
async function derivedImage(
  links: string[],
  files: Record<string, Uint8Array>,
  edit: (manifest: ImageManifest) => void,
): Promise<string> {
  const images = `${dataDir()}/images`;
  const data = await Deno.makeTempDir();
  const dir = `${data}/agentbox/images/default`;
  await Deno.mkdir(dir, { recursive: true });
  for (const file of links) await Deno.symlink(`${images}/default/${file}`, `${dir}/${file}`);
  for (const [file, bytes] of Object.entries(files)) await Deno.writeFile(`${dir}/${file}`, bytes);
  const manifest = JSON.parse(await Deno.readTextFile(`${images}/default/manifest.json`));
  edit(manifest);
  await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest));
  return data;
}

Deno.test("cli: an image whose agent was built from other code gets a rebuild warning", async () => {
  const fresh = await cli(["exec", "--", "true"]);
  assert.equal(fresh.code, 0);
  assert.doesNotMatch(fresh.stderr, /carries a guest agent/, "positive control: a fresh image");
  const data = await derivedImage(["vmlinuz", "initrd.img", "rootfs.erofs"], {}, (manifest) => {
    manifest.agent.sourceSha256 = "0".repeat(64);
  });
  const stale = await cli(["exec", "--", "true"], { env: { XDG_DATA_HOME: data } });
  assert.equal(stale.code, 0);
  assert.match(stale.stderr, /carries a guest agent built from other code.*agentbox images build/);
  await Deno.remove(data, { recursive: true });
});

Deno.test("cli: a VM that cannot boot fails with 126 and the console's last lines", async () => {
  // A root disk that is not erofs: stage 1 cannot mount it, says so on the console, powers off.
  const garbage = new Uint8Array(1024 * 1024);
  const data = await derivedImage(["vmlinuz", "initrd.img"], { "rootfs.erofs": garbage }, (m) => {
    m.files["rootfs.erofs"].size = garbage.length;
  });
  const r = await cli(["exec", "--", "true"], { env: { XDG_DATA_HOME: data } });
  assert.equal(r.code, 126);
  assert.match(r.stderr, /agentbox: error: The VM stopped while booting/);
  assert.match(
    r.stderr,
    /last lines of the VM console:\n(.*\n)*\s+\| agentbox-init: cannot mount the root filesystem/,
  );
  await Deno.remove(data, { recursive: true });
});

Deno.test("cli: --net none leaves the guest with loopback only and no proxy settings", async () => {
  const r = await cli([
    "exec",
    "--net",
    "none",
    "--",
    "sh",
    "-c",
    "ls /sys/class/net; env | grep -ci proxy",
  ]);
  assert.equal(decoder.decode(r.stdout), "lo\n0\n", r.stderr);
});

Deno.test("cli: a refused host is explained to the guest, summed up, and logged", async () => {
  const state = await Deno.makeTempDir({ prefix: "agentbox-e2e-state-" });
  const env = { XDG_STATE_HOME: state };
  try {
    // Refused by the default policy before any name resolution: nothing leaves the host.
    const r = await cli(["exec", "--", "curl", "-sS", "-m", "30", "http://refused.test/x"], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      decoder.decode(r.stdout),
      /refused\.test:80 refused by default deny.*--allow refused\.test/,
    );
    assert.match(
      r.stderr,
      /refused 1 destination\(s\):\n {2}refused\.test:80 \(1x\) refused by default deny/,
    );
    const session = /agentbox requests ([0-9a-f]{8})/.exec(r.stderr)?.[1];
    assert.ok(session, r.stderr);
    const logs = await cli(["requests", "--json", session], { env });
    const rows = decoder.decode(logs.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(
      rows.map((row) => [row.method, row.host, row.port, row.decision, row.rule]),
      [["GET", "refused.test", 80, "deny", "default deny"]],
    );
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("cli: an invalid .agentbox.toml stops exec before a VM starts, naming file, line, key", async () => {
  const project = await Deno.makeTempDir({ prefix: "agentbox-e2e-project-" });
  try {
    await Deno.writeTextFile(`${project}/.agentbox.toml`, '[network]\nallow = ["*.com"]\n');
    const r = await cli(["exec", "--", "true"], { cwd: project });
    assert.equal(r.code, 125);
    assert.match(r.stderr, /\.agentbox\.toml line 2, key network\.allow/);
    assert.doesNotMatch(r.stderr, /KVM/); // no VM was started
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});
