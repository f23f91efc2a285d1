import assert from "node:assert/strict";
import { VmError } from "../errors.ts";
import type { VmSpec } from "../spec.ts";
import { chVmConfig } from "./vm_config.ts";

const SPEC: VmSpec = {
  kernel: "/img/vmlinuz",
  initrd: "/img/initrd.img",
  rootfs: "/img/rootfs.erofs",
  cpus: 2,
  memoryMb: 1024,
  runtimeDir: "/run/agentbox/vm-1",
  bootTimeoutMs: 30_000,
};

Deno.test("ch vm config: kernel, vCPUs, memory in bytes, root disk, vsock and serial socket", () => {
  assert.deepEqual(chVmConfig({ ...SPEC, cmdline: ["agentbox.extra=1"] }), {
    payload: {
      kernel: "/img/vmlinuz",
      initramfs: "/img/initrd.img",
      cmdline: "console=ttyS0 quiet panic=-1 agentbox.channel=vsock agentbox.vsock_port=1024 " +
        "agentbox.extra=1",
    },
    cpus: { boot_vcpus: 2, max_vcpus: 2 },
    memory: { size: 1024 * 1024 * 1024 },
    disks: [{ path: "/img/rootfs.erofs", readonly: true, id: "root" }],
    vsock: { cid: 3, socket: "/run/agentbox/vm-1/vsock.sock", id: "agent" },
    serial: { mode: "Socket", socket: "/run/agentbox/vm-1/console.sock" },
    console: { mode: "Off" },
  });
});

Deno.test("ch vm config: workspace disks keep their order and serials; paths are not escaped", () => {
  const config = chVmConfig({
    ...SPEC,
    disks: [
      { path: "/s/lower,x.img", readonly: true, serial: "ab-lower" },
      { path: "/s/upper.img", readonly: false, serial: "ab-upper" },
    ],
  });
  assert.deepEqual(config.disks.slice(1), [
    { path: "/s/lower,x.img", readonly: true, id: "disk0", serial: "ab-lower" },
    { path: "/s/upper.img", readonly: false, id: "disk1", serial: "ab-upper" },
  ]);
  assert.throws(
    () => chVmConfig({ ...SPEC, disks: [{ path: "/x", readonly: true, serial: "a,b" }] }),
    RangeError,
  );
});

Deno.test("ch vm config: a tap network becomes a virtio-net device on that tap", () => {
  const config = chVmConfig({
    ...SPEC,
    network: {
      kind: "tap",
      ifname: "ab-0123abcd",
      gateway: "10.213.0.1",
      guest: "10.213.0.2",
      prefixLength: 30,
    },
  });
  assert.deepEqual(config.net, [{ tap: "ab-0123abcd", id: "net0" }]);
  assert.throws(
    () =>
      chVmConfig({
        ...SPEC,
        network: {
          kind: "tap",
          ifname: "bad name",
          gateway: "10.213.0.1",
          guest: "10.213.0.2",
          prefixLength: 30,
        },
      }),
    RangeError,
  );
});

Deno.test("ch vm config: no network means no net device", () => {
  assert.equal(chVmConfig(SPEC).net, undefined);
});

Deno.test("ch vm config: the user network is refused with what to do instead", () => {
  const error = (() => {
    try {
      chVmConfig({
        ...SPEC,
        network: { kind: "user", forwards: [], relay: "/bin/busybox", relayKey: "/dev/null" },
      });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof VmError);
  assert.equal(
    error.message,
    "Cloud Hypervisor needs the tap network (root): use --net-backend tap, or --net none",
  );
});
