/**
 * Slow: `agentbox diff --system` and `agentbox export` end to end in the dev image. An agent-like
 * script, run in a detached session whose commands run as root, installs a Debian package from the Debian mirror
 * through agentbox's proxy (`--allow deb.debian.org`), writes a config file under /etc, adds a
 * user, enables a service (the link `systemctl enable` makes: the dev image boots with busybox
 * init and has no systemctl) and does a few hostile things (a symlink out of /etc to a key, a
 * name with a newline, a big sparse file). After `stop`, `diff --system --json` lists exactly
 * those and not the caches or logs; `export --ansible` passes `ansible-playbook --syntax-check`.
 * Then the proof: the exports are applied in fresh VMs of the same image — the shell script, and
 * the playbook with ansible's local connection (the host's ansible-core and python3-apt, shared
 * through the workspace so they add nothing to the guest's system) — and each VM's system diff
 * equals the original's: same packages and versions, users, groups, services and files.
 *
 * Needs root (the dev image is built with debootstrap when it is missing), QEMU and the Debian
 * mirror through the host's egress; set AGENTBOX_SKIP_SLOW=1 to skip it locally.
 */
import assert from "node:assert/strict";
import { ensureDevImage } from "./testing/dev_image.ts";
import { agentbox } from "../helpers.ts";

const skipReason = Deno.env.get("AGENTBOX_SKIP_SLOW") === "1"
  ? "AGENTBOX_SKIP_SLOW=1"
  : Deno.uid() !== 0
  ? "building the dev image needs root (debootstrap)"
  : undefined;
if (skipReason) console.error(`system_diff_test: skipped: ${skipReason}`);

const MIRROR = "deb.debian.org";
const PACKAGE = "hello";

/** What the "agent" does to the machine. */
const AGENT_SCRIPT = `set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends ${PACKAGE} >/dev/null
printf 'listen 8080\\nworkers 2\\n' >/etc/demo.conf
useradd --create-home --shell /bin/bash demo
mkdir -p /etc/systemd/system/multi-user.target.wants
printf '[Unit]\\nDescription=demo\\n[Service]\\nExecStart=/usr/bin/hello\\n[Install]\\nWantedBy=multi-user.target\\n' \\
  >/etc/systemd/system/demo.service
ln -s /etc/systemd/system/demo.service /etc/systemd/system/multi-user.target.wants/demo.service
`;

/** Hostile extras: none of them may be followed, embedded or crash anything. */
const HOSTILE_SCRIPT = `set -eu
mkdir -p /root/.ssh && echo PRIVATE-KEY-CANARY >/root/.ssh/id_rsa
ln -s /root/.ssh/id_rsa /etc/evil-link
touch "/etc/odd
name.conf"
truncate -s 64M /opt/huge.bin
`;

async function cli(args: string[], options: { cwd?: string } = {}) {
  const out = await agentbox(args, options).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** The parts of a system diff that must match between the original and a reproduction. */
function comparable(system: Json) {
  const files = Object.fromEntries(
    system.files
      .filter((f: Json) => !f.path.startsWith("/workspace"))
      .map((f: Json) => [f.path, [f.change, f.type, f.mode, f.uid, f.gid, f.sha256, f.target]]),
  );
  return {
    installed: system.packages.installed.map((p: Json) => `${p.name}=${p.version}`),
    removed: system.packages.removed,
    upgraded: system.packages.upgraded,
    users: system.users.added.map((u: Json) => [u.name, u.uid, u.gid, u.home, u.shell]),
    groups: system.groups.added.map((g: Json) => [g.name, g.gid]),
    services: system.services,
    etc: system.etc.map((d: Json) => [d.path, d.lines]),
    files,
  };
}

/** Copy the host's Python modules ansible needs into `dir` (the guest's python is the same 3.11). */
async function shareAnsible(dir: string): Promise<string | undefined> {
  const site = "/usr/lib/python3/dist-packages";
  const modules = [
    "ansible",
    "jinja2",
    "markupsafe",
    "yaml",
    "packaging",
    "resolvelib",
    "apt",
    "aptsources",
    "apt_pkg.cpython-311-x86_64-linux-gnu.so",
    "apt_inst.cpython-311-x86_64-linux-gnu.so",
  ];
  for (const name of modules) {
    if (!(await Deno.lstat(`${site}/${name}`).then(() => true, () => false))) {
      return `the host has no ${site}/${name} (ansible-core, python3-apt)`;
    }
  }
  // Their metadata too: ansible checks its dependencies' versions through it.
  const metadata =
    /^(Jinja2|MarkupSafe|PyYAML|ansible_core|packaging|resolvelib|python_apt)-.*\.(egg|dist)-info$/;
  for await (const entry of Deno.readDir(site)) {
    if (metadata.test(entry.name)) modules.push(entry.name);
  }
  await Deno.mkdir(dir, { recursive: true });
  const copy = await new Deno.Command("cp", {
    args: ["-a", "--", ...modules.map((m) => `${site}/${m}`), dir],
  }).output();
  return copy.success ? undefined : "cannot copy the host's ansible";
}

Deno.test({
  name: "slow: diff --system lists the package, config, user and service; the exports reproduce it",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  fn: async () => {
    await ensureDevImage();
    const project = await Deno.makeTempDir({ prefix: "agentbox-system-diff-" });
    let session = "";
    try {
      await Deno.writeTextFile(`${project}/README`, "scratch project of system_diff_test\n");
      const started = await cli([
        "run",
        "--detach",
        "--user",
        "root",
        "--image",
        "dev",
        "--allow",
        MIRROR,
        "--share",
        project,
      ], { cwd: project });
      assert.equal(started.code, 0, started.stderr);
      session = started.stdout.trim().split("\n").at(-1)!.trim();
      for (const script of [AGENT_SCRIPT, HOSTILE_SCRIPT]) {
        const ran = await cli([
          "exec",
          "--session",
          session,
          "--",
          "sh",
          "-c",
          script,
        ]);
        assert.equal(ran.code, 0, `${ran.stdout}\n${ran.stderr}`);
      }
      const stopped = await cli(["stop", session]);
      assert.equal(stopped.code, 0, stopped.stderr);

      const diff = await cli(["diff", session, "--system", "--json"]);
      assert.equal(diff.code, 0, diff.stderr);
      const system = JSON.parse(diff.stdout);
      const pkg = system.packages.installed.find((p: Json) => p.name === PACKAGE);
      assert.ok(pkg, `${PACKAGE} installed: ${JSON.stringify(system.packages)}`);
      assert.deepEqual(system.packages.installed.map((p: Json) => p.name), [PACKAGE]);
      assert.deepEqual(system.packages.removed, []);
      assert.deepEqual(system.users.added.map((u: Json) => u.name), ["demo"]);
      assert.deepEqual(system.groups.added.map((g: Json) => g.name), ["demo"]);
      assert.deepEqual(system.services.enabled, [
        { name: "demo.service", init: "systemd", where: ["multi-user.target"] },
      ]);
      const demo = system.etc.find((d: Json) => d.path === "/etc/demo.conf");
      assert.deepEqual(demo.lines, ["@@ -0,0 +1,2 @@", "+listen 8080", "+workers 2"]);
      // Exactly those: everything not from the package is one of the script's doings.
      const own = system.files.filter((f: Json) => !f.package).map((f: Json) => f.path);
      const expected = [
        /^\/etc\/(demo\.conf|passwd|group|shadow|gshadow|subuid|subgid)$/,
        /^\/etc\/systemd\/system(\/|$)/,
        /^\/home\/demo(\/|$)/,
        /^\/var\/lib\/apt\/extended_states$/,
        /^\/var\/lib\/dpkg(\/|$)/,
        /^\/usr\/share\/(doc|info|man)(\/|$)/,
        // The hostile extras.
        /^\/root\/\.ssh(\/id_rsa)?$/,
        /^\/etc\/evil-link$/,
        /^\/etc\/odd\\x0aname\.conf$/,
        /^\/opt\/huge\.bin$/,
        /^\/(etc|usr|usr\/share|usr\/bin|var|var\/lib|opt|root|home|etc\/systemd)$/,
      ];
      const unexpected = own.filter((p: string) => !expected.some((re) => re.test(p)));
      assert.deepEqual(unexpected, [], "only the script's changes");
      assert.ok(!own.some((p: string) => /^\/(var\/(log|cache)|tmp|run|workspace)\//.test(p)));
      // Hostile: the link is data, the odd name is reported escaped, the big file by its size.
      const link = system.files.find((f: Json) => f.path === "/etc/evil-link");
      assert.equal(link.target, "/root/.ssh/id_rsa");
      assert.ok(system.files.some((f: Json) => f.type === "unsupported" && f.path.includes("odd")));
      assert.equal(system.files.find((f: Json) => f.path === "/opt/huge.bin").size, 64 << 20);
      assert.ok(!diff.stdout.includes("PRIVATE-KEY-CANARY"), "the key's content is not shown");

      // The playbook passes ansible's own syntax check; no secret is in it.
      const ansibleDir = `${project}/ansible`;
      const exported = await cli([
        "export",
        session,
        "--ansible",
        "--yes-high-risk",
        "--out",
        ansibleDir,
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      const playbook = await Deno.readTextFile(`${ansibleDir}/playbook.yml`);
      assert.ok(playbook.includes(`"${PACKAGE}=${pkg.version}"`));
      assert.ok(!playbook.includes("PRIVATE-KEY-CANARY"));
      const syntax = await new Deno.Command("ansible-playbook", {
        args: ["--syntax-check", "-i", "localhost,", `${ansibleDir}/playbook.yml`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(syntax.success, new TextDecoder().decode(syntax.stderr));

      // Reproduce without the hostile extras: they are the agent's mischief, not the change.
      const scriptDir = `${project}/script`;
      const paths = ["/etc/demo.conf", "/etc/systemd", "/home/demo"];
      const exportedScript = await cli([
        "export",
        session,
        "--script",
        "--yes-high-risk",
        "--out",
        scriptDir,
        ...paths.flatMap((p) => ["--path", p]),
      ]);
      assert.equal(exportedScript.code, 0, exportedScript.stderr);
      const ansibleSelected = `${project}/ansible-selected`;
      const exportedSelected = await cli([
        "export",
        session,
        "--ansible",
        "--yes-high-risk",
        "--out",
        ansibleSelected,
        ...paths.flatMap((p) => ["--path", p]),
      ]);
      assert.equal(exportedSelected.code, 0, exportedSelected.stderr);
      const wanted = comparable(system);
      const hostile = /^\/(root|opt|etc\/evil-link|etc\/odd)/;
      wanted.files = Object.fromEntries(
        Object.entries(wanted.files).filter(([path]) => !hostile.test(path)),
      );
      wanted.etc = wanted.etc.filter(([path]: [string]) => !hostile.test(path));

      const reproduce = async (label: string, command: string) => {
        const run = await cli([
          "exec",
          "--image",
          "dev",
          "--user",
          "root",
          "--allow",
          MIRROR,
          "--share",
          project,
          "--discard",
          "--system-diff",
          "--json",
          "--",
          "sh",
          "-c",
          command,
        ], { cwd: project });
        const report = JSON.parse(run.stdout);
        assert.equal(run.code, 0, `${label}: ${run.stderr}`);
        assert.deepEqual(comparable(report.system), wanted, `${label} reproduces the summary`);
      };
      // Both in fresh VMs at once: the mirror's lists are fetched twice, so overlap the waits.
      const noAnsible = await shareAnsible(`${project}/pylib`);
      await Promise.all([
        reproduce("the script", `sh /workspace/script/apply.sh`),
        noAnsible ? Promise.resolve() : reproduce(
          "the playbook",
          // Already root: no become (sudo would drop PYTHONPATH, and the image has no sudo).
          "export PYTHONPATH=/workspace/pylib LANG=C.UTF-8 ANSIBLE_HOME=/tmp/ansible " +
            "ANSIBLE_LOCAL_TEMP=/tmp/ansible/tmp ANSIBLE_REMOTE_TEMP=/tmp/ansible/tmp " +
            "PYTHONDONTWRITEBYTECODE=1 && cd /workspace/ansible-selected && " +
            "python3 -c 'import sys; from ansible.cli.playbook import main; " +
            `sys.argv[0] = "ansible-playbook"; main()' -i localhost, -c local ` +
            "-e ansible_become=false -e ansible_python_interpreter=/usr/bin/python3 playbook.yml",
        ),
      ]);
      if (noAnsible) {
        console.error(`system_diff_test: the playbook was not applied in a VM: ${noAnsible}`);
      }
    } finally {
      // A failed step must not leave the session's VM running (stopping a stopped one is a no-op).
      if (session) await cli(["stop", session]);
      await Deno.remove(project, { recursive: true });
    }
  },
});
