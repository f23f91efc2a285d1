/**
 * `--net learn` through the CLI, with a real VM: the guest reaches a host of its choosing, and
 * `.agentbox.toml` is widened only with `--yes` (stdin is not a terminal here, so nobody can be
 * asked). The name resolves through the namespace's own /etc/hosts (`ip netns exec` mounts
 * /etc/netns/NS/hosts over it) to a peer namespace serving on a documentation address.
 */
import assert from "node:assert/strict";
import { namespacePairResolving, REPO } from "../helpers.ts";

let namespaces = { host: "", peer: "" };
const skipReason = await namespacePairResolving(["learn.test"]).then((pair) => {
  namespaces = pair;
  return undefined;
}, (err) => String(err));
if (skipReason) console.log(`skipped: learn mode tests: ${skipReason}`);

function inNamespace(ns: string, args: string[], cwd?: string): Deno.Command {
  return new Deno.Command("ip", {
    args: [
      ...["netns", "exec", ns, Deno.execPath(), "run", "--allow-all", "--quiet"],
      `--config=${REPO}/deno.json`,
      ...args,
    ],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test({
  name: "--net learn writes the guest's hosts to .agentbox.toml only with --yes",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const peer = inNamespace(namespaces.peer, [
    `${REPO}/tests/e2e/netns_probe.ts`,
    "serve",
    "80",
    "peer",
  ])
    .spawn();
  const project = await Deno.makeTempDir({ prefix: "agentbox-learn-" });
  try {
    const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /listening/);
    reader.releaseLock();
    const exec = async (extra: string[], cwd = project) => {
      const out = await inNamespace(namespaces.host, [
        `${REPO}/host/main.ts`,
        ...["exec", "--net", "learn", "--net-backend", "user", ...extra],
        ...["--", "curl", "-s", "http://learn.test/"],
      ], cwd).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    const file = `${project}/.agentbox.toml`;
    const asked = await exec([]);
    // The guest did reach its host (the peer's own answer): learn mode is open while it runs.
    assert.equal(asked.stdout, "hello from peer\n", asked.stderr);
    assert.equal(asked.code, 0);
    assert.match(asked.stderr, /learned 1 host\(s\), not written to .*: learn\.test/);
    assert.match(asked.stderr, /--net learn --yes/);
    await assert.rejects(Deno.stat(file), Deno.errors.NotFound, "nothing written without a yes");
    // Run from a subdirectory of a repository, learn mode writes the repository's file.
    await Deno.mkdir(`${project}/.git`);
    await Deno.mkdir(`${project}/pkg`);
    const yes = await exec(["--yes"], `${project}/pkg`);
    assert.equal(yes.stdout, "hello from peer\n", yes.stderr);
    assert.match(yes.stderr, /learned 1 host\(s\), added to network\.allow in .*: learn\.test/);
    assert.equal(await Deno.readTextFile(file), '[network]\nallow = ["learn.test"]\n');
    await assert.rejects(Deno.stat(`${project}/pkg/.agentbox.toml`), Deno.errors.NotFound);
  } finally {
    peer.kill("SIGTERM");
    await peer.status;
    await Deno.remove(project, { recursive: true });
  }
});
