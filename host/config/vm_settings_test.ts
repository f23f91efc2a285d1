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
      /key vm\.vcpus: unknown key \(known: vmm, kvm_warning, image, cpus, memory\)/,
    );
  });
});

Deno.test("vm settings: vm.kvm_warning is a boolean, in the user's file only", async () => {
  await withFiles({ user: "[vm]\nkvm_warning = false\n" }, async (options) => {
    assert.deepEqual(await loadVmSettings(options), { kvmWarning: false });
  });
  await withFiles({ user: '[vm]\nkvm_warning = "no"\nvmm = "qemu"\n' }, async (options) => {
    await assert.rejects(
      loadVmSettings(options),
      /line 2, key vm\.kvm_warning: must be true or false/,
    );
  });
  await withFiles({ project: "[vm]\nkvm_warning = false\n" }, async (options) => {
    await assert.rejects(loadVmSettings(options), /key vm\.kvm_warning: allowed in the user's/);
  });
});

Deno.test("vm settings: vm.vmm in the project's file is refused", async () => {
  await withFiles({ project: '[vm]\nvmm = "qemu"\n' }, async (options) => {
    await assert.rejects(
      loadVmSettings(options),
      /\.agentbox\.toml line 2, key vm\.vmm: allowed in the user's config\.toml only/,
    );
  });
});

Deno.test("vm settings: image, cpus and memory from both files, the project's winning", async () => {
  await withFiles({
    user: '[vm]\nimage = "dev"\ncpus = 4\n',
    project: "# project\n[vm]\ncpus = 1\nmemory = 2048\n",
  }, async (options) => {
    const settings = await loadVmSettings(options);
    assert.deepEqual(settings.image, { value: "dev", file: options.userFile, line: 2 });
    assert.deepEqual(settings.cpus, {
      value: 1,
      file: `${options.projectDir}/.agentbox.toml`,
      line: 3,
    });
    assert.equal(settings.memoryMb?.value, 2048);
  });
  await withFiles({ project: "[vm]\ncpus = 0\n" }, async (options) => {
    await assert.rejects(loadVmSettings(options), /line 2, key vm\.cpus: must be a whole number/);
  });
  await withFiles({ project: '[vm]\nimage = "../x"\n' }, async (options) => {
    await assert.rejects(loadVmSettings(options), /key vm\.image: must be an image name/);
  });
});
