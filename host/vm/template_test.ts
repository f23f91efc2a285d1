import assert from "node:assert/strict";
import type { ImagePaths } from "../../image/store.ts";
import { proxyNetwork } from "../net/user_network.ts";
import type { QemuSetup } from "./qemu/qemu_vm.ts";
import { locateTemplate, templateShape } from "./template.ts";

const image = {
  name: "default",
  dir: "/images/default",
  kernel: "/images/default/vmlinuz",
  initrd: "/images/default/initrd.img",
  rootfs: "/images/default/rootfs.erofs",
  manifest: {
    files: { "rootfs.erofs": { size: 1, sha256: "a".repeat(64) } },
    agent: { path: "/opt/agentbox/agent.js", sha256: "b".repeat(64) },
  },
} as unknown as ImagePaths;
const setup: QemuSetup = {
  qemu: "/nonexistent/qemu",
  accel: { kind: "tcg", reason: "" },
  channel: "serial",
  tscKhz: 2_000_000,
};

Deno.test("a template's key ignores the session's host ports, relay, tap and TSC rate, not the backend", async () => {
  const a = await locateTemplate(
    image,
    templateShape(image, {
      network: proxyNetwork("/bin/busybox", {
        forwardPort: 40000,
        transparentPort: 40001,
        relayKey: "/run/k40000.key",
      }),
    }),
    setup,
  );
  const b = await locateTemplate(
    image,
    templateShape(image, {
      network: proxyNetwork("/usr/bin/busybox", {
        forwardPort: 50000,
        transparentPort: 50001,
        relayKey: "/run/k50000.key",
      }),
    }),
    { ...setup, tscKhz: 2_100_000 },
  );
  const tap = (ifname: string, gateway: string, guest: string) =>
    locateTemplate(
      image,
      templateShape(image, { network: { kind: "tap", ifname, gateway, guest, prefixLength: 30 } }),
      setup,
    );
  const tapA = await tap("ab0123456789ab", "10.213.0.1", "10.213.0.2");
  const tapB = await tap("abfedcba987654", "10.213.0.5", "10.213.0.6");
  assert.equal(a.key, b.key);
  assert.equal(tapA.key, tapB.key);
  // A state saved on slirp has a slirp section a VM on a tap cannot load.
  assert.notEqual(tapA.key, a.key);
  assert.ok(a.dir.endsWith(`/templates/default/${a.key.slice(0, 32)}`));
});

Deno.test("a template's key changes with the shape, the accelerator and the image", async () => {
  const base = await locateTemplate(image, templateShape(image), setup);
  const others = await Promise.all([
    locateTemplate(image, templateShape(image, { cpus: 1 }), setup),
    locateTemplate(image, templateShape(image, { memoryMb: 512 }), setup),
    locateTemplate(
      image,
      templateShape(image, {
        network: proxyNetwork("/bin/busybox", {
          forwardPort: 1,
          transparentPort: 1,
          relayKey: "/run/k1.key",
        }),
      }),
      setup,
    ),
    locateTemplate(image, templateShape(image), { ...setup, accel: { kind: "kvm" } }),
    locateTemplate(
      {
        ...image,
        manifest: { ...image.manifest, agent: { path: "/x", sha256: "c".repeat(64) } },
      } as ImagePaths,
      templateShape(image),
      setup,
    ),
  ]);
  assert.equal(new Set([base.key, ...others.map((t) => t.key)]).size, 6);
});
