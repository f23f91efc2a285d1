import assert from "node:assert/strict";
import { openCappedLog } from "./capped_log.ts";

Deno.test("capped log: two writers share the cap, then one note", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = await openCappedLog(`${dir}/log`, 10);
    const bytes = (s: string) => new TextEncoder().encode(s);
    await Promise.all([
      ReadableStream.from([bytes("aaaa"), bytes("aaaa")]).pipeTo(log.writer()),
      ReadableStream.from([bytes("bbbb"), bytes("bbbb")]).pipeTo(log.writer()),
    ]);
    log.close();
    const text = await Deno.readTextFile(`${dir}/log`);
    assert.equal(text.split("\n")[0].length, 10);
    assert.equal(text.match(/log full/g)?.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
