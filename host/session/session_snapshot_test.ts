import assert from "node:assert/strict";
import { VmError } from "../vm/errors.ts";
import type { RunningVm } from "../vm/running_vm.ts";
import { saveSessionSnapshot } from "./session_snapshot.ts";

Deno.test("session snapshot: a Cloud Hypervisor VM is refused before anything is saved", async () => {
  let saved = false;
  const vm = {
    vmm: "cloud-hypervisor",
    saveState: () => Promise.resolve(void (saved = true)),
  } as unknown as RunningVm;
  const error = await saveSessionSnapshot(vm, "/nonexistent/snapshot", {
    id: "x",
    name: null,
    spec: {},
    vm: { image: "default", cpus: 1, memoryMb: 512 },
  }).catch((e) => e);
  assert.ok(error instanceof VmError);
  assert.equal(error.message, "Cannot snapshot this session: session snapshots need --vmm qemu");
  assert.equal(saved, false);
});
