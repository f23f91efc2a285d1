import assert from "node:assert/strict";
import { canonicalHost } from "../net/canonical_host.ts";
import { ConfigError } from "./config_error.ts";
import { needsInspection, shouldInspect } from "./inspect_settings.ts";
import { applyConfigText, loadPolicy } from "./load_config.ts";
import { emptyPolicy } from "./policy.ts";
import { checkRequest } from "./request_rules.ts";
import { normalizePath } from "./route_pattern.ts";

const FULL = `
[inspect]
enabled = true
hosts = ["api.github.com"]
bypass = ["*.pinned.test"]

[[inspect.rules]]
host = "api.github.com"
allow = ["GET", "HEAD", "POST /graphql"]
deny = ["POST /repos/*/issues"]

[[inspect.rewrites]]
host = "api.anthropic.com"
to = "https://llm-gateway.corp/v1/anthropic/"

[[credentials]]
preset = "anthropic"

[[credentials]]
host = "api.example.com"
path = "/v1/**"
header = "Authorization"
scheme = "Bearer"
command = ["print-token", "--for", "example"]
ttl = 60
guest_env = ["EXAMPLE_TOKEN"]
`;

function errorOf(toml: string, trusted = true): ConfigError {
  try {
    applyConfigText(emptyPolicy(), toml, "/p/x.toml", { trusted });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("no error");
}

Deno.test("[inspect] and [[credentials]] load from a trusted file (positive control)", () => {
  const policy = emptyPolicy();
  applyConfigText(policy, FULL, "/home/u/.config/agentbox/config.toml", { trusted: true });
  const s = policy.inspect;
  assert.equal(s.enabled, true);
  assert.equal(s.rules[0].allow.length, 3);
  assert.deepEqual(s.rewrites[0].to, {
    host: { name: "llm-gateway.corp", kind: "dns" },
    port: 443,
    pathPrefix: "/v1/anthropic",
  });
  const [anthropic, example] = s.credentials;
  assert.deepEqual(
    [anthropic.host, anthropic.header, anthropic.secret, anthropic.guestEnv],
    ["api.anthropic.com", "x-api-key", { kind: "env", name: "ANTHROPIC_API_KEY" }, [
      "ANTHROPIC_API_KEY",
    ]],
  );
  assert.equal(example.header, "authorization");
  assert.equal(example.scheme, "Bearer");
  assert.deepEqual(example.secret, {
    kind: "command",
    argv: ["print-token", "--for", "example"],
    ttlMs: 60_000,
  });
});

Deno.test("credentials and a persisted CA are refused in a file the sandbox can write", () => {
  const err = errorOf(`[[credentials]]\npreset = "github"\n`, false);
  assert.equal(err.location.key, "credentials");
  assert.match(err.message, /only in the user configuration/);
  assert.match(errorOf(`[inspect]\nca_file = "/tmp/ca.pem"\n`, false).message, /user config/);
  // Rules, rewrites and hosts are fine in a project file.
  applyConfigText(emptyPolicy(), `[inspect]\nhosts = ["a.test"]\n`, "/p/.agentbox.toml");
});

Deno.test("loadPolicy trusts the user file and not the project file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const userFile = `${dir}/config.toml`;
    await Deno.writeTextFile(userFile, `[[credentials]]\npreset = "openai"\n`);
    const policy = await loadPolicy({ userFile, tlsInspect: true });
    assert.equal(policy.inspect.credentials[0].host, "api.openai.com");
    assert.equal(policy.inspect.enabled, true);
    await Deno.mkdir(`${dir}/proj`);
    await Deno.writeTextFile(
      `${dir}/proj/.agentbox.toml`,
      `[[credentials]]\nhost = "evil.test"\nheader = "x"\nenv = "HOME"\n`,
    );
    await assert.rejects(loadPolicy({ userFile, projectDir: `${dir}/proj` }), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid inspection settings name file, line and key", () => {
  const cases: [string, string, number | undefined, RegExp][] = [
    [`[inspect]\nenabled = "yes"\n`, "inspect.enabled", 2, /true or false/],
    [`[inspect]\nbypass = ["*.com"]\n`, "inspect.bypass", 2, /too broad/],
    [`[inspect]\nrulez = []\n`, "inspect.rulez", 2, /unknown key/],
    [
      `[[inspect.rules]]\nhost = "a.test"\ndeny = ["POST repos"]\n`,
      "inspect.rules[0].deny",
      3,
      /path/,
    ],
    [
      `[[inspect.rules]]\nhost = "a.test"\nallow = ["get /"]\n`,
      "inspect.rules[0].allow",
      3,
      /METHOD/,
    ],
    [
      `[[inspect.rewrites]]\nhost = "*.a.test"\nto = "https://b.test"\n`,
      "inspect.rewrites[0].host",
      2,
      /exact/,
    ],
    [
      `[[inspect.rewrites]]\nhost = "a.test"\nto = "http://b.test"\n`,
      "inspect.rewrites[0].to",
      3,
      /https/,
    ],
    [`[[credentials]]\npreset = "antropic"\n`, "credentials[0].preset", 2, /unknown preset/],
    [
      `[[credentials]]\npreset = "github"\n[[credentials]]\nhost = "a.test"\nheader = "host"\nenv = "T"\n`,
      "credentials[1].header",
      5,
      /cannot carry/,
    ],
    [
      `[[credentials]]\nhost = "a.test"\nheader = "x"\nenv = "T"\nfile = "/f"\n`,
      "credentials[0].file",
      5,
      /only one/,
    ],
    [
      `[[credentials]]\nhost = "a.test"\nheader = "x"\n`,
      "credentials[0].env",
      undefined,
      /required/,
    ],
    [`[[credentials]]\npreset = "openai"\nttl = 5\n`, "credentials[0].ttl", 3, /file and command/],
    [
      `[[credentials]]\nhost = "10.0.0.1"\nheader = "x"\nenv = "T"\n`,
      "credentials[0].host",
      2,
      /exact host/,
    ],
  ];
  for (const [toml, key, line, detail] of cases) {
    const err = errorOf(toml);
    assert.equal(err.location.key, key, toml);
    assert.equal(err.location.line, line, toml);
    assert.match(err.message, detail, toml);
  }
});

Deno.test("method/path rules: deny first, then the allow list; deny resists case and encoding tricks", () => {
  const policy = emptyPolicy();
  applyConfigText(policy, FULL, "c.toml", { trusted: true });
  const gh = canonicalHost("api.github.com");
  const check = (method: string, raw: string) =>
    checkRequest(policy.inspect.rules, gh, method, normalizePath(raw)).allowed;
  assert.equal(check("GET", "/repos/a/b/issues"), true);
  assert.equal(check("POST", "/graphql"), true);
  assert.equal(check("POST", "/repos/a/issues"), false);
  assert.equal(check("POST", "/Repos/a/Issues"), false, "case");
  assert.equal(check("POST", "//repos/a//issues"), false, "slash runs");
  assert.equal(check("POST", "/repos/a/%69ssues"), false, "encoded unreserved");
  assert.equal(check("POST", "/x/../repos/a/issues"), false, "dot segments");
  assert.equal(check("POST", "/repos%2Fa%2Fissues"), false, "encoded slash");
  assert.equal(check("POST", "/repos%5Ca%5Cissues"), false, "encoded backslash");
  assert.equal(check("POST", "/repos%252Fa%252Fissues"), false, "encoded twice");
  assert.equal(check("POST", "/x/..%2Frepos/a/issues"), false, "dot segments once decoded");
  assert.equal(check("DELETE", "/repos/a"), false, "not in the allow list");
  assert.match(
    checkRequest(policy.inspect.rules, gh, "POST", "/repos/a/issues").rule!,
    /deny "POST \/repos\/\*\/issues"/,
  );
  // Other hosts are not governed by these rules.
  assert.equal(
    checkRequest(policy.inspect.rules, canonicalHost("x.test"), "DELETE", "/").allowed,
    true,
  );
});

Deno.test("which hosts are inspected: rules and credentials beat the bypass list, IPs never", () => {
  const policy = emptyPolicy();
  applyConfigText(
    policy,
    `[inspect]\nbypass = ["*.github.com"]\nhosts = ["a.test"]\n[[inspect.rules]]\nhost = "api.github.com"\ndeny = ["DELETE"]\n`,
    "c.toml",
  );
  const s = policy.inspect;
  assert.equal(shouldInspect(s, canonicalHost("a.test")), true);
  assert.equal(shouldInspect(s, canonicalHost("b.test")), false, "not enabled globally");
  assert.equal(shouldInspect({ ...s, enabled: true }, canonicalHost("b.test")), true);
  assert.equal(shouldInspect({ ...s, enabled: true }, canonicalHost("x.github.com")), false);
  assert.equal(needsInspection(s, canonicalHost("api.github.com")), true);
  assert.equal(shouldInspect({ ...s, enabled: true }, canonicalHost("api.github.com")), true);
  assert.equal(shouldInspect({ ...s, enabled: true }, canonicalHost("203.0.113.7")), false);
});
