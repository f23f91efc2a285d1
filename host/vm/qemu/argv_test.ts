import assert from "node:assert/strict";
import { escapeOption, qemuArgv } from "./argv.ts";
import type { VmSpec } from "../spec.ts";

const SPEC: VmSpec = {
  kernel: "/img/vmlinuz",
  initrd: "/img/initrd.img",
  rootfs: "/img,evil/rootfs.erofs",
  cpus: 3,
  memoryMb: 768,
  runtimeDir: "/run/a,b",
  bootTimeoutMs: 1000,
  cmdline: ["agentbox.debug=1"],
};

function optionAfter(args: string[], flag: string, contains: string): string {
  const value = args.find((arg, i) => args[i - 1] === flag && arg.includes(contains));
  assert.ok(value, `no ${flag} containing ${contains} in ${args.join(" ")}`);
  return value;
}

Deno.test("escapeOption doubles commas so a path cannot add QEMU options", () => {
  assert.deepEqual(escapeOption("a,b,,c"), "a,,b,,,,c");
  assert.deepEqual(escapeOption("plain"), "plain");
});

Deno.test("qemuArgv under TCG: microvm, multi-threaded TCG, serial channel, escaped paths", () => {
  const args = qemuArgv(SPEC, {
    accel: { kind: "tcg", reason: "test" },
    channel: "serial",
    tscKhz: 2596128.4,
  });
  assert.deepEqual(optionAfter(args, "-M", "microvm"), "microvm,isa-serial=on,rtc=on");
  // Translated code capped: QEMU's default buffer (1 GiB) grows with every guest workload.
  assert.deepEqual(optionAfter(args, "-accel", "tcg"), "tcg,thread=multi,tb-size=64");
  assert.deepEqual(optionAfter(args, "-cpu", ""), "max");
  assert.deepEqual(optionAfter(args, "-smp", ""), "3");
  assert.deepEqual(optionAfter(args, "-m", ""), "768M");
  assert(optionAfter(args, "-drive", "rootfs").includes("file=/img,,evil/rootfs.erofs,"));
  assert(optionAfter(args, "-drive", "rootfs").includes("readonly=on"));
  assert(optionAfter(args, "-chardev", "id=agent").includes("path=/run/a,,b/agent.sock,"));
  assert(args.includes("virtserialport,chardev=agent,name=agentbox"));
  const cmdline = optionAfter(args, "-append", "console");
  assert(cmdline.includes("agentbox.channel=serial"));
  // Without it, TCG boots on a busy host hang forever (see argv.ts).
  assert(cmdline.includes("tsc_early_khz=2596128"));
  assert(cmdline.endsWith("agentbox.debug=1"));
  assert(args.includes("-nodefaults") && args.includes("-no-user-config"));
});

Deno.test("qemuArgv with KVM and vsock uses the host CPU and a vhost-vsock device", () => {
  const args = qemuArgv(SPEC, {
    accel: { kind: "kvm" },
    channel: "vsock",
    vsockCid: 42,
    tscKhz: 2596128,
  });
  assert.deepEqual(optionAfter(args, "-accel", ""), "kvm");
  assert.deepEqual(optionAfter(args, "-cpu", ""), "host");
  assert(args.includes("vhost-vsock-device,guest-cid=42"));
  assert(!args.some((a) => a.includes("virtserialport")));
  assert(optionAfter(args, "-append", "console").includes("agentbox.vsock_port=1024"));
  assert(!optionAfter(args, "-append", "console").includes("tsc_early_khz"), "KVM has kvm-clock");
});

Deno.test("qemuArgv with a memory file: a file backend named like the default RAM", () => {
  const options = { accel: { kind: "tcg", reason: "test" }, channel: "serial" } as const;
  for (const shared of [true, false]) {
    const args = qemuArgv({ ...SPEC, memoryFile: { path: "/t/a,b/ram", shared } }, options);
    assert.deepEqual(
      optionAfter(args, "-object", "memory-backend-file"),
      `memory-backend-file,id=microvm.ram,size=768M,mem-path=/t/a,,b/ram,share=${
        shared ? "on" : "off"
      }`,
    );
    assert.deepEqual(
      optionAfter(args, "-M", "microvm"),
      "microvm,isa-serial=on,rtc=on,memory-backend=microvm.ram",
    );
  }
  assert(!qemuArgv(SPEC, options).includes("-object"), "anonymous memory by default");
});

Deno.test("qemuArgv names each disk's format and file nodes (disk_swap.ts swaps them by name)", () => {
  const args = qemuArgv({
    ...SPEC,
    disks: [
      { path: "/s/lower,x.img", readonly: true, serial: "ab-lower" },
      { path: "/s/upper.img", readonly: false, serial: "ab-upper" },
    ],
  }, { accel: { kind: "tcg", reason: "test" }, channel: "serial" });
  assert.equal(
    optionAfter(args, "-drive", "id=disk0"),
    "id=disk0,node-name=disk0-fmt,file=/s/lower,,x.img,file.node-name=disk0-file,format=raw," +
      "if=none,readonly=on",
  );
  assert(optionAfter(args, "-drive", "id=disk1").includes("node-name=disk1-fmt,"));
  assert(optionAfter(args, "-drive", "id=disk1").includes("file.node-name=disk1-file,"));
  assert(optionAfter(args, "-drive", "id=disk1").endsWith("readonly=off"));
  assert(args.includes("virtio-blk-device,drive=disk1,serial=ab-upper"));
});
