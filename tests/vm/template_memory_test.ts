/**
 * A template's memory is one file that every VM restored from it maps copy-on-write: what one VM
 * writes into its memory stays its own (no other VM, and no later restore, sees it), the file on
 * disk never changes, and a VM restored from the template can be saved whole (as a session
 * snapshot is) and restored into anonymous memory with what it wrote.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { findImage } from "../../image/store.ts";
import type { AgentClient } from "../../host/channel/agent_client.ts";
import { makeVmRuntimeDir } from "../../host/paths.ts";
import { qemuSetup, type RunningVm, startQemuVm } from "../../host/vm/qemu/qemu_vm.ts";
import {
  locateTemplate,
  makeTemplate,
  startFromTemplate,
  templateShape,
} from "../../host/vm/template.ts";
import { placeholderWorkspace, workspaceDisks } from "../../host/vm/workspace_disks.ts";

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

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

Deno.test({
  name: "vm: VMs restored from a template share its memory file copy-on-write",
  ...NO_SANITIZE,
}, async () => {
  const image = await findImage("default");
  // A shape of its own: no other test restores from this template while it runs.
  const shape = templateShape(image, { cpus: 1, memoryMb: 320 });
  const setup = await qemuSetup();
  const template = await locateTemplate(image, shape, setup);
  if (!await Deno.stat(template.state).then(() => true, () => false)) {
    await makeTemplate(template, image, shape, setup);
  }
  const ramBefore = await fileDigest(template.ram);
  const stateBefore = await fileDigest(template.state);
  const work = await Deno.makeTempDir({ prefix: "agentbox-template-memory-test-" });
  const vms: RunningVm[] = [];
  const restore = async () => {
    const vm = await startFromTemplate(image, shape, { setup, bootTimeoutMs: 60_000 });
    assert.ok(vm?.restored, "restored from the template");
    vms.push(vm);
    return vm;
  };
  try {
    const [a, b] = [await restore(), await restore()];
    // /tmp is a tmpfs: these files are the guest's memory. 16 MiB of random bytes each, so
    // that a write through to the shared file could not go unnoticed.
    for (const [name, vm] of [["a", a], ["b", b]] as const) {
      await sh(vm.agent, `echo ${name} >/tmp/mine && head -c 16777216 /dev/urandom >/tmp/noise`);
    }
    assert.equal(await sh(a.agent, "cat /tmp/mine"), "a");
    assert.equal(await sh(b.agent, "cat /tmp/mine"), "b");
    const noise = await Promise.all([a, b].map((vm) => sh(vm.agent, "md5sum </tmp/noise")));
    assert.notEqual(noise[0], noise[1]);

    // A later restore starts from the template as it was made.
    const c = await restore();
    assert.equal(await sh(c.agent, "ls /tmp/mine 2>/dev/null || echo none"), "none");

    // Saved whole (the memory goes into the state), then restored into anonymous memory.
    const whole = `${work}/state`;
    await a.saveState(whole);
    await a.stop();
    const runtimeDir = await makeVmRuntimeDir();
    const fork = await startQemuVm({
      ...shape,
      disks: workspaceDisks(await placeholderWorkspace(runtimeDir)),
      runtimeDir,
      bootTimeoutMs: 60_000,
    }, { setup, restoreFrom: whole });
    vms.push(fork);
    assert.equal(await sh(fork.agent, "cat /tmp/mine"), "a");
    assert.equal(await sh(fork.agent, "md5sum </tmp/noise"), noise[0]);
  } finally {
    await Promise.all(vms.map((vm) => vm.stop()));
    await Deno.remove(work, { recursive: true });
  }
  assert.equal(
    await fileDigest(template.ram),
    ramBefore,
    "the template's memory file is unchanged",
  );
  assert.equal(await fileDigest(template.state), stateBefore);
});
