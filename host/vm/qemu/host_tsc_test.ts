import assert from "node:assert/strict";
import { hostTscKhz } from "./host_tsc.ts";

Deno.test("hostTscKhz reads the first cpu MHz line", async () => {
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(
    file,
    "processor\t: 0\ncpu MHz\t\t: 2596.128\nprocessor\t: 1\ncpu MHz\t\t: 800.000\n",
  );
  assert.equal(await hostTscKhz(file), 2596128);
  await Deno.writeTextFile(file, "processor\t: 0\n");
  assert.equal(await hostTscKhz(file), undefined);
  assert.equal(await hostTscKhz(`${file}.missing`), undefined);
  await Deno.remove(file);
});

Deno.test("hostTscKhz finds a plausible frequency on this host", async () => {
  // TCG boots depend on it (see argv.ts): a host where it is missing should fail here first.
  const khz = await hostTscKhz();
  assert.ok(khz !== undefined && khz > 100_000 && khz < 10_000_000, `got ${khz}`);
});
