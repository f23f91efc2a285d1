import assert from "node:assert/strict";
import { writeCpio } from "./cpio.ts";

function members(archive: Uint8Array) {
  const text = new TextDecoder("latin1").decode(archive);
  const result: { name: string; mode: number; size: number; rdev: number[]; data: string }[] = [];
  let at = 0;
  while (true) {
    assert.equal(text.slice(at, at + 6), "070701");
    const field = (i: number) => parseInt(text.slice(at + 6 + i * 8, at + 14 + i * 8), 16);
    const [mode, size, namesize] = [field(1), field(6), field(11)];
    const nameAt = at + 110;
    const name = text.slice(nameAt, nameAt + namesize - 1);
    const dataAt = nameAt + namesize + ((4 - ((110 + namesize) % 4)) % 4);
    result.push({
      name,
      mode,
      size,
      rdev: [field(9), field(10)],
      data: text.slice(dataAt, dataAt + size),
    });
    at = dataAt + size + ((4 - (size % 4)) % 4);
    if (name === "TRAILER!!!") return { result, end: at };
  }
}

Deno.test("writeCpio writes newc members the kernel can unpack", () => {
  const archive = writeCpio([
    { path: "dev", type: "dir" },
    { path: "dev/console", type: "char", major: 5, minor: 1 },
    { path: "init", type: "file", data: new TextEncoder().encode("#!/bin/sh\n"), mode: 0o755 },
    { path: "bin/sh", type: "symlink", target: "busybox" },
  ]);
  const { result, end } = members(archive);
  assert.equal(end, archive.length);
  assert.deepEqual(result.map((m) => m.name), [
    "dev",
    "dev/console",
    "init",
    "bin/sh",
    "TRAILER!!!",
  ]);
  assert.equal(result[0].mode, 0o040755);
  assert.equal(result[1].mode, 0o020600);
  assert.deepEqual(result[1].rdev, [5, 1]);
  assert.equal(result[2].mode, 0o100755);
  assert.equal(result[2].data, "#!/bin/sh\n");
  assert.equal(result[3].mode, 0o120777);
  assert.equal(result[3].data, "busybox");
});
