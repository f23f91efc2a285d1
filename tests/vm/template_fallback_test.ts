/**
 * A template snapshot that cannot be restored costs one warning and a cold boot, never the
 * command; the broken template is removed so that the next VM makes a new one.
 */
import assert from "node:assert/strict";
import { findImage } from "../../image/store.ts";
import { bootVm } from "../../host/vm/boot.ts";
import { qemuSetup } from "../../host/vm/qemu/qemu_vm.ts";
import { locateTemplate, makeTemplate, templateShape } from "../../host/vm/template.ts";

Deno.test({
  name: "vm: a broken template falls back to a cold boot with one warning",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const image = await findImage("default");
  // A shape no other test uses, so that breaking its template disturbs nobody.
  const shape = templateShape(image, { cpus: 1, memoryMb: 384 });
  const setup = await qemuSetup();
  const template = await locateTemplate(image, shape, setup);
  if (!await Deno.stat(template.state).then(() => true, () => false)) {
    await makeTemplate(template, image, shape, setup);
  }
  await Deno.writeTextFile(template.state, "not a migration stream");
  const warnings: string[] = [];
  const vm = await bootVm({
    cpus: 1,
    memoryMb: 384,
    onWarning: (message) => warnings.push(message),
  });
  try {
    assert.equal(vm.restored, false);
    const restoreWarnings = warnings.filter((w) => w.includes("template snapshot"));
    assert.equal(restoreWarnings.length, 1, warnings.join("\n"));
    assert.match(restoreWarnings[0], /cannot restore the template snapshot .*booting cold/);
    assert.equal(await Deno.stat(template.dir).then(() => true, () => false), false);
    const run = vm.agent.exec({ argv: ["echo", "cold"] });
    const [out, , result] = await Promise.all([
      new Response(run.stdout).text(),
      run.stderr.cancel(),
      run.result,
    ]);
    assert.deepEqual([out, result.code], ["cold\n", 0]);
  } finally {
    await vm.stop();
  }
});
