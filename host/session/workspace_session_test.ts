/**
 * Collecting a session's changes from a hostile agent, with the real host client: the host
 * process survives a stream built to exhaust its heap, and a guest that trickles or stalls the
 * transfer is cut off at a deadline with the session's upper disk kept for recovery.
 */

import assert from "node:assert/strict";
import { Connection, encodeChangeEntry, helloMessage } from "@agentbox/protocol";
import { delay, duplexPair, within } from "../../guest-agent/protocol/testing/mod.ts";
import { AgentClient, type AgentDeadlines, AgentError } from "../channel/agent_client.ts";
import { takeBaseline, writeBaseline } from "../workspace/baseline.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { resumeWorkspaceSession } from "./workspace_session.ts";

const HOSTILE_CHANGES = new URL("./testing/hostile_changes.ts", import.meta.url).pathname;

Deno.test("collect: a stream built to exhaust the heap leaves the host process alive", async () => {
  // 24 MiB of records stuffed with empty maps, against a 256 MiB heap: main kept every decoded
  // record (64 times their size on the wire) and died of V8's out-of-memory abort (SIGTRAP).
  // At the default heap (4 GiB here) the same happens with 72 MiB.
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--max-old-space-size=256", HOSTILE_CHANGES, "24"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.signal, null, `killed by ${output.signal}`);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr).slice(-2000));
  const result = JSON.parse(stdout);
  // Unknown fields are dropped as each record arrives: the changes themselves are kept.
  assert.equal(result.records, 384, stdout);
  assert.ok(result.heapUsedMb < 128, stdout);
});

/** A session whose workspace is collected from a fake agent playing `play` on changes.start. */
async function hostileSession(
  deadlines: Partial<AgentDeadlines>,
  play: (agent: Connection, stream: number) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-collect-" });
  await Deno.mkdir(`${dir}/project`);
  const sessionDir = `${dir}/session`;
  const paths = changesetPaths(sessionDir);
  await Deno.mkdir(paths.root, { recursive: true });
  await writeBaseline(paths.baseline, await takeBaseline(`${dir}/project`));
  const upperDisk = `${paths.root}/upper.ext4`;
  await Deno.writeFile(upperDisk, new TextEncoder().encode("the guest's writes"));
  const [host, guest] = duplexPair();
  const agent = new Connection(guest, { strictStreams: false });
  const playing: Promise<void>[] = [];
  agent.start((message) => {
    if (message.type === "changes.start") playing.push(play(agent, message.stream));
  });
  await agent.send(helloMessage("agent", ["exec"], "hostile/0"));
  const client = await AgentClient.connect(host, { deadlines });
  const workspace = await resumeWorkspaceSession(sessionDir, { lowerImage: "", upperDisk });
  return {
    paths,
    upperDisk,
    client,
    workspace,
    async [Symbol.asyncDispose]() {
      client.close();
      agent.close();
      await Promise.allSettled(playing);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** What collect must do when the guest fails a deadline: say so, keep the upper disk, keep nothing. */
async function assertCutOff(
  session: Awaited<ReturnType<typeof hostileSession>>,
  expected: RegExp,
  options: { deadline?: number } = {},
) {
  await assert.rejects(
    within(session.workspace.collect(session.client, options), 5000, "collect"),
    (e: Error) => {
      assert.match(e.message, expected);
      assert.ok(e.cause instanceof AgentError && e.cause.code === "timed_out", `${e.cause}`);
      return true;
    },
  );
  assert.ok((await Deno.lstat(session.upperDisk)).isFile, "the upper disk is kept for recovery");
  await assert.rejects(Deno.lstat(session.paths.changes), Deno.errors.NotFound);
  assert.equal(
    (await within(session.client.closed, 1000, "closed") as AgentError).code,
    "timed_out",
  );
}

Deno.test("collect: an agent that never answers changes.start is cut off idle", async () => {
  await using session = await hostileSession({ changesIdleMs: 300 }, async () => {});
  await assertCutOff(session, /The agent sent nothing for 0.3 s while sending the workspace's/);
});

Deno.test("collect: half an entry and then nothing is cut off idle", async () => {
  await using session = await hostileSession({ changesIdleMs: 300 }, async (agent, stream) => {
    const out = agent.transmit(stream, 1).getWriter();
    const entry = encodeChangeEntry({ path: "a", type: "deleted" });
    await out.write(entry.subarray(0, 6));
  });
  await assertCutOff(session, /sent nothing for 0.3 s .*\(6 bytes received\)/);
});

Deno.test("collect: a trickled changes stream is cut off at the total deadline", async () => {
  await using session = await hostileSession(
    { changesIdleMs: 200, changesTotalMs: 800 },
    async (agent, stream) => {
      const out = agent.transmit(stream, 1).getWriter();
      // A file announced at 1 MiB, its content a byte every 50 ms.
      await out.write(encodeChangeEntry({ path: "f", type: "file", mode: 0o644, size: 2 ** 20 }));
      while (!agent.isClosed) {
        await out.write(new Uint8Array(1)).catch(() => {});
        await delay(50);
      }
    },
  );
  await assertCutOff(session, /did not finish sending the workspace's changes within 0.8 s/);
});

Deno.test("collect: a run's deadline (--timeout) cuts the transfer when it comes first", async () => {
  await using session = await hostileSession({ changesIdleMs: 10_000 }, async () => {});
  await assertCutOff(session, /within 0.3 s/, { deadline: Date.now() + 300 });
});
