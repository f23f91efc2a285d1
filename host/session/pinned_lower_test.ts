import assert from "node:assert/strict";
import { pinLowerImage, pinnedLayersPath, pinnedLower, pinnedLowerPath } from "./pinned_lower.ts";
import { ChangesetError } from "../workspace/changeset.ts";

Deno.test("pinned lower: the image is linked and its layers recorded; a corrupt record is refused", async () => {
  const base = await Deno.makeTempDir({ prefix: "agentbox-pinned-" });
  try {
    const session = `${base}/session`;
    await Deno.mkdir(`${session}/workspace`, { recursive: true });
    const image = `${base}/chain.erofs`;
    await Deno.writeTextFile(image, "layers");
    // A session without a record (older agentbox) has no layers.
    assert.deepEqual(await pinnedLower(session), {
      lowerImage: pinnedLowerPath(session),
      lowerLayers: [],
    });
    const pinned = await pinLowerImage({ lowerImage: image, lowerLayers: [8192, 16384] }, session);
    assert.equal((await Deno.stat(pinned)).ino, (await Deno.stat(image)).ino);
    assert.deepEqual(await pinnedLower(session), {
      lowerImage: pinned,
      lowerLayers: [8192, 16384],
    });
    for (const bad of ["[8192,-1]", '["8192"]', "{", "[1.5]"]) {
      await Deno.writeTextFile(pinnedLayersPath(session), bad);
      await assert.rejects(pinnedLower(session), ChangesetError, bad);
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
