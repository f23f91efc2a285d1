import assert from "node:assert/strict";
import { canonicalHost } from "../net/canonical_host.ts";
import { ConfigError } from "./config_error.ts";
import { applyConfigText, loadPolicy } from "./load_config.ts";
import { decide, emptyPolicy } from "./policy.ts";

function errorOf(toml: string): ConfigError {
  try {
    applyConfigText(emptyPolicy(), toml, "/p/.agentbox.toml");
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("no error");
}

Deno.test("applyConfigText accepts a full valid file (positive control)", () => {
  const policy = emptyPolicy();
  applyConfigText(
    policy,
    `[network]\nmode = "allowlist"\npresets = ["npm"]\nallow = ["a.test"]\ndeny = ["*.b.test"]\n` +
      `gray = ["c.test"]\nconnect_ports = [443]\nhttp_ports = [80, 8080]\n` +
      `[tools.claude]\nallow = ["d.test"]\npresets = ["anthropic"]\n[vm]\nmemory = "2G"\n`,
    "/p/.agentbox.toml",
  );
  assert.equal(policy.allow.length, 3);
  assert.deepEqual([...policy.httpPorts], [80, 8080]);
  // d.test and the anthropic preset (its API host only: telemetry hosts are never a preset).
  assert.equal(policy.tools.get("claude")?.length, 2);
});

Deno.test("bad TOML syntax names file and line", () => {
  const err = errorOf(`[network]\nallow = ["a.test"\n`);
  assert.equal(err.location.file, "/p/.agentbox.toml");
  assert.equal(typeof err.location.line, "number");
  assert.match(err.message, /^Invalid configuration: \/p\/\.agentbox\.toml line \d/);
});

Deno.test("invalid values name file, line and key", () => {
  const cases: [string, string, number, RegExp][] = [
    [`[network]\nmode = "wide"\n`, "network.mode", 2, /must be one of/],
    [`[network]\n\nallow = "a.test"\n`, "network.allow", 3, /array of strings/],
    [`[network]\nallow = ["*.com"]\n`, "network.allow", 2, /too broad/],
    [`[network]\ndeny = ["*"]\n`, "network.deny", 2, /network.mode = "open"/],
    [`[network]\ngray = ["a.*.test"]\n`, "network.gray", 2, /only as/],
    [`[network]\nallow = ["*.10.0.0.1"]\n`, "network.allow", 2, /not a host|no wildcard/],
    [`[network]\nallow = ["https://a.test/"]\n`, "network.allow", 2, /not a host name/],
    [`[network]\npresets = ["nmp"]\n`, "network.presets", 2, /unknown preset "nmp"/],
    [`[network]\nconnect_ports = [0]\n`, "network.connect_ports", 2, /port numbers/],
    [`[network]\nalow = []\n`, "network.alow", 2, /unknown key/],
    [`network = 3\n`, "network", 1, /must be a table/],
    [`[tools.claude]\ndeny = ["x.test"]\n`, "tools.claude.deny", 2, /unknown key/],
    [`network.allow = [1]\n`, "network.allow", 1, /array of strings/],
  ];
  for (const [toml, key, line, detail] of cases) {
    const err = errorOf(toml);
    assert.equal(err.location.key, key, toml);
    assert.equal(err.location.line, line, toml);
    assert.match(err.message, detail, toml);
    assert.ok(err.message.includes(`line ${line}, key ${key}`), err.message);
  }
});

Deno.test("loadPolicy merges user file, project file and command line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/user.toml`, `[network]\nallow = ["u.test"]\nmode = "open"\n`);
    await Deno.writeTextFile(`${dir}/.agentbox.toml`, `[network]\ndeny = ["p.test"]\n`);
    const policy = await loadPolicy({
      userFile: `${dir}/user.toml`,
      projectDir: dir,
      allow: ["c.test"],
      deny: ["u.test"],
      mode: "allowlist",
    });
    const d = (h: string) => decide(policy, { host: canonicalHost(h), port: 443, kind: "connect" });
    assert.equal(d("c.test").rule, 'allow "c.test" (--allow in command line)');
    assert.equal(d("u.test").verdict, "deny");
    assert.equal(d("p.test").verdict, "deny");
    assert.equal(d("other.test").rule, "default deny");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadPolicy: missing files are fine, a bad --allow is a ConfigError", async () => {
  const policy = await loadPolicy({
    userFile: "/nonexistent/config.toml",
    projectDir: "/nonexistent",
  });
  assert.equal(policy.allow.length, 0);
  await assert.rejects(
    loadPolicy({ userFile: "/nonexistent/c.toml", allow: ["*.com"] }),
    (e) => e instanceof ConfigError && /command line, key --allow/.test(e.message),
  );
});

Deno.test("tls.trust_host_ca: the user's file or --trust-host-ca turn it on, never a project file", async () => {
  const user = emptyPolicy();
  applyConfigText(user, "[tls]\ntrust_host_ca = true\n", "/home/u/config.toml", { trusted: true });
  assert.equal(user.trustHostCa, true);
  assert.equal(emptyPolicy().trustHostCa, false);
  const project = errorOf("[tls]\ntrust_host_ca = true\n");
  assert.match(
    project.message,
    /\/p\/\.agentbox\.toml line 2, key tls\.trust_host_ca: can be set only in the user configuration/,
  );
  assert.match(errorOf('[tls]\ntrust_host_ca = "yes"\n').message, /must be true or false/);
  assert.match(errorOf("[tls]\ntrust_host_cas = true\n").message, /trust_host_cas/);
  const dir = await Deno.makeTempDir();
  try {
    const policy = await loadPolicy({
      userFile: `${dir}/none.toml`,
      projectDir: dir,
      trustHostCa: true,
    });
    assert.equal(policy.trustHostCa, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
