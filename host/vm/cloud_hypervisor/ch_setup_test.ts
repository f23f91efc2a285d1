import assert from "node:assert/strict";
import { VmError } from "../errors.ts";
import type { Accel } from "../qemu/accel.ts";
import { probeCloudHypervisor, requireCloudHypervisor } from "./ch_setup.ts";

const KVM = (): Promise<Accel> => Promise.resolve({ kind: "kvm" });
const NO_KVM = (): Promise<Accel> =>
  Promise.resolve({ kind: "tcg", reason: "KVM cannot run a guest here (failed to set MSR 0x10a)" });

async function withBinary(script: string, run: (binary: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const binary = `${dir}/cloud-hypervisor`;
  await Deno.writeTextFile(binary, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  try {
    await run(binary);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ch setup: usable with a binary that answers --version and a working KVM", async () => {
  await withBinary('echo "cloud-hypervisor v43.0"', async (binary) => {
    assert.deepEqual(await probeCloudHypervisor({ binary, probeKvm: KVM }), {
      usable: true,
      binary,
      version: "cloud-hypervisor v43.0",
    });
    assert.equal(await requireCloudHypervisor({ binary, probeKvm: KVM }), binary);
  });
});

Deno.test("ch setup: every reason is given: no binary, and KVM that cannot run a guest", async () => {
  const binary = "/nonexistent/cloud-hypervisor";
  const support = await probeCloudHypervisor({ binary, probeKvm: NO_KVM });
  assert.equal(support.usable, false);
  assert.deepEqual(!support.usable && support.reasons, [
    "/nonexistent/cloud-hypervisor is not installed (not found, or it does not run; set " +
    "AGENTBOX_CLOUD_HYPERVISOR to its path)",
    "it needs KVM: KVM cannot run a guest here (failed to set MSR 0x10a)",
  ]);
  const error = await requireCloudHypervisor({ binary, probeKvm: NO_KVM }).catch((e) => e);
  assert.ok(error instanceof VmError);
  assert.match(
    error.message,
    /^Cannot use Cloud Hypervisor: .*not installed.*; it needs KVM: .*\(use --vmm qemu\)$/,
  );
  assert.ok(!error.message.includes("\n"));
});

Deno.test("ch setup: a binary that fails --version does not count, nor a failing KVM probe", async () => {
  await withBinary("exit 3", async (binary) => {
    const support = await probeCloudHypervisor({
      binary,
      probeKvm: () => Promise.reject(new Error("probe crashed")),
    });
    assert.deepEqual(!support.usable && support.reasons.length, 2);
    assert.match(!support.usable ? support.reasons[1] : "", /probe crashed/);
  });
});
