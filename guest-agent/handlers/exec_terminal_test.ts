/**
 * Commands on a pseudo-terminal, without a VM: the agent served in-process and driven by the real
 * host client (FFI `openpty` works on the host as in the guest).
 */

import assert from "node:assert/strict";
import type { ExecHandle } from "../../host/channel/agent_client.ts";
import { within } from "../protocol/testing/mod.ts";
import { startAgent } from "../../host/channel/testing/in_process_agent.ts";

const HANG_MS = 10_000;
const PTY = { rows: 24, cols: 80, term: "xterm-256color" };
const encoder = new TextEncoder();

/** A terminal exec: type into it, wait for output, collect everything it printed. */
function terminal(exec: ExecHandle, input: WritableStreamDefaultWriter<Uint8Array>) {
  let seen = "";
  let wake: (() => void) | undefined;
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of exec.stdout) {
      seen += decoder.decode(chunk, { stream: true });
      wake?.();
    }
  })();
  return {
    get output() {
      return seen;
    },
    type: (text: string) => input.write(encoder.encode(text)),
    async waitFor(needle: string | RegExp): Promise<void> {
      const found = () => typeof needle === "string" ? seen.includes(needle) : needle.test(seen);
      await within(
        (async () => {
          while (!found()) await new Promise<void>((resolve) => wake = resolve);
        })(),
        HANG_MS,
        `output ${needle} (got ${JSON.stringify(seen)})`,
      );
    },
    async end() {
      const [result, stderr] = await within(
        Promise.all([exec.result, new Response(exec.stderr).bytes(), reading]),
        HANG_MS,
        "the exec to end",
      );
      return { ...result, stderr };
    },
  };
}

function startOnTerminal(
  client: Awaited<ReturnType<typeof startAgent>>["client"],
  argv: string[],
  env?: Record<string, string>,
) {
  const stdin = new TransformStream<Uint8Array, Uint8Array>();
  const exec = client.exec({ argv, pty: PTY, stdin: stdin.readable, env });
  return terminal(exec, stdin.writable.getWriter());
}

Deno.test("agent pty: the command's stdio is a terminal of the asked size and type", async () => {
  await using agent = await startAgent();
  const t = startOnTerminal(agent.client, [
    "sh",
    "-c",
    'for fd in 0 1 2; do [ -t $fd ] && echo "fd$fd tty"; done; stty size; echo "TERM=$TERM"; ' +
    'ps -o sid=,pgid=,tty= -p $$; echo "pid $$"; echo err >&2',
  ]);
  const out = await t.end();
  assert.equal(out.code, 0);
  assert.equal(out.stderr.length, 0, "stderr comes through the terminal, on stdout");
  const lines = t.output.split("\r\n");
  assert.deepEqual(lines.slice(0, 6), [
    "fd0 tty",
    "fd1 tty",
    "fd2 tty",
    "24 80",
    "TERM=xterm-256color",
    lines[5],
  ]);
  // The command leads its own session, and the terminal is its controlling terminal.
  const [sid, pgid, tty] = lines[5].trim().split(/\s+/);
  const pid = lines[6].split(" ")[1];
  assert.deepEqual([sid, pgid], [pid, pid]);
  assert.match(tty, /^pts\/\d+$/);
  assert.equal(lines[7], "err");
});

Deno.test("agent pty: a TERM the host sets in env wins over the terminal's", async () => {
  await using agent = await startAgent();
  const t = startOnTerminal(agent.client, ["sh", "-c", 'echo "TERM=$TERM"'], { TERM: "vt100" });
  await t.end();
  assert.equal(t.output, "TERM=vt100\r\n");
});

Deno.test("agent pty: typed lines are echoed and read; Ctrl-D ends the input", async () => {
  await using agent = await startAgent();
  const t = startOnTerminal(agent.client, ["cat"]);
  await t.type("hello\n");
  await t.waitFor("hello\r\nhello\r\n");
  await t.type("\x04");
  const out = await t.end();
  assert.deepEqual([out.code, out.signal], [0, null]);
});

Deno.test("agent pty: Ctrl-C is SIGINT for the foreground process group", async () => {
  await using agent = await startAgent();
  const t = startOnTerminal(agent.client, [
    "sh",
    "-c",
    "sleep 30 & echo ready; wait",
  ]);
  await t.waitFor("ready");
  await t.type("\x03");
  const out = await t.end();
  assert.deepEqual([out.code, out.signal], [null, "SIGINT"]);
});

Deno.test("agent pty: exec.resize sets the size and the command gets SIGWINCH", async () => {
  await using agent = await startAgent();
  const stdin = new TransformStream<Uint8Array, Uint8Array>();
  const exec = agent.client.exec({
    argv: [
      "sh",
      "-c",
      "trap 'echo \"winch $(stty size)\"' WINCH; echo ready; while :; do sleep 0.05; done",
    ],
    pty: PTY,
    stdin: stdin.readable,
  });
  const t = terminal(exec, stdin.writable.getWriter());
  await t.waitFor("ready");
  await exec.resize({ rows: 50, cols: 132 });
  await t.waitFor("winch 50 132");
  await t.type("\x03");
  assert.equal((await t.end()).signal, "SIGINT");
});

Deno.test("agent pty: output written just before the exit is all delivered", async () => {
  await using agent = await startAgent();
  const t = startOnTerminal(agent.client, [
    "sh",
    "-c",
    "head -c 300000 /dev/zero | tr '\\0' a; exit 3",
  ]);
  const out = await t.end();
  assert.equal(out.code, 3);
  assert.equal(t.output, "a".repeat(300000));
});

Deno.test("agent pty: what the command left running on the terminal dies with it", async () => {
  await using agent = await startAgent();
  const started = Date.now();
  const t = startOnTerminal(agent.client, ["sh", "-c", "sleep 60 & echo $!"]);
  const out = await t.end();
  assert.equal(out.code, 0);
  const pid = Number(t.output.trim());
  assert.ok(pid > 1);
  // The exit did not wait for the drain grace: killing the group released the terminal.
  assert.ok(Date.now() - started < 1900, `took ${Date.now() - started} ms`);
  let alive = true;
  for (let i = 0; i < 100 && alive; i++) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      alive = !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
    } catch {
      alive = false;
    }
    if (alive) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(alive, false, "the background sleep was killed");
});

Deno.test("agent pty: the terminal's descriptors do not leak into other commands", async () => {
  await using agent = await startAgent();
  const t = startOnTerminal(agent.client, ["sh", "-c", "echo ready; read x"]);
  await t.waitFor("ready");
  const other = agent.client.exec({ argv: ["sh", "-c", "ls -l /proc/$$/fd"] });
  const listing = await new Response(other.stdout).text();
  await other.result;
  assert.doesNotMatch(listing, /ptmx|pts/, listing);
  await t.type("\n");
  assert.equal((await t.end()).code, 0);
});

Deno.test("agent pty: many terminals one after another leave no descriptors behind", async () => {
  await using agent = await startAgent();
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  const before = fds();
  for (let i = 0; i < 20; i++) {
    const t = startOnTerminal(agent.client, ["true"]);
    assert.equal((await t.end()).code, 0);
  }
  assert.ok(fds() <= before + 2, `${before} descriptors before, ${fds()} after`);
});

Deno.test({
  name: "agent pty: a command run as another user gets the terminal",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    await using agent = await startAgent();
    const stdin = new TransformStream<Uint8Array, Uint8Array>();
    const exec = agent.client.exec({
      argv: ["sh", "-c", "id -u; tty -s && echo on-a-terminal"],
      pty: PTY,
      stdin: stdin.readable,
      user: "nobody",
    });
    const output = new TextDecoder().decode(await new Response(exec.stdout).bytes());
    const result = await exec.result;
    await stdin.writable.close().catch(() => {});
    assert.equal(result.code, 0, output);
    assert.match(output, /65534\r\non-a-terminal/);
  },
});
