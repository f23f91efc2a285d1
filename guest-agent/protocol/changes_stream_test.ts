import assert from "node:assert/strict";
import { encodeChangeEntry, readChangesStream } from "./changes_stream.ts";

Deno.test("readChangesStream: entries and content split anywhere are read whole", async () => {
  const a = encodeChangeEntry({ path: "a", type: "file", mode: 0o644, size: 3 });
  const b = encodeChangeEntry({ path: "b", type: "deleted" });
  const all = new Uint8Array([...a, 7, 8, 9, ...b]);
  for (let cut = 1; cut < all.length; cut++) {
    const seen: unknown[] = [];
    const content: number[] = [];
    const n = await readChangesStream(
      ReadableStream.from([all.slice(0, cut), all.slice(cut)]),
      {
        entry: (record) => {
          seen.push(record);
          return (record as { size?: number }).size ?? 0;
        },
        content: (chunk) => void content.push(...chunk),
        contentEnd() {},
      },
    );
    assert.equal(n, 2, `cut at ${cut}`);
    assert.deepEqual(content, [7, 8, 9], `cut at ${cut}`);
    assert.deepEqual(seen.map((r) => (r as { path: string }).path), ["a", "b"]);
  }
});
