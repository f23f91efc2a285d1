import assert from "node:assert/strict";
import { configReport } from "./config_report.ts";

Deno.test("config report: every value with its file and line, lists adding up, defaults last", async () => {
  const root = await Deno.makeTempDir({ prefix: "agentbox-config-" });
  try {
    const userFile = `${root}/config.toml`;
    await Deno.writeTextFile(
      userFile,
      '[network]\nmode = "open"\nallow = ["u.example.com"]\n[vm]\ncpus = 4\n',
    );
    await Deno.mkdir(`${root}/p/.git`, { recursive: true });
    await Deno.mkdir(`${root}/p/sub`);
    await Deno.writeTextFile(
      `${root}/p/.agentbox.toml`,
      '# project\n[network]\nmode = "allowlist"\nallow = ["p.example.com"]\n\n[vm]\ncpus = 1\n' +
        '[share]\nexclude = ["node_modules/"]\n',
    );
    const report = await configReport({ projectDir: `${root}/p/sub`, userFile });
    assert.deepEqual(report.files.map((f) => [f.role, f.exists, f.error]), [
      ["user", true, undefined],
      ["project", true, undefined],
    ]);
    const project = `${root}/p/.agentbox.toml`;
    const values = (key: string) => report.values.filter((v) => v.key === key);
    assert.deepEqual(values("network.mode"), [
      { key: "network.mode", value: "allowlist", file: project, line: 3 },
    ]);
    assert.deepEqual(values("network.allow"), [
      { key: "network.allow", value: ["u.example.com"], file: userFile, line: 3 },
      { key: "network.allow", value: ["p.example.com"], file: project, line: 4 },
    ]);
    assert.deepEqual(values("vm.cpus"), [{ key: "vm.cpus", value: 1, file: project, line: 7 }]);
    assert.deepEqual(values("share.exclude")[0].line, 9);
    assert.deepEqual(values("vm.vmm"), [{ key: "vm.vmm", value: "qemu" }]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("config report: a misspelled table is an error with file and line; the other file still counts", async () => {
  const root = await Deno.makeTempDir({ prefix: "agentbox-config-" });
  try {
    const userFile = `${root}/config.toml`;
    await Deno.writeTextFile(userFile, "[vm]\ncpus = 3\n\n[netwrk]\nallow = []\n");
    await Deno.writeTextFile(`${root}/.agentbox.toml`, "[vm]\nmemory = 512\nvcpus = 1\n");
    const report = await configReport({ projectDir: root, userFile });
    assert.equal(
      report.files[0].error?.message,
      `Invalid configuration: ${userFile} line 4, key netwrk: unknown table; did you mean ` +
        "[network]? (known tables: network, tools, inspect, credentials, tls, agents, agent_home, vm, workspace, share, audit)",
    );
    assert.match(
      report.files[1].error?.message ?? "",
      /\.agentbox\.toml line 3, key vm\.vcpus: unknown key/,
    );
    // Neither invalid file contributes a value.
    assert.deepEqual(report.values.find((v) => v.key === "vm.cpus")?.file, undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("config report: user-only keys in a project's file are errors there", async () => {
  const root = await Deno.makeTempDir({ prefix: "agentbox-config-" });
  try {
    const userFile = `${root}/missing.toml`;
    for (const text of ['[vm]\nvmm = "qemu"\n', '[workspace]\nmax_changes = "1 GiB"\n']) {
      await Deno.writeTextFile(`${root}/.agentbox.toml`, text);
      const report = await configReport({ projectDir: root, userFile });
      assert.equal(report.files[0].exists, false);
      assert.match(report.files[1].error?.message ?? "", /allowed in the user's config\.toml only/);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
