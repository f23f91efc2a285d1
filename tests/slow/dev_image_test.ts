/**
 * Slow: the `dev` image end to end. Builds it (debootstrap and apt: minutes, root only) unless a
 * current one is already in the images directory, then, in real VMs: git, python3 and node work,
 * commands run as `agent`, `agent` can write the shared workspace, and the agent CLIs installed
 * from npm in a VM of the image through agentbox's proxy (`--agents claude,codex`) run apart from
 * the project's Node (a project's `.nvmrc` asking for another major gets a warning, and the image's
 * node), and root works on a tap network.
 *
 * `.ci/run` runs it; set AGENTBOX_SKIP_SLOW=1 to skip it locally.
 */
import assert from "node:assert/strict";
import { findImage } from "../../image/store.ts";
import { agentbox } from "../helpers.ts";
import { ensureDevImage } from "./testing/dev_image.ts";

const decoder = new TextDecoder();

const skipReason = Deno.env.get("AGENTBOX_SKIP_SLOW") === "1"
  ? "AGENTBOX_SKIP_SLOW=1"
  : Deno.uid() !== 0
  ? "building the dev image needs root (debootstrap)"
  : undefined;
if (skipReason) console.error(`dev_image_test: skipped: ${skipReason}`);

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await agentbox(args, { env }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test({
  name: "slow: dev image: git, python3 and node run as agent, who can write the workspace",
  ignore: skipReason !== undefined,
  fn: async () => {
    await ensureDevImage();
    const image = await findImage("dev");
    assert.equal(image.manifest.user?.name, "agent");
    const names = image.manifest.packages.map((p) => p.name);
    for (const name of ["git", "python3", "nodejs", "npm", "build-essential", "ripgrep", "jq"]) {
      assert.ok(names.includes(name), `the manifest lists ${name}`);
    }

    const base = await Deno.makeTempDir({ prefix: "agentbox-dev-" });
    const env = { XDG_STATE_HOME: `${base}/state`, XDG_CACHE_HOME: `${base}/cache` };
    const project = `${base}/project`;
    await Deno.mkdir(`${project}/src`, { recursive: true });
    await Deno.writeTextFile(`${project}/src/main.py`, "print(6 * 7)\n");
    // The project asks for another Node: agentbox says so at start, and the image's stays.
    await Deno.writeTextFile(`${project}/.nvmrc`, "v20.11.1\n");
    try {
      const script = [
        "id -un",
        "echo $HOME",
        "git --version",
        "python3 src/main.py",
        "node -e 'console.log(process.version.startsWith(\"v\"))'",
        "echo new > top.txt && echo more >> src/main.py && mkdir made && echo ok > made/x",
        "git init -q repo && git -C repo -c user.email=a@b -c user.name=a commit -q --allow-empty -m first && echo committed",
        "stat -c %U top.txt",
        "touch /etc/agent-cannot-write 2>/dev/null || echo no-root",
      ].join(" && ");
      const run = await cli(
        ["exec", "--image", "dev", "--json", "--share", project, "--", "sh", "-c", script],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      // With --json the report is stdout; the command's own stdout is in the file it names.
      const report = JSON.parse(run.stdout);
      const stdout = await Deno.readTextFile(report.output.stdout);
      const lines = stdout.split("\n");
      const at = lines.indexOf("agent");
      assert.ok(at >= 0, `id -un printed agent:\n${stdout}`);
      assert.deepEqual(lines.slice(at + 1, at + 2), ["/home/agent"]);
      assert.match(stdout, /^git version \d/m);
      assert.match(stdout, /^42$/m);
      assert.match(stdout, /^true$/m);
      assert.match(stdout, /^committed$/m);
      assert.match(stdout, /^agent$\n^no-root$/m);
      const paths = report.changes.entries.map((e: { path: string }) => e.path);
      for (const path of ["top.txt", "src/main.py", "made/x"]) {
        assert.ok(paths.includes(path), `${path} is among the changes: ${paths.join(" ")}`);
      }

      const clis = await cli(
        ["exec", "--image", "dev", "--", "sh", "-c", "claude --version && codex --version"],
        env,
      );
      assert.equal(clis.code, 0, clis.stderr);
      assert.match(clis.stdout, /\(Claude Code\)/);
      assert.match(clis.stdout, /^codex-cli \d/m);

      // The agent CLIs and their Node live apart: node and npm on PATH are Debian's (the
      // project's toolchain), the agents' Node 22 is not on PATH, the agent commands are.
      const toolchain = await cli([
        "exec",
        "--image",
        "dev",
        "--share",
        project,
        "--discard",
        "--",
        "sh",
        "-c",
        "for c in node npm claude codex; do command -v $c; done; " +
        "node --version; npm --version; " +
        "/opt/agentbox/agents/bin/node --version; " +
        'case ":$PATH:" in *agentbox*) echo agents-on-path;; esac',
      ], env);
      assert.equal(toolchain.code, 0, toolchain.stderr);
      const [nodePath, npmPath, claudePath, codexPath, node, npm, agentsNode, ...rest] = toolchain
        .stdout.trim().split("\n");
      assert.deepEqual([nodePath, npmPath], ["/usr/bin/node", "/usr/bin/npm"]);
      assert.deepEqual([claudePath, codexPath], ["/usr/local/bin/claude", "/usr/local/bin/codex"]);
      assert.match(node, /^v18\./, "Debian 12's Node");
      assert.match(npm, /^9\./, "Debian 12's npm");
      assert.match(agentsNode, /^v22\./, "the agents' own Node");
      assert.deepEqual(rest, [], "nothing of /opt/agentbox on PATH");
      assert.match(
        toolchain.stderr,
        /warning: \.nvmrc asks for Node 20; the dev image's node is 18\.[\d.]+ and the project's commands get that one: .*npx -y node@20/,
      );

      // On a tap network too: the host re-addresses eth0 with `ip`, which Debian's dev image has
      // only as an applet of agentbox's busybox.
      const root = await cli(
        ["exec", "--image", "dev", "--net-backend", "tap", "--user", "root", "--", "id", "-u"],
        env,
      );
      assert.equal(root.code, 0, root.stderr);
      assert.equal(root.stdout, "0\n");
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

Deno.test({
  name: "slow: dev image: a detached session's first command runs as agent, as exec's do",
  ignore: skipReason !== undefined,
  fn: async () => {
    await ensureDevImage();
    const base = await Deno.makeTempDir({ prefix: "agentbox-dev-detached-" });
    const env = {
      XDG_STATE_HOME: `${base}/state`,
      XDG_CACHE_HOME: `${base}/cache`,
      XDG_RUNTIME_DIR: `${base}/run`,
    };
    const project = `${base}/project`;
    await Deno.mkdir(project, { recursive: true });
    try {
      const started = await cli([
        "run",
        "--detach",
        "--name",
        "devfirst",
        "--image",
        "dev",
        "--share",
        project,
        "--",
        "sh",
        "-c",
        "id -un > first.txt",
      ], env);
      assert.equal(started.code, 0, started.stderr);
      let first = "";
      for (const deadline = Date.now() + 60_000; first === "" && Date.now() < deadline;) {
        const read = await cli(["exec", "--session", "devfirst", "--", "cat", "first.txt"], env);
        if (read.code === 0) first = read.stdout;
        else await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.equal(first, "agent\n", "the first command did not run as agent");
      const later = await cli(["exec", "--session", "devfirst", "--", "id", "-un"], env);
      assert.equal(later.stdout, "agent\n", later.stderr);
    } finally {
      await cli(["rm", "--force", "devfirst"], env);
      await Deno.remove(base, { recursive: true });
    }
  },
});
