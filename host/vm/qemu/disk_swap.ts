/**
 * Point a running QEMU VM's disks at other files: a warm VM (api/warm_pool.ts), restored from a
 * template with placeholder workspace disks, takes a session's real ones before its guest mounts
 * them (vm/workspace_disks.ts).
 *
 * For each disk, `blockdev-add` opens the new file as a `file` node (read-only for a read-only
 * disk), then one `blockdev-reopen` (stable since QEMU 6.1) gives every disk's raw format node —
 * named on the command line, qemu/argv.ts `diskNodeNames` — that node as its `file` child; QEMU
 * drops the old file nodes (they were made with the drive). The device, its serial and the capacity
 * the guest read at boot stay as they were, exactly as when a template is restored with a session's
 * disks; the guest's mount script drops whatever it cached of the old files
 * (`blockdev --flushbufs`).
 *
 * @module
 */

import type { VmDisk } from "../spec.ts";
import { diskNodeNames } from "./argv.ts";
import type { QmpClient } from "./qmp.ts";

/**
 * Point disks `0..disks.length-1` of the VM behind `qmp` at `disks`' files, in the order the VM
 * was started with; `disks`' read-only flags must be the ones it was started with. `generation`
 * keeps the new nodes' names unique when a VM swaps more than once. Throws `QmpError` when QEMU
 * refuses (a new file that cannot be opened): the nodes added are removed again, the disks keep
 * their files.
 *
 * @example
 * ```ts ignore
 * import { swapDiskFiles } from "./disk_swap.ts";
 * await swapDiskFiles(qmp, [{ path: "/s/lower.erofs", readonly: true, serial: "ab-lower" }], 1);
 * ```
 */
export async function swapDiskFiles(
  qmp: QmpClient,
  disks: readonly VmDisk[],
  generation: number,
): Promise<void> {
  const added: string[] = [];
  try {
    for (const [index, disk] of disks.entries()) {
      const name = `${diskNodeNames(index).drive}-swap${generation}`;
      await qmp.execute("blockdev-add", {
        driver: "file",
        "node-name": name,
        filename: disk.path,
        "read-only": disk.readonly,
      });
      added.push(name);
    }
    await qmp.execute("blockdev-reopen", {
      options: disks.map((disk, index) => ({
        driver: "raw",
        "node-name": diskNodeNames(index).format,
        file: added[index],
        "read-only": disk.readonly,
      })),
    });
  } catch (error) {
    for (const name of added) {
      await qmp.execute("blockdev-del", { "node-name": name }).catch(() => {});
    }
    throw error;
  }
}
