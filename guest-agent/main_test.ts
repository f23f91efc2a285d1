import assert from "node:assert/strict";
import { AgentClient } from "../host/channel/agent_client.ts";
import { parseAgentArgs, parseEndpoint } from "./main.ts";
import { within } from "./protocol/testing/mod.ts";

Deno.test("parseEndpoint reads --vsock, --stdio and --unix", () => {
  assert.deepEqual(parseEndpoint(["--vsock", "1024"]), { kind: "vsock", port: 1024 });
  assert.deepEqual(parseEndpoint(["--stdio"]), { kind: "stdio" });
  assert.deepEqual(parseEndpoint(["--unix", "/tmp/a.sock"]), { kind: "unix", path: "/tmp/a.sock" });
  for (
    const bad of [
      [],
      ["--vsock"],
      ["--vsock", "x"],
      ["--vsock", "-1"],
      ["--unix"],
      ["--stdio", "x"],
      ["--tcp", "1"],
    ]
  ) {
    assert.throws(() => parseEndpoint(bad), /usage/, bad.join(" "));
  }
});

Deno.test("parseAgentArgs takes --dns ADDRESS after the endpoint", () => {
  assert.deepEqual(parseAgentArgs(["--stdio", "--dns", "10.0.2.100"]), {
    endpoint: { kind: "stdio" },
    dns: "10.0.2.100",
  });
  assert.deepEqual(parseAgentArgs(["--stdio"]), { endpoint: { kind: "stdio" } });
  for (
    const bad of [["--stdio", "--dns"], ["--dns", "1.2.3.4", "--stdio"], [
      "--stdio",
      "x",
      "--dns",
      "a",
    ]]
  ) {
    assert.throws(() => parseAgentArgs(bad), /usage/, bad.join(" "));
  }
});

/** Run `main.ts` as its own process with `args`. */
function spawnAgent(args: string[], stdio: Deno.CommandOptions): Deno.ChildProcess {
  const main = new URL("./main.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--no-check", main, ...args],
    ...stdio,
  }).spawn();
}

Deno.test("the agent runs as its own process on a unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-main-test-" });
  const path = `${dir}/agent.sock`;
  const agent = spawnAgent(["--unix", path], { stdout: "null", stderr: "piped" });
  try {
    let socket: Deno.UnixConn | undefined;
    for (const deadline = Date.now() + 15_000; !socket && Date.now() < deadline;) {
      socket = await Deno.connect({ transport: "unix", path }).catch(() => undefined);
      if (!socket) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(socket, "the agent listens");
    const client = await within(AgentClient.connect(socket), 5000, "connect");
    const run = client.exec({ argv: ["echo", "from a separate agent"] });
    const [out, , result] = await within(
      Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.result]),
      5000,
      "exec",
    );
    assert.equal(out, "from a separate agent\n");
    assert.equal(result.code, 0);
    client.close();
    await client.closed;
  } finally {
    agent.kill("SIGKILL");
    await agent.status;
    await agent.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the agent serves its stdin and stdout with --stdio, as on a virtio-serial port", async () => {
  const agent = spawnAgent(["--stdio"], { stdin: "piped", stdout: "piped", stderr: "inherit" });
  try {
    const client = await within(
      AgentClient.connect({ readable: agent.stdout, writable: agent.stdin }),
      10_000,
      "hello over stdio",
    );
    const run = client.exec({ argv: ["sh", "-c", "echo out; echo err >&2; exit 5"] });
    const [out, err, result] = await Promise.all([
      new Response(run.stdout).text(),
      new Response(run.stderr).text(),
      run.result,
    ]);
    assert.deepEqual([out, err, result.code], ["out\n", "err\n", 5]);
    client.close();
  } finally {
    agent.kill("SIGKILL");
    await agent.status;
  }
});
