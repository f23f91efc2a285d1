import assert from "node:assert/strict";
import {
  moduleLoadOrder,
  moduleName,
  parseModinfoDepends,
  parseModulesBuiltin,
  parseModulesDep,
} from "./modules.ts";
import { ImageError } from "./errors.ts";

const DEP =
  `kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/fs/fuse/fuse.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
`;

const modules = new Map(parseModulesDep(DEP).map((m) => [m.name, m]));

Deno.test("moduleLoadOrder puts dependencies first and skips built-ins", () => {
  const order = moduleLoadOrder(["virtio_mmio", "ext4", "virtiofs"], modules, new Set(["ext4"]));
  assert.deepEqual(order.map((m) => m.name), [
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "fuse",
    "virtiofs",
  ]);
  assert.equal(order[2].path, "kernel/drivers/virtio/virtio_mmio.ko");
});

Deno.test("moduleLoadOrder names a missing module and who needs it", () => {
  const broken = new Map(modules);
  broken.delete("virtio_ring");
  assert.throws(
    () => moduleLoadOrder(["virtio_mmio"], broken, new Set()),
    (e) => e instanceof ImageError && /virtio_ring \(needed by virtio\)/.test(e.message),
  );
});

Deno.test("moduleLoadOrder refuses a dependency cycle", () => {
  const cyclic = new Map(parseModulesDep("a.ko: b.ko\nb.ko: a.ko\n").map((m) => [m.name, m]));
  assert.throws(() => moduleLoadOrder(["a"], cyclic, new Set()), /a → b → a/);
});

Deno.test("module names treat - and _ alike", () => {
  assert.equal(moduleName("kernel/arch/x86/crypto/crc32c-intel.ko"), "crc32c_intel");
  assert.ok(modules.has("crc32c_intel"));
  assert.deepEqual([...parseModulesBuiltin("kernel/fs/ext4/ext4.ko\n\n")], ["ext4"]);
});

Deno.test("parseModinfoDepends reads the depends= field", () => {
  const info = new TextEncoder().encode(
    "license=GPL\0depends=virtio,virtio_ring\0name=virtio_mmio\0",
  );
  assert.deepEqual(parseModinfoDepends(info), ["virtio", "virtio_ring"]);
  assert.deepEqual(parseModinfoDepends(new TextEncoder().encode("depends=\0")), []);
});
