import assert from "node:assert/strict";
import { SparseWriter } from "./blob.ts";

Deno.test("SparseWriter leaves zero blocks as holes and keeps every byte and the length", async () => {
  const path = await Deno.makeTempFile();
  try {
    const size = 8 * 1024 * 1024 + 12345; // a trailing hole that is not a whole block
    const content = new Uint8Array(size);
    content.set([1, 2, 3], 0);
    content.set([9], 3 * 1024 * 1024 + 65535); // straddles nothing: one byte in one block
    content.set([7, 7], 5 * 1024 * 1024 - 1); // the last byte of a block and the first of the next
    const claimed: number[] = [];
    {
      using file = await Deno.open(path, { write: true });
      const writer = new SparseWriter(file, (bytes) => claimed.push(bytes));
      for (let at = 0; at < size; at += 100_003) {
        await writer.write(content.slice(at, at + 100_003));
      }
      await writer.finish();
      assert.equal(writer.dataBytes, 4 * 64 * 1024);
    }
    assert.deepEqual(claimed, [65536, 65536, 65536, 65536]);
    assert.deepEqual(await Deno.readFile(path), content);
    const info = await Deno.stat(path);
    assert.equal(info.size, size);
    assert.ok(info.blocks! * 512 <= 4 * 64 * 1024, `${info.blocks! * 512} bytes allocated`);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("SparseWriter: a refusal before a data block writes nothing of it", async () => {
  const path = await Deno.makeTempFile();
  try {
    using file = await Deno.open(path, { write: true });
    const writer = new SparseWriter(file, () => {
      throw new Error("no room");
    });
    await writer.write(new Uint8Array(64 * 1024)); // zeros: no claim
    await assert.rejects(() => writer.write(new Uint8Array(64 * 1024).fill(1)), /no room/);
    assert.equal((await Deno.stat(path)).size, 0);
  } finally {
    await Deno.remove(path);
  }
});
