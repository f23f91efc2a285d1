import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { loadVmSettings } from "./vm_settings.ts";

async function withFiles(
  files: { user?: string; project?: string },
  run: (options: { userFile: string; projectDir: string }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  try {
    if (files.user !== undefined) await Deno.writeTextFile(`${dir}/config.toml`, files.user);
    if (files.project !== undefined) {
      await Deno.writeTextFile(`${dir}/.agentbox.toml`, files.project);
    }
    await run({ userFile: `${dir}/config.toml`, projectDir: dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("vm settings: no files, or no [vm], set nothing", async () => {
  await withFiles({}, async (options) => assert.deepEqual(await loadVmSettings(options), {}));
  await withFiles(
    { user: '[network]\nmode = "open"\n', project: "[network]\n" },
    async (options) => {
      assert.deepEqual(await loadVmSettings(options), {});
    },
  );
});

Deno.test("vm settings: vm.vmm from the user's file", async () => {
  await withFiles({ user: '[vm]\nvmm = "cloud-hypervisor"\n' }, async (options) => {
    assert.deepEqual(await loadVmSettings(options), { vmm: "cloud-hypervisor" });
  });
});

Deno.test("vm settings: a bad value or an unknown key names file, line and key", async () => {
  await withFiles({ user: '# mine\n[vm]\nvmm = "firecracker"\n' }, async (options) => {
    const error = await loadVmSettings(options).catch((e) => e);
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.message,
      `Invalid configuration: ${options.userFile} line 3, key vm.vmm: must be one of qemu, ` +
        "cloud-hypervisor",
    );
  });
  await withFiles({ user: "[vm]\nvcpus = 2\n" }, async (options) => {
    await assert.rejects(
      loadVmSettings(options),
      /key vm\.vcpus: unknown key \(known: vmm, kvm_warning\)/,
    );
  });
});

Deno.test("vm settings: a [vm] table in the project's file is refused", async () => {
  await withFiles({ project: '[vm]\nvmm = "qemu"\n' }, async (options) => {
    await assert.rejects(
      loadVmSettings(options),
      /\.agentbox\.toml line 1, key vm: allowed in the user's config\.toml only/,
    );
  });
});

Deno.test("vm settings: vm.kvm_warning is a boolean", async () => {
  await withFiles({ user: "[vm]\nkvm_warning = false\n" }, async (options) => {
    assert.deepEqual(await loadVmSettings(options), { kvmWarning: false });
  });
  await withFiles({ user: '[vm]\nkvm_warning = "no"\nvmm = "qemu"\n' }, async (options) => {
    await assert.rejects(
      loadVmSettings(options),
      /line 2, key vm\.kvm_warning: must be true or false/,
    );
  });
});
