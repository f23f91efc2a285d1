/**
 * The vsock channel: used instead of virtio-serial when the host has /dev/vhost-vsock. Our build
 * machines have no vhost-vsock (and cannot load it), so there this test is skipped and says why.
 */
import assert from "node:assert/strict";
import { bootVm } from "../../host/vm/boot.ts";

const skip = await Deno.open("/dev/vhost-vsock", { read: true, write: true }).then(
  (file) => {
    file.close();
    return undefined;
  },
  (error: Error) => `/dev/vhost-vsock is not usable here (${error.message})`,
);
if (skip) console.log(`skipping "vm: exec over vhost-vsock": ${skip}`);

Deno.test({
  name: "vm: exec over vhost-vsock",
  ignore: skip !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const vm = await bootVm({ cpus: 1 });
  try {
    assert.equal(vm.channel, "vsock");
    const run = vm.agent.exec({ argv: ["echo", "over vsock"] });
    const [out, result] = await Promise.all([new Response(run.stdout).text(), run.result]);
    await run.stderr.cancel();
    assert.deepEqual([out, result.code], ["over vsock\n", 0]);
  } finally {
    await vm.stop();
  }
});
