/**
 * Test program: a session collects its workspace's changes, with the real host client, from a
 * hostile fake agent on a unix socket that sends `MB` mebibytes of records stuffed with empty
 * maps (each 1 byte on the wire, tens of bytes once decoded). Prints one JSON line: what collect
 * returned or threw, and the heap in use. Run it with a capped heap
 * (`--v8-flags=--max-old-space-size=N`): it must survive, not die of an out-of-memory abort.
 *
 * Usage: deno run -A --v8-flags=--max-old-space-size=N hostile_changes.ts MB
 */

import { Connection, encodeCbor, encodeFrame, helloMessage } from "@agentbox/protocol";
import { cborMapOf } from "../../../guest-agent/protocol/testing/mod.ts";
import { AgentClient } from "../../channel/agent_client.ts";
import { takeBaseline, writeBaseline } from "../../workspace/baseline.ts";
import { changesetPaths } from "../../workspace/changeset.ts";
import { resumeWorkspaceSession } from "../workspace_session.ts";

const megabytes = Number(Deno.args[0]);
const entries = megabytes * 16; // 64 KiB each
const dir = await Deno.makeTempDir({ prefix: "agentbox-hostile-changes-" });
const root = `${dir}/project`;
await Deno.mkdir(root);
const sessionDir = `${dir}/session`;
const paths = changesetPaths(sessionDir);
await Deno.mkdir(paths.root, { recursive: true });
await writeBaseline(paths.baseline, await takeBaseline(root));
const upperDisk = `${paths.root}/upper.ext4`;
await Deno.writeFile(upperDisk, new Uint8Array(16));

const socket = `${dir}/agent.sock`;
const listener = Deno.listen({ transport: "unix", path: socket });
(async () => {
  const agent = new Connection(await listener.accept(), { strictStreams: false });
  agent.start((message) => {
    if (message.type !== "changes.start") return;
    (async () => {
      const out = agent.transmit(message.stream, 1).getWriter();
      // A list of 65,400 empty maps, one byte each (0xa0): what an encoder of choice may send.
      const junk = new Uint8Array(3 + 65_400).fill(0xa0);
      junk.set([0x99, 65_400 >> 8, 65_400 & 0xff]);
      for (let i = 0; i < entries; i++) {
        const record = cborMapOf({
          path: encodeCbor(`d${i}`),
          type: encodeCbor("dir"),
          mode: encodeCbor(0o755),
          junk,
        });
        await out.write(encodeFrame(record, 64 * 1024));
      }
      await out.close();
      await agent.send({ type: "changes.done", stream: message.stream, entries });
    })().catch(() => {});
  });
  await agent.send(helloMessage("agent", ["exec"], "hostile-changes/0"));
})();

const client = await AgentClient.connect(await Deno.connect({ transport: "unix", path: socket }));
const workspace = await resumeWorkspaceSession(sessionDir, { lowerImage: "", upperDisk });
let outcome: Record<string, unknown>;
try {
  const changes = await workspace.collect(client);
  outcome = { records: changes.records };
} catch (error) {
  outcome = { error: (error as Error).message };
}
client.close();
listener.close();
await Deno.remove(dir, { recursive: true });
const { heapUsed } = Deno.memoryUsage();
console.log(JSON.stringify({ ...outcome, entries, heapUsedMb: Math.round(heapUsed / 2 ** 20) }));
