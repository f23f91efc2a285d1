/**
 * Cloud Hypervisor for real: boot the default image under `cloud-hypervisor`, exec over hybrid
 * vsock, snapshot and restore. Runs where the binary (`AGENTBOX_CLOUD_HYPERVISOR` or
 * `cloud-hypervisor` on PATH) and a working KVM exist; elsewhere — our build machines: no
 * package, and a /dev/kvm that cannot run a guest — it is skipped and says why. The API sequence
 * and the hybrid vsock handshake are tested without KVM in host/vm/cloud_hypervisor/ and
 * host/channel/. The image must have been built with `virtio_pci` (any image built since the
 * Cloud Hypervisor backend exists).
 *
 * Where Cloud Hypervisor cannot run, the CLI's refusal is tested instead: one error line, exit
 * 126, before any VM starts.
 */
import assert from "node:assert/strict";
import { bootVm } from "../../host/vm/boot.ts";
import { probeCloudHypervisor } from "../../host/vm/cloud_hypervisor/ch_setup.ts";
import { startChVm } from "../../host/vm/cloud_hypervisor/ch_vm.ts";
import { makeVmRuntimeDir } from "../../host/paths.ts";
import { findImage } from "../../image/store.ts";
import { templateShape } from "../../host/vm/template.ts";
import { agentbox } from "../helpers.ts";

const support = await probeCloudHypervisor();
const skip = support.usable ? undefined : support.reasons.join("; ");
if (skip) console.log(`skipping "vm (cloud-hypervisor): boot, exec, snapshot, restore": ${skip}`);

const NO_SANITIZE = { sanitizeOps: false, sanitizeResources: false };

async function echo(vm: Awaited<ReturnType<typeof bootVm>>, text: string) {
  const run = vm.agent.exec({ argv: ["echo", text] });
  const [out, result] = await Promise.all([new Response(run.stdout).text(), run.result]);
  await run.stderr.cancel();
  return [out, result.code];
}

Deno.test({
  name: "vm (cloud-hypervisor): boot, exec, snapshot, restore",
  ignore: skip !== undefined,
  ...NO_SANITIZE,
}, async () => {
  const vm = await bootVm({ cpus: 1, memoryMb: 512, vmm: "cloud-hypervisor" });
  const snapshot = await Deno.makeTempDir({ prefix: "agentbox-ch-snapshot-" });
  try {
    assert.deepEqual([vm.vmm, vm.channel, vm.restored], ["cloud-hypervisor", "vsock", false]);
    assert.deepEqual(await echo(vm, "booted under cloud-hypervisor"), [
      "booted under cloud-hypervisor\n",
      0,
    ]);
    await vm.saveState(`${snapshot}/state`);
    await vm.stop();
    const image = await findImage("default");
    const restored = await startChVm({
      ...templateShape(image, { cpus: 1, memoryMb: 512 }),
      runtimeDir: await makeVmRuntimeDir(),
      bootTimeoutMs: 60_000,
    }, { restoreFrom: `${snapshot}/state` });
    try {
      assert.equal(restored.restored, true);
      assert.deepEqual(await echo(restored, "restored"), ["restored\n", 0]);
    } finally {
      await restored.stop();
    }
  } finally {
    await vm.stop();
    await Deno.remove(snapshot, { recursive: true });
  }
});

Deno.test({
  name: "vm (cloud-hypervisor): where it cannot run, --vmm cloud-hypervisor is one error line",
  ignore: skip === undefined,
  ...NO_SANITIZE,
}, async () => {
  const out = await agentbox(["exec", "--net", "none", "--vmm", "cloud-hypervisor", "--", "true"])
    .output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 126);
  assert.match(stderr, /^agentbox: error: Cannot use Cloud Hypervisor: .*\(use --vmm qemu\)\n$/);
});
