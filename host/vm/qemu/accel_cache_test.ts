import assert from "node:assert/strict";
import type { Accel } from "./accel.ts";
import { cachedProbeAccel, claimTcgWarning } from "./accel_cache.ts";

Deno.test("cachedProbeAccel probes once, then answers from the cache", async () => {
  const dir = await Deno.makeTempDir();
  const cacheFile = `${dir}/sub/accel.json`;
  let probes = 0;
  const probe = (): Promise<Accel> => {
    probes++;
    return Promise.resolve({ kind: "tcg", reason: "test" });
  };
  const first = await cachedProbeAccel("sh", { cacheFile, probe });
  const second = await cachedProbeAccel("sh", { cacheFile, probe });
  assert.deepEqual([first, second, probes], [
    { kind: "tcg", reason: "test" },
    { kind: "tcg", reason: "test" },
    1,
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cachedProbeAccel probes again when the key or the file is not right", async () => {
  const dir = await Deno.makeTempDir();
  const cacheFile = `${dir}/accel.json`;
  let probes = 0;
  const probe = (): Promise<Accel> => {
    probes++;
    return Promise.resolve({ kind: "kvm" });
  };
  await Deno.writeTextFile(
    cacheFile,
    JSON.stringify({ key: "another boot", accel: { kind: "tcg", reason: "old" } }),
  );
  assert.deepEqual(await cachedProbeAccel("sh", { cacheFile, probe }), { kind: "kvm" });
  await Deno.writeTextFile(cacheFile, "{not json");
  assert.deepEqual(await cachedProbeAccel("sh", { cacheFile, probe }), { kind: "kvm" });
  // A different QEMU binary is a different key.
  assert.deepEqual(await cachedProbeAccel("true", { cacheFile, probe }), { kind: "kvm" });
  assert.equal(probes, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("claimTcgWarning: due once per cached probe (host boot), then not until the key changes", async () => {
  const dir = await Deno.makeTempDir();
  const cacheFile = `${dir}/accel.json`;
  const probe = (): Promise<Accel> => Promise.resolve({ kind: "tcg", reason: "test" });
  // No probe cached yet: nothing to remember the warning in, so it is due.
  assert.equal(await claimTcgWarning("sh", { cacheFile }), true);
  await cachedProbeAccel("sh", { cacheFile, probe });
  assert.equal(await claimTcgWarning("sh", { cacheFile }), true);
  assert.equal(await claimTcgWarning("sh", { cacheFile }), false);
  assert.equal(await claimTcgWarning("sh", { cacheFile }), false);
  // The probe's answer survives the mark: no new probe.
  let probes = 0;
  await cachedProbeAccel("sh", {
    cacheFile,
    probe: () => {
      probes++;
      return probe();
    },
  });
  assert.equal(probes, 0);
  // Another boot (a different key): probed again and warned again.
  const cached = JSON.parse(await Deno.readTextFile(cacheFile));
  await Deno.writeTextFile(cacheFile, JSON.stringify({ ...cached, key: "another boot" }));
  await cachedProbeAccel("sh", { cacheFile, probe });
  assert.equal(await claimTcgWarning("sh", { cacheFile }), true);
  assert.equal(await claimTcgWarning("sh", { cacheFile }), false);
  await Deno.remove(dir, { recursive: true });
});
