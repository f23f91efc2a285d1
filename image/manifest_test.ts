import assert from "node:assert/strict";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "@agentbox/protocol";
import { ImageError } from "./errors.ts";
import { sha256File } from "./hash.ts";
import {
  IMAGE_FILES,
  type ImageManifest,
  MANIFEST_FORMAT,
  readManifest,
  verifyImage,
} from "./manifest.ts";
import { findImage, listImages, validateImageName } from "./store.ts";

async function fakeImage(root: string, name: string): Promise<ImageManifest> {
  const dir = join(root, name);
  await Deno.mkdir(dir, { recursive: true });
  const files = {} as ImageManifest["files"];
  for (const file of IMAGE_FILES) {
    await Deno.writeTextFile(join(dir, file), `content of ${file}`);
    files[file] = { size: `content of ${file}`.length, sha256: await sha256File(join(dir, file)) };
  }
  const manifest: ImageManifest = {
    format: MANIFEST_FORMAT,
    name,
    created: "2025-01-01T00:00:00.000Z",
    kernel: { release: "6.1.0-56-cloud-amd64", package: "linux-image-6.1.0-56-cloud-amd64" },
    modules: ["virtio_ring"],
    packages: [{ name: "curl", version: "7.88.1", sha256: "0".repeat(64) }],
    files,
    deno: { version: "2.9.6", sha256: "1".repeat(64) },
    agent: { path: "/opt/agentbox/agent.js", sha256: "2".repeat(64) },
    protocolVersion: PROTOCOL_VERSION,
  };
  await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  return manifest;
}

Deno.test("findImage returns the paths of a complete image", async () => {
  const root = await Deno.makeTempDir();
  try {
    await fakeImage(root, "default");
    const image = await findImage("default", { imagesDir: root });
    assert.equal(image.kernel, join(root, "default", "vmlinuz"));
    assert.equal(image.rootfs, join(root, "default", "rootfs.erofs"));
    await verifyImage(image.dir, image.manifest);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("findImage says how to build a missing image", async () => {
  const root = await Deno.makeTempDir();
  try {
    await assert.rejects(
      findImage("default", { imagesDir: root }),
      (e) =>
        e instanceof ImageError &&
        e.message === 'Image "default" is not built: run `agentbox images build`',
    );
    await assert.rejects(findImage("slim", { imagesDir: root }), /agentbox images build slim/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stale protocol, truncated or altered files are reported", async () => {
  const root = await Deno.makeTempDir();
  try {
    const manifest = await fakeImage(root, "default");
    const dir = join(root, "default");
    await Deno.writeTextFile(
      join(dir, "manifest.json"),
      JSON.stringify({ ...manifest, protocolVersion: PROTOCOL_VERSION + 1 }),
    );
    await assert.rejects(findImage("default", { imagesDir: root }), /speaks protocol/);
    await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
    await Deno.writeTextFile(join(dir, "initrd.img"), "short");
    await assert.rejects(findImage("default", { imagesDir: root }), /initrd\.img has 5 bytes/);
    await Deno.writeTextFile(join(dir, "initrd.img"), "CONTENT OF initrd.img");
    const image = await findImage("default", { imagesDir: root });
    await assert.rejects(verifyImage(dir, image.manifest), /does not match its manifest/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readManifest rejects malformed manifests", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "manifest.json"), "{");
    await assert.rejects(readManifest(dir), /Cannot parse/);
    await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify({ format: 1 }));
    await assert.rejects(readManifest(dir), /not a valid image manifest: name is not a string/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listImages skips build leftovers and reports broken images", async () => {
  const root = await Deno.makeTempDir();
  try {
    await fakeImage(root, "default");
    await Deno.mkdir(join(root, ".default.build-x"));
    await Deno.mkdir(join(root, "broken"));
    const images = await listImages({ imagesDir: root });
    assert.deepEqual(images.map((i) => [i.name, "error" in i]), [["broken", true], [
      "default",
      false,
    ]]);
    assert.deepEqual(await listImages({ imagesDir: join(root, "none") }), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("image names cannot escape the images directory", () => {
  validateImageName("default");
  for (const bad of ["", "../x", "a/b", ".hidden", "UPPER"]) {
    assert.throws(() => validateImageName(bad), ImageError);
  }
});
