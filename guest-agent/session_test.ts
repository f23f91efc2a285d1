/**
 * The guest agent without a VM: served in-process on a unix socket and driven by the real host
 * client, as the host drives it through virtio-serial or vsock.
 */

import assert from "node:assert/strict";
import { AgentClient, AgentError, type ExecRequest } from "../host/channel/agent_client.ts";
import { concat, RawPeer, within } from "./protocol/testing/mod.ts";
import { encodeMessage, type Message, PROTOCOL_VERSION } from "@agentbox/protocol";
import { BASE_ENV } from "./handlers/exec.ts";
import { startAgent } from "../host/channel/testing/in_process_agent.ts";

const HANG_MS = 10_000;

interface Outcome {
  stdout: Uint8Array<ArrayBuffer>;
  stderr: Uint8Array<ArrayBuffer>;
  pid: number;
  code: number | null;
  signal: Deno.Signal | null;
  timedOut: boolean;
}

/** Run a command to completion, collecting both outputs. */
async function run(client: AgentClient, request: ExecRequest): Promise<Outcome> {
  const exec = client.exec(request);
  const [stdout, stderr, result, pid] = await within(
    Promise.all([
      new Response(exec.stdout).bytes(),
      new Response(exec.stderr).bytes(),
      exec.result,
      exec.started,
    ]),
    HANG_MS,
    `exec ${request.argv.join(" ")}`,
  );
  return { stdout, stderr, pid, ...result };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomData(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Whether `pid` is gone (or a zombie waiting for a reaper, which is just as dead). */
function isDead(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

async function waitDead(pids: number[], ms = 3000): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = pids.filter((p) => !isDead(p));
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    alive = alive.filter((p) => !isDead(p));
  }
  return alive;
}

Deno.test("agent: handshake announces the protocol version and exec capabilities", async () => {
  await using agent = await startAgent();
  assert.equal(agent.client.hello.version, PROTOCOL_VERSION);
  assert.equal(agent.client.hello.role, "agent");
  for (const cap of ["exec", "exec.signal", "exec.timeout", "exec.stdin"]) {
    assert.ok(agent.client.hello.capabilities.includes(cap), cap);
  }
});

Deno.test("agent: echo", async () => {
  await using agent = await startAgent();
  const out = await run(agent.client, { argv: ["echo", "hello", "world"] });
  assert.equal(text(out.stdout), "hello world\n");
  assert.equal(out.stderr.length, 0);
  assert.deepEqual([out.code, out.signal, out.timedOut], [0, null, false]);
  assert.ok(out.pid > 1);
});

Deno.test("agent: exit codes 0, 1 and 255 come back as they are", async () => {
  await using agent = await startAgent();
  for (const code of [0, 1, 255]) {
    const out = await run(agent.client, { argv: ["sh", "-c", `exit ${code}`] });
    assert.deepEqual([out.code, out.signal, out.timedOut], [code, null, false]);
  }
});

Deno.test("agent: death by signal is reported as the signal, with no exit code", async () => {
  await using agent = await startAgent();
  const out = await run(agent.client, { argv: ["sh", "-c", "kill -TERM $$"] });
  assert.deepEqual([out.code, out.signal, out.timedOut], [null, "SIGTERM", false]);
  const killed = await run(agent.client, { argv: ["sh", "-c", "kill -KILL $$"] });
  assert.deepEqual([killed.code, killed.signal], [null, "SIGKILL"]);
});

Deno.test("agent: stdout and stderr are separate and byte-exact (MBs of random bytes)", async () => {
  await using agent = await startAgent();
  const out = randomData(6 * 1024 * 1024 + 17);
  const err = randomData(4 * 1024 * 1024 + 3);
  await Deno.writeFile(`${agent.dir}/out.bin`, out);
  await Deno.writeFile(`${agent.dir}/err.bin`, err);
  // Both written at the same time, so the two streams interleave on the wire.
  const result = await run(agent.client, {
    argv: ["sh", "-c", 'cat "$1" & cat "$2" >&2; wait', "sh", "out.bin", "err.bin"],
    cwd: agent.dir,
  });
  assert.equal(result.code, 0);
  assert.equal(result.stdout.length, out.length);
  assert.equal(result.stderr.length, err.length);
  assert.equal(await sha256(result.stdout), await sha256(out));
  assert.equal(await sha256(result.stderr), await sha256(err));
});

Deno.test("agent: stdin round trip through cat is byte-exact", async () => {
  await using agent = await startAgent();
  const input = randomData(5 * 1024 * 1024 + 1);
  const stdin = ReadableStream.from((function* () {
    for (let i = 0; i < input.length; i += 100_000) yield input.subarray(i, i + 100_000);
  })());
  const out = await run(agent.client, { argv: ["cat"], stdin });
  assert.equal(out.code, 0);
  assert.equal(out.stdout.length, input.length);
  assert.equal(await sha256(out.stdout), await sha256(input));
});

Deno.test("agent: stdin left unread by a command that exits does not break the connection", async () => {
  await using agent = await startAgent();
  const stdin = ReadableStream.from([randomData(3 * 1024 * 1024)]);
  const out = await run(agent.client, { argv: ["true"], stdin });
  assert.equal(out.code, 0);
  // The same connection still works.
  assert.equal(
    text((await run(agent.client, { argv: ["echo", "still here"] })).stdout),
    "still here\n",
  );
});

Deno.test("agent: no stdin means an empty stdin", async () => {
  await using agent = await startAgent();
  const out = await run(agent.client, { argv: ["cat"] });
  assert.deepEqual([out.stdout.length, out.code], [0, 0]);
});

Deno.test("agent: 20 concurrent execs on one connection", async () => {
  await using agent = await startAgent();
  const outs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    run(agent.client, {
      argv: ["sh", "-c", 'echo "out $0"; sleep 0.2; echo "err $0" >&2; exit $0', String(i)],
    })));
  const pids = new Set<number>();
  outs.forEach((out, i) => {
    assert.equal(text(out.stdout), `out ${i}\n`);
    assert.equal(text(out.stderr), `err ${i}\n`);
    assert.equal(out.code, i);
    pids.add(out.pid);
  });
  assert.equal(pids.size, 20);
});

Deno.test("agent: a timeout kills the whole process tree", async () => {
  await using agent = await startAgent();
  const pidFile = `${agent.dir}/pids`;
  const script = [
    'sleep 1000 & echo $! >> "$0"',
    'sh -c \'sleep 1000 & echo $! >> "$0"; wait\' "$0" & echo $! >> "$0"',
    "echo ready",
    "wait",
  ].join("\n");
  const started = Date.now();
  const out = await run(agent.client, { argv: ["sh", "-c", script, pidFile], timeoutMs: 1000 });
  assert.deepEqual([out.code, out.signal, out.timedOut], [null, "SIGKILL", true]);
  assert.equal(text(out.stdout), "ready\n");
  assert.ok(Date.now() - started < 5000, "the exit came soon after the timeout");
  const pids = (await Deno.readTextFile(pidFile)).trim().split("\n").map(Number);
  assert.equal(pids.length, 3, "two children and a grandchild were started");
  assert.deepEqual(await waitDead([out.pid, ...pids]), [], "every process of the tree is dead");
});

Deno.test("agent: exec.signal SIGINT reaches the process group, not only the leader", async () => {
  await using agent = await startAgent();
  // The leader traps SIGINT and survives; its foreground child only dies if the signal reaches
  // the whole group. Without that, this would run into its timeout.
  const exec = agent.client.exec({
    argv: [
      "sh",
      "-c",
      'trap "echo leader-got-int" INT; sh -c "echo ready; exec sleep 1000"; echo "child=$?"',
    ],
    timeoutMs: HANG_MS,
  });
  const reader = exec.stdout.getReader();
  let stdout = "";
  while (!stdout.includes("ready")) {
    const { value, done } = await within(reader.read(), HANG_MS, "ready");
    assert.ok(!done, "stdout ended before ready");
    stdout += text(value);
  }
  await exec.signal("SIGINT");
  for (let r = await reader.read(); !r.done; r = await reader.read()) stdout += text(r.value);
  const result = await within(exec.result, HANG_MS, "result");
  await exec.stderr.cancel();
  assert.deepEqual(result, { code: 0, signal: null, timedOut: false });
  assert.ok(stdout.includes("leader-got-int"), stdout);
  assert.ok(stdout.includes("child=130"), stdout);
});

/** A raw host on a new connection, past the handshake. */
async function rawHost(path: string): Promise<RawPeer> {
  const peer = new RawPeer(await Deno.connect({ transport: "unix", path }));
  assert.equal((await within(peer.expect("hello"), HANG_MS, "hello"))?.role, "agent");
  await peer.send({
    type: "hello",
    version: PROTOCOL_VERSION,
    role: "host",
    capabilities: [],
    software: "test",
  });
  return peer;
}

Deno.test("agent: a signal right behind exec.start is not lost", async () => {
  await using agent = await startAgent();
  const peer = await rawHost(agent.path);
  // Both in one write: the agent handles the signal before the child has made itself a
  // process-group leader, so a kill of the group alone would find no group.
  await peer.write(concat([
    encodeMessage({
      type: "exec.start",
      stream: 1,
      argv: ["sleep", "1000"],
      env: {},
      stdin: false,
    }),
    encodeMessage({ type: "exec.signal", stream: 1, signal: "SIGKILL" }),
  ]));
  const exit = await within(peer.expect("exec.exit"), HANG_MS, "exit");
  assert.deepEqual([exit?.code, exit?.signal], [null, "SIGKILL"]);
  await peer.end();
  await peer.drain();
});

Deno.test("agent: a zero or tiny timeout still kills the command", async () => {
  await using agent = await startAgent();
  const outs = await Promise.all(
    [0, 0, 1, 1].map((timeoutMs) => run(agent.client, { argv: ["sleep", "1000"], timeoutMs })),
  );
  for (const out of outs) {
    assert.deepEqual([out.code, out.signal, out.timedOut], [null, "SIGKILL", true]);
  }
});

Deno.test("agent: a command that does not exist is spawn_failed", async () => {
  await using agent = await startAgent();
  for (const argv of [["no-such-command-agentbox"], ["/nonexistent/bin/x"], ["./x"], [""]]) {
    const exec = agent.client.exec({ argv });
    await assert.rejects(within(exec.result, HANG_MS, "result"), (e) => {
      assert.ok(e instanceof AgentError, String(e));
      assert.equal(e.code, "spawn_failed", `${argv}: ${e.message}`);
      return true;
    });
    await assert.rejects(exec.started, (e) => e instanceof AgentError);
  }
  // Found on no directory of the command's PATH: said so, whoever looks the name up.
  const missing = agent.client.exec({ argv: ["no-such-command-agentbox"], env: { PATH: "/bin" } });
  await assert.rejects(
    missing.result,
    (e) =>
      e instanceof AgentError &&
      e.message === "Cannot start no-such-command-agentbox: command not found in PATH",
  );
  // A file that exists but is not executable.
  await Deno.writeTextFile(`${agent.dir}/script.sh`, "echo hi\n");
  const exec = agent.client.exec({ argv: ["./script.sh"], cwd: agent.dir });
  await assert.rejects(exec.result, (e) => e instanceof AgentError && e.code === "spawn_failed");
  // The connection survives refusals.
  assert.equal((await run(agent.client, { argv: ["true"] })).code, 0);
});

Deno.test("agent: a piped command leads its own session and process group, as the given user", async () => {
  await using agent = await startAgent();
  // /proc/PID/stat: pid (comm) state ppid pgrp session; `exec` makes the shell the command itself.
  const stat = "exec cut -d' ' -f1,5,6 /proc/self/stat";
  const [pid, pgrp, session] = text((await run(agent.client, { argv: ["sh", "-c", stat] })).stdout)
    .trim().split(" ");
  assert.equal(pgrp, pid, "process group");
  assert.equal(session, pid, "session");
  if (Deno.uid() !== 0) return;
  const out = await run(agent.client, { argv: ["sh", "-c", `id -u; ${stat}`], user: "nobody" });
  const [uid, ids] = text(out.stdout).trim().split("\n");
  const [nobodyPid, nobodyGroup, nobodySession] = ids.split(" ");
  assert.deepEqual([uid, nobodyGroup, nobodySession], ["65534", nobodyPid, nobodyPid]);
});

Deno.test("agent: a working directory that does not exist is spawn_failed", async () => {
  await using agent = await startAgent();
  const exec = agent.client.exec({ argv: ["pwd"], cwd: `${agent.dir}/missing` });
  await assert.rejects(
    within(exec.result, HANG_MS, "result"),
    (e) =>
      e instanceof AgentError && e.code === "spawn_failed" &&
      e.message.includes("working directory") && e.message.includes("does not exist"),
  );
  const ok = await run(agent.client, { argv: ["pwd"], cwd: agent.dir });
  assert.equal(text(ok.stdout), `${await Deno.realPath(agent.dir)}\n`);
  const root = await run(agent.client, { argv: ["pwd"] });
  assert.equal(text(root.stdout), "/\n", "the default working directory is /");
});

Deno.test({
  name: "agent: exec.start's user runs the command as that user with its login variables",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using agent = await startAgent();
    assert.ok(agent.client.hello.capabilities.includes("exec.user"));
    const out = await run(agent.client, {
      argv: ["sh", "-c", 'echo "$(id -u):$(id -g):$(id -G):$HOME:$USER:$LOGNAME"'],
      user: "nobody",
    });
    assert.equal(text(out.stdout), "65534:65534:65534:/nonexistent:nobody:nobody\n");
    const own = await run(agent.client, { argv: ["id", "-u"], env: { HOME: "/x" } });
    assert.equal(text(own.stdout), "0\n", "without user the agent's own user");
    const missing = agent.client.exec({ argv: ["true"], user: "no-such-user-agentbox" });
    await assert.rejects(
      within(missing.result, HANG_MS, "result"),
      (e) =>
        e instanceof AgentError && e.code === "spawn_failed" && e.message.includes("no such user"),
    );
  },
});

Deno.test("agent: env entries reach the command over a clean base environment", async () => {
  await using agent = await startAgent();
  const out = await run(agent.client, { argv: ["env"], env: { FOO: "bar baz", HOME: "/work" } });
  const env = Object.fromEntries(
    text(out.stdout).trim().split("\n").map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
  assert.deepEqual(env, { ...BASE_ENV, FOO: "bar baz", HOME: "/work" });
  assert.ok(BASE_ENV.PATH.includes("/usr/bin"));
});

Deno.test("agent: the command's PATH does not decide where the agent finds its own tools", async () => {
  await using agent = await startAgent();
  for (const PATH of ["/nonexistent", ""]) {
    const out = await run(agent.client, { argv: ["/bin/echo", "ok"], env: { PATH } });
    assert.deepEqual([text(out.stdout), out.code], ["ok\n", 0], `PATH=${PATH}`);
  }
  const exec = agent.client.exec({ argv: ["echo"], env: { PATH: "/nonexistent" } });
  await assert.rejects(exec.result, (e) => e instanceof AgentError && e.code === "spawn_failed");
});

Deno.test("agent: a host that disconnects mid-exec gets its processes killed", async () => {
  await using agent = await startAgent();
  const client = await agent.connect();
  const exec = client.exec({ argv: ["sh", "-c", "sleep 1000 & echo $!; wait"] });
  const leader = await within(exec.started, HANG_MS, "started");
  const reader = exec.stdout.getReader();
  const { value } = await within(reader.read(), HANG_MS, "child pid");
  const child = Number(text(value!).trim());
  assert.ok(child > 1);
  assert.equal(isDead(leader), false);
  assert.equal(isDead(child), false);
  client.close();
  await assert.rejects(within(exec.result, HANG_MS, "result"), (e) => e instanceof AgentError);
  assert.deepEqual(await waitDead([leader, child]), [], "the agent killed the process group");
});

Deno.test("agent: a reused stream id is stream_exists, and the first exec is unharmed", async () => {
  await using agent = await startAgent();
  const peer = await rawHost(agent.path);
  const start = {
    type: "exec.start" as const,
    stream: 5,
    argv: ["sleep", "1000"],
    env: {},
    stdin: false,
  };
  await peer.send(start);
  assert.equal((await peer.expect("exec.started"))?.stream, 5);
  await peer.send(start);
  const error = await within(peer.expect("error"), HANG_MS, "error");
  assert.deepEqual([error?.stream, error?.code], [5, "stream_exists"]);
  await peer.send({ type: "exec.signal", stream: 5, signal: "SIGKILL" });
  const exit = await within(peer.expect("exec.exit"), HANG_MS, "exit");
  assert.deepEqual([exit?.stream, exit?.code, exit?.signal], [5, null, "SIGKILL"]);
  await peer.end();
  await peer.drain();
});

Deno.test("agent: garbage from the host ends the connection with an error frame", async () => {
  await using agent = await startAgent();
  const peer = new RawPeer(await Deno.connect({ transport: "unix", path: agent.path }));
  await peer.expect("hello");
  await peer.write(new Uint8Array([0, 0, 0, 2, 0xff, 0xff]));
  const error = await within(peer.expect("error"), HANG_MS, "error");
  assert.equal(error?.code, "bad_frame");
  assert.equal(await within(peer.next(), HANG_MS, "EOF"), undefined);
});

Deno.test("agent: a host that skips its hello is refused with bad_message", async () => {
  await using agent = await startAgent();
  for (
    const first of [
      { type: "exec.start", stream: 1, argv: ["true"], env: {}, stdin: false },
      { ...agent.client.hello },
    ] as Message[]
  ) {
    const peer = new RawPeer(await Deno.connect({ transport: "unix", path: agent.path }));
    await peer.expect("hello");
    await peer.send(first);
    const error = await within(peer.expect("error"), HANG_MS, "error");
    assert.equal(error?.code, "bad_message");
    assert.equal(await within(peer.next(), HANG_MS, "EOF"), undefined);
  }
});

Deno.test("agent: a host with another protocol version is refused with version_mismatch", async () => {
  await using agent = await startAgent();
  const peer = new RawPeer(await Deno.connect({ transport: "unix", path: agent.path }));
  await peer.expect("hello");
  await peer.send({
    type: "hello",
    version: PROTOCOL_VERSION + 1,
    role: "host",
    capabilities: [],
    software: "test",
  });
  const error = await within(peer.expect("error"), HANG_MS, "error");
  assert.equal(error?.code, "version_mismatch");
  assert.equal(await within(peer.next(), HANG_MS, "EOF"), undefined);
});
