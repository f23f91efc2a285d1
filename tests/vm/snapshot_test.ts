/**
 * Save a running VM's state and restore it, twice, into two new QEMU processes: the files and a
 * running process's state are there in both, the agent answers a fresh hello, the clock is the
 * host's, and the two forks diverge (their own files, their own random numbers).
 */
import assert from "node:assert/strict";
import { findImage } from "../../image/store.ts";
import type { AgentClient } from "../../host/channel/agent_client.ts";
import { makeVmRuntimeDir } from "../../host/paths.ts";
import { type RunningVm, startQemuVm } from "../../host/vm/qemu/qemu_vm.ts";
import type { VmSpec } from "../../host/vm/spec.ts";

const NO_SANITIZE = { sanitizeOps: false, sanitizeResources: false };

async function sh(agent: AgentClient, script: string): Promise<string> {
  const run = agent.exec({ argv: ["sh", "-c", script] });
  const [out, err, result] = await Promise.all([
    new Response(run.stdout).text(),
    new Response(run.stderr).text(),
    run.result,
  ]);
  assert.equal(result.code, 0, `${script}: ${err}`);
  return out.trim();
}

/** A counter in a shell's memory, written out every 100 ms by a process outside any exec. */
const COUNTER =
  "setsid sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done' " +
  "</dev/null >/dev/null 2>&1 &";

Deno.test({ name: "vm: snapshot, then two restored forks", ...NO_SANITIZE }, async () => {
  const image = await findImage("default");
  const work = await Deno.makeTempDir({ prefix: "agentbox-snapshot-test-" });
  const spec = async (): Promise<VmSpec> => ({
    kernel: image.kernel,
    initrd: image.initrd,
    rootfs: image.rootfs,
    cpus: 1,
    memoryMb: 512,
    bootTimeoutMs: 60_000,
    runtimeDir: await makeVmRuntimeDir(),
  });
  const vms: RunningVm[] = [];
  try {
    const original = await startQemuVm(await spec());
    vms.push(original);
    await sh(original.agent, `echo kept >/root/file && ${COUNTER}`);
    // Let the counter run a while, so that a restarted one (from 1) would be told apart.
    let before = 0;
    while (before < 10) {
      before = Number(await sh(original.agent, "cat /tmp/count 2>/dev/null || echo 0"));
    }
    const state = `${work}/state`;
    await original.saveState(state);
    await original.stop();

    const forks = [];
    for (let i = 0; i < 2; i++) {
      const fork = await startQemuVm(await spec(), { restoreFrom: state });
      vms.push(fork);
      forks.push(fork);
      assert.ok(fork.restored);
    }
    for (const [i, fork] of forks.entries()) {
      assert.equal(await sh(fork.agent, "cat /root/file"), "kept");
      const count = Number(await sh(fork.agent, "cat /tmp/count"));
      assert.ok(count >= before, `fork ${i}: the counter went on from ${before}, not ${count}`);
      await sh(fork.agent, `echo fork-${i} >/root/fork`);
      const guestSeconds = Number(await sh(fork.agent, "date +%s"));
      assert.ok(Math.abs(guestSeconds - Date.now() / 1000) < 30, `fork ${i}: guest clock`);
    }
    // The process is still running, and each fork has its own files and random numbers.
    const later = Number(await sh(forks[0].agent, "sleep 0.5; cat /tmp/count"));
    assert.ok(later > before, "the counter is still counting");
    assert.deepEqual(
      await Promise.all(forks.map((fork) => sh(fork.agent, "cat /root/fork"))),
      ["fork-0", "fork-1"],
    );
    const random = await Promise.all(
      forks.map((fork) => sh(fork.agent, "head -c 16 /dev/urandom | od -An -tx1")),
    );
    assert.notEqual(random[0], random[1]);
  } finally {
    await Promise.all(vms.map((vm) => vm.stop()));
    await Deno.remove(work, { recursive: true });
  }
});
