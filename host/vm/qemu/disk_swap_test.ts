/**
 * swapDiskFiles against a real QEMU (stopped before its guest runs: only its block layer is
 * exercised), started with the disk arguments agentbox gives every VM (argv.ts).
 */
import assert from "node:assert/strict";
import { qemuArgv } from "./argv.ts";
import { swapDiskFiles } from "./disk_swap.ts";
import { QmpClient, QmpError } from "./qmp.ts";
import type { VmDisk } from "../spec.ts";

interface BlockNode {
  "node-name": string;
  drv: string;
  file: string;
  ro: boolean;
}

async function withQemu(
  rootfs: string,
  disks: VmDisk[],
  fn: (qmp: QmpClient, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-swap-test-" });
  const full = qemuArgv({
    kernel: "/nonexistent/vmlinuz",
    initrd: "/nonexistent/initrd",
    rootfs,
    cpus: 1,
    memoryMb: 64,
    runtimeDir: dir,
    bootTimeoutMs: 0,
    disks,
  }, { accel: { kind: "tcg", reason: "" }, channel: "serial" });
  // No kernel: the VM never runs (-S), only its devices and block nodes exist.
  const args = full.filter((_, i) =>
    !["-kernel", "-initrd", "-append"].includes(full[i]) &&
    !["-kernel", "-initrd", "-append"].includes(full[i - 1])
  );
  const qemu = new Deno.Command("qemu-system-x86_64", {
    args: [...args, "-S"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const qmp = await QmpClient.connect(`${dir}/qmp.sock`, { waitMs: 20_000 });
  try {
    await fn(qmp, dir);
  } finally {
    await qmp.execute("quit").catch(() => {});
    qmp.close();
    await qemu.output();
    await Deno.remove(dir, { recursive: true });
  }
}

async function nodes(qmp: QmpClient): Promise<Map<string, BlockNode>> {
  const list = await qmp.execute("query-named-block-nodes", { flat: true }) as BlockNode[];
  return new Map(list.map((n) => [n["node-name"], n]));
}

Deno.test("swapDiskFiles points a VM's disks at other files, read-only where they were", async () => {
  const files = await Deno.makeTempDir({ prefix: "agentbox-swap-files-" });
  const path = (name: string) => `${files}/${name}`;
  for (const name of ["root", "lower-ph", "upper-ph", "lower", "upper"]) {
    await Deno.writeFile(path(name), new Uint8Array(4096));
  }
  const disks: VmDisk[] = [
    { path: path("lower-ph"), readonly: true, serial: "ab-lower" },
    { path: path("upper-ph"), readonly: false, serial: "ab-upper" },
  ];
  try {
    await withQemu(path("root"), disks, async (qmp) => {
      const before = await nodes(qmp);
      assert.equal(before.get("disk0-fmt")?.file, path("lower-ph"));
      assert.equal(before.get("disk1-fmt")?.file, path("upper-ph"));

      // A file that cannot be opened: refused, and the disks keep their files and nodes.
      await assert.rejects(
        () =>
          swapDiskFiles(qmp, [
            { ...disks[0], path: path("lower") },
            { ...disks[1], path: path("missing") },
          ], 1),
        QmpError,
      );
      const kept = await nodes(qmp);
      assert.equal(kept.get("disk0-fmt")?.file, path("lower-ph"));
      assert.equal(kept.get("disk1-fmt")?.file, path("upper-ph"));
      assert.ok(!kept.has("disk0-swap1"), "the node added for the failed swap is left");

      await swapDiskFiles(qmp, [
        { ...disks[0], path: path("lower") },
        { ...disks[1], path: path("upper") },
      ], 2);
      const after = await nodes(qmp);
      assert.equal(after.get("disk0-fmt")?.file, path("lower"));
      assert.equal(after.get("disk0-fmt")?.ro, true);
      assert.equal(after.get("disk1-fmt")?.file, path("upper"));
      assert.equal(after.get("disk1-fmt")?.ro, false);
      // The placeholders' file nodes are gone: QEMU holds them no more.
      assert.ok(!after.has("disk0-file") && !after.has("disk1-file"), [...after.keys()].join());
    });
  } finally {
    await Deno.remove(files, { recursive: true });
  }
});
