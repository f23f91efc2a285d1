import assert from "node:assert/strict";
import { exportSystemChanges, systemDiff } from "./system_changes.ts";
import { type FixtureEntry, storeSystemChangeset } from "../system/testing/stored_changeset.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";

const STATUS_BEFORE = `Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: oldtool
Status: install ok installed
Architecture: amd64
Version: 1.0-1
`;

const STATUS_AFTER = `Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2025b-0+deb12u1

Package: hello
Status: install ok installed
Architecture: amd64
Version: 2.10-3
Description: example
 continuation line: Package: fake
`;

const PASSWD = "root:x:0:0:root:/root:/bin/bash\nagent:x:1000:1000::/home/agent:/bin/bash\n";
const GROUP = "root:x:0:\nagent:x:1000:\n";
const SECRET = "s3cr3t-shadow-hash";

/** What a guest that installed a package, wrote config, added a user and a unit would send. */
const CHANGES: FixtureEntry[] = [
  { path: "etc", type: "dir" },
  { path: "etc/demo.conf", type: "file", content: "listen 8080\nname 'x' $(rm -rf /)\n" },
  { path: "etc/keep.conf", type: "file", content: "unchanged\n" },
  { path: "etc/old.conf", type: "deleted" },
  { path: "etc/motd", type: "file", content: "hello\nworld\n" },
  {
    path: "etc/passwd",
    type: "file",
    content: `${PASSWD}svc:x:999:999:Service user:/srv/svc:/usr/sbin/nologin\n`,
  },
  { path: "etc/group", type: "file", content: `${GROUP}svc:x:999:agent\n` },
  { path: "etc/shadow", type: "file", content: `svc:${SECRET}:19000::::::\n`, mode: 0o640 },
  { path: "etc/sudoers.d", type: "dir", mode: 0o750 },
  {
    path: "etc/sudoers.d/svc",
    type: "file",
    content: "svc ALL=(ALL) NOPASSWD: ALL\n",
    mode: 0o440,
  },
  { path: "etc/systemd", type: "dir" },
  { path: "etc/systemd/system", type: "dir" },
  {
    path: "etc/systemd/system/demo.service",
    type: "file",
    content: "[Service]\nExecStart=/bin/true\n",
  },
  { path: "etc/systemd/system/multi-user.target.wants", type: "dir" },
  {
    path: "etc/systemd/system/multi-user.target.wants/demo.service",
    type: "symlink",
    target: "/etc/systemd/system/demo.service",
  },
  { path: "etc/rc2.d/S01oldsvc", type: "deleted" },
  // Hostile: a link out of /etc to a secret; an odd name; a key; a device.
  { path: "etc/evil", type: "symlink", target: "/root/.ssh/id_rsa" },
  { path: "etc/we'ird $(touch x).conf", type: "file", content: "odd\n" },
  { path: "etc/ssl/private/site.key", type: "file", content: "-----BEGIN PRIVATE KEY-----\n" },
  { path: "etc/fifo", type: "unsupported", detail: "fifo" },
  { path: "opt/bin.dat", type: "file", content: new Uint8Array([0, 1, 2, 255]), mode: 0o755 },
  { path: "srv", type: "dir" },
  { path: "srv/svc", type: "dir", mode: 0o750, uid: 999, gid: 999 },
  { path: "usr/bin/hello", type: "file", content: "ELF…", mode: 0o755 },
  { path: "var/lib/dpkg/status", type: "file", content: STATUS_AFTER },
  { path: "var/lib/dpkg/info/hello.list", type: "file", content: "/.\n/usr\n/usr/bin/hello\n" },
  { path: "var/lib/dpkg/info/oldtool.list", type: "deleted" },
  { path: "usr/bin/oldtool", type: "deleted" },
  { path: "var/log/dpkg.log", type: "file", content: "install hello\n" },
  { path: "home/agent/.cache/x", type: "file", content: "cache\n" },
  { path: "etc/ld.so.cache", type: "file", content: "cache" },
];

const BASE: FixtureEntry[] = [
  { path: "etc", type: "dir" },
  { path: "etc/keep.conf", type: "file", content: "unchanged\n" },
  { path: "etc/old.conf", type: "file", content: "gone\n" },
  { path: "etc/motd", type: "file", content: "hello\n" },
  { path: "etc/passwd", type: "file", content: PASSWD },
  { path: "etc/group", type: "file", content: GROUP },
  { path: "etc/shadow", type: "file", content: "root:*:19000::::::\n", mode: 0o640 },
  { path: "etc/systemd", type: "dir" },
  { path: "etc/rc2.d/S01oldsvc", type: "symlink", target: "../init.d/oldsvc" },
  { path: "usr/bin/oldtool", type: "file", content: "old" },
  { path: "var/lib/dpkg/status", type: "file", content: STATUS_BEFORE },
  { path: "var/lib/dpkg/info/oldtool.list", type: "file", content: "/usr/bin/oldtool\n" },
];

const SESSION = "0123456789abcdef0123456789abcdef";

async function withSession(fn: (dir: string) => Promise<void>): Promise<void> {
  const state = await Deno.makeTempDir();
  const previous = Deno.env.get("XDG_STATE_HOME");
  Deno.env.set("XDG_STATE_HOME", state);
  try {
    await storeSystemChangeset(sessionStateDir(SESSION), CHANGES, BASE);
    await fn(state);
  } finally {
    if (previous === undefined) Deno.env.delete("XDG_STATE_HOME");
    else Deno.env.set("XDG_STATE_HOME", previous);
    await Deno.remove(state, { recursive: true });
  }
}

Deno.test("systemDiff: packages, accounts, services and /etc diffs from the stored changeset", async () => {
  await withSession(async () => {
    const { summary } = await systemDiff(SESSION);
    assert.deepEqual(summary.packages.installed, [
      { name: "hello", architecture: "amd64", version: "2.10-3" },
    ]);
    assert.deepEqual(summary.packages.removed.map((p) => p.name), ["oldtool"]);
    assert.deepEqual(summary.packages.upgraded, [
      { name: "tzdata", architecture: "all", version: "2025b-0+deb12u1", from: "2024a-0+deb12u1" },
    ]);
    assert.deepEqual(summary.accounts.usersAdded.map((u) => [u.name, u.uid, u.home]), [
      ["svc", 999, "/srv/svc"],
    ]);
    assert.deepEqual(summary.accounts.groupsAdded.map((g) => [g.name, g.members]), [
      ["svc", ["agent"]],
    ]);
    assert.deepEqual(summary.services.enabled, [
      { name: "demo.service", init: "systemd", where: ["multi-user.target"] },
    ]);
    assert.deepEqual(summary.services.disabled, [{ name: "oldsvc", init: "sysv", where: ["2"] }]);
    const paths = summary.files.map((f) => f.path);
    // Copy-ups, caches and logs are not changes; the package's files are marked as its.
    for (
      const gone of [
        "etc/keep.conf",
        "var/log/dpkg.log",
        "home/agent/.cache/x",
        "etc/ld.so.cache",
        "etc",
      ]
    ) {
      assert.ok(!paths.includes(gone), gone);
    }
    assert.equal(summary.files.find((f) => f.path === "usr/bin/hello")?.package, "hello");
    assert.equal(summary.files.find((f) => f.path === "usr/bin/oldtool")?.package, "oldtool");
    assert.equal(summary.files.find((f) => f.path === "etc/evil")?.target, "/root/.ssh/id_rsa");
    assert.equal(summary.files.find((f) => f.path === "etc/sudoers.d/svc")?.risk, "grants root");
    assert.ok(summary.files.find((f) => f.path === "etc/shadow")?.sensitive);
    const motd = summary.etc.find((d) => d.path === "etc/motd")!;
    assert.deepEqual(motd.lines.filter((l) => l.startsWith("+")), ["+world"]);
    assert.equal(summary.etc.find((d) => d.path === "etc/shadow")?.omitted, "sensitive");
    assert.ok(!JSON.stringify(summary.etc).includes(SECRET));
    assert.ok(summary.excluded >= 3);
  });
});

Deno.test("systemDiff: --exclude drops more paths; a bad glob is a usage error", async () => {
  await withSession(async () => {
    const { summary } = await systemDiff(SESSION, { exclude: ["/etc/motd", "srv/**"] });
    assert.ok(!summary.files.some((f) => f.path === "etc/motd" || f.path.startsWith("srv/")));
    await assert.rejects(systemDiff(SESSION, { exclude: [""] }), { code: "bad_glob" });
  });
});

Deno.test("systemDiff: a session without a system changeset is not_found", async () => {
  await withSession(async () => {
    await assert.rejects(systemDiff("fedcba9876543210fedcba9876543210"), {
      kind: "not_found",
      code: "no_system_changeset",
    });
  });
});

async function ansibleAvailable(): Promise<boolean> {
  return await new Deno.Command("ansible-playbook", { args: ["--version"], stdout: "null" })
    .output().then((o) => o.success, () => false);
}

Deno.test("exportSystemChanges --ansible: passes ansible-playbook --syntax-check, copies no secret", async () => {
  await withSession(async (state) => {
    const out = `${state}/export`;
    const result = await exportSystemChanges(SESSION, { format: "ansible", out });
    const text = await Deno.readTextFile(`${out}/playbook.yml`);
    assert.equal(text, result.text);
    assert.ok(text.includes('"hello=2.10-3"') && text.includes('"tzdata=2025b-0+deb12u1"'));
    assert.ok(text.includes("ansible.builtin.user") && text.includes('"svc"'));
    assert.ok(text.includes('"/etc/systemd/system/multi-user.target.wants/demo.service"'));
    assert.ok(!text.includes(SECRET) && !text.includes("BEGIN PRIVATE KEY"));
    assert.ok(!text.includes("NOPASSWD"), "high-risk sudoers held back without --yes-high-risk");
    assert.deepEqual(result.plan.heldBack, [
      "/etc/sudoers.d/svc",
      "/etc/systemd/system/demo.service",
    ]);
    // The binary file goes to files/, named by its hash; text is inlined.
    assert.equal(result.written.filter((w) => w.startsWith("files/")).length, 1);
    assert.ok(text.includes("\"listen 8080\\nname 'x' $(rm -rf /)\\n\""));
    // Package files and dpkg's database are the package's business.
    assert.ok(!text.includes("/usr/bin/hello") && !text.includes("var/lib/dpkg"));
    if (!(await ansibleAvailable())) {
      console.log(
        "ansible-playbook is missing (install.sh installs ansible-core): syntax check skipped",
      );
      return;
    }
    const check = await new Deno.Command("ansible-playbook", {
      args: ["--syntax-check", "-i", "localhost,", `${out}/playbook.yml`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(check.stdout) + new TextDecoder().decode(check.stderr);
    assert.ok(check.success, said);
  });
});

Deno.test("exportSystemChanges: --path selects files, --skip kinds, --yes-high-risk takes risky ones", async () => {
  await withSession(async () => {
    const only = await exportSystemChanges(SESSION, {
      format: "ansible",
      paths: ["/etc/motd"],
      skip: ["packages", "users", "services"],
    });
    const files = only.plan.steps.filter((s) => s.kind !== "todo");
    assert.deepEqual(files.map((s) => (s as { path: string }).path), ["/etc/motd"]);
    const risky = await exportSystemChanges(SESSION, {
      format: "script",
      paths: ["etc/sudoers.d"],
      allowHighRisk: true,
    });
    assert.ok(risky.text.includes("'/etc/sudoers.d/svc'") && risky.plan.heldBack.length === 0);
    // Without --out the binary file cannot be inlined: a TODO says so.
    const bare = await exportSystemChanges(SESSION, { format: "ansible" });
    assert.ok(bare.text.includes("/opt/bin.dat: binary or large: export with --out"));
  });
});

Deno.test("exportSystemChanges --script: valid sh, every value quoted, secrets are TODOs", async () => {
  await withSession(async (state) => {
    const out = `${state}/script`;
    const { text } = await exportSystemChanges(SESSION, { format: "script", out });
    assert.equal((await Deno.stat(`${out}/apply.sh`)).mode! & 0o777, 0o755);
    const check = await new Deno.Command("sh", { args: ["-n", `${out}/apply.sh`], stderr: "piped" })
      .output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
    assert.ok(text.includes("want_package 'hello' '2.10-3'"));
    assert.ok(text.includes(`want_file '/etc/we'\\''ird $(touch x).conf' 0644 'root' 'root'`));
    assert.ok(text.includes("want_link '/etc/evil' '/root/.ssh/id_rsa'"));
    assert.ok(text.includes("#   /etc/shadow: a secret: put it in place yourself"));
    assert.ok(!text.includes(SECRET));
    assert.ok(text.includes("useradd -M -u 999 -g 'svc'"));
    await assert.rejects(
      exportSystemChanges(SESSION, { format: "script", out }),
      { code: "out_not_empty" },
    );
  });
});
