/**
 * The processes agentbox starts for a VM — QEMU and the user network's relays, which QEMU starts
 * per guest connection — get none of the CLI's environment (the user's API keys live there).
 */
import assert from "node:assert/strict";
import { agentbox, processesMatching, waitFor } from "../helpers.ts";

const decoder = new TextDecoder();

function environ(pid: number): string[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
  } catch {
    return []; // ended while we looked
  }
}

function holders(variable: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (
      /^\d+$/.test(entry.name) && environ(+entry.name).some((v) => v.startsWith(`${variable}=`))
    ) {
      pids.push(+entry.name);
    }
  }
  return pids;
}

Deno.test("child env: a canary in the CLI's environment reaches neither QEMU nor a relay", async () => {
  const runtime = await Deno.makeTempDir({ prefix: "agentbox-env-" });
  const canary = `AGENTBOX_CANARY_${crypto.randomUUID().replaceAll("-", "")}`;
  // The guest holds a connection to the proxy open, so that a relay is running on the host.
  const child = agentbox([
    "exec",
    "--net-backend",
    "user",
    "--",
    "sh",
    "-c",
    "sleep 300 | nc 10.0.2.100 3128 & sleep 1; echo started; sleep 300",
  ], { env: { XDG_RUNTIME_DIR: runtime, [canary]: "sk-canary-secret" } });
  try {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.equal(decoder.decode(value), "started\n");
    reader.releaseLock();
    const qemu = processesMatching(runtime).filter((pid) =>
      Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("qemu-system")
    );
    assert.equal(qemu.length, 1, "QEMU of this run");
    const qemuArgs = Deno.readTextFileSync(`/proc/${qemu[0]}/cmdline`);
    // The forwarded port: the last argument of the relay's command.
    const port = qemuArgs.match(/guestfwd=tcp:10\.0\.2\.100:3128-cmd:[^,\0]*?'?(\d+)'?(?:,|$)/)
      ?.[1];
    assert.ok(port, `forward proxy port in ${qemuArgs}`);
    // The relay: started by QEMU for the guest's connection, its command line naming the port.
    let relays: number[] = [];
    assert.ok(
      await waitFor(() => {
        // The relay's shell and its nc (on main: the nc alone) end with the port.
        relays = processesMatching(`\0${port}\0`).filter((pid) => {
          try {
            return Deno.readTextFileSync(`/proc/${pid}/cmdline`).endsWith(`\0${port}\0`);
          } catch {
            return false;
          }
        });
        return relays.length > 0;
      }, 30_000),
      "a relay runs for the guest's connection",
    );
    // Positive control: the CLI itself has the canary, so the scan can see it.
    assert.deepEqual(holders(canary), [child.pid]);
    for (const pid of [...qemu, ...relays]) {
      const env = environ(pid);
      assert.ok(env.length > 0, `environ of ${pid} readable`);
      assert.ok(!env.some((v) => v.startsWith(`${canary}=`)), `no canary in ${pid}`);
      // SHLVL and PWD: what the relay's own shell exports to nc.
      assert.ok(
        env.every((v) => v === "" || /^(PATH|LC_ALL|TMPDIR|SHLVL|PWD)=/.test(v)),
        env.join(" "),
      );
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // It ended already (a failed start): its output says why.
    }
    const out = await child.output();
    if (out.code !== 0 && out.code !== 143) console.error(decoder.decode(out.stderr));
    await Deno.remove(runtime, { recursive: true }).catch(() => {});
  }
});
