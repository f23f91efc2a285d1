import assert from "node:assert/strict";
import type { CredentialSpec } from "../config/inspect_settings.ts";
import { normalizePath, parseRoutePattern } from "../config/route_pattern.ts";
import { CredentialError } from "./credential_error.ts";
import { CredentialStore } from "./credential_store.ts";

function spec(
  secret: CredentialSpec["secret"],
  extra: Partial<CredentialSpec> = {},
): CredentialSpec {
  return {
    host: "api.test",
    port: 443,
    header: "authorization",
    scheme: "Bearer",
    secret,
    guestEnv: ["API_TOKEN"],
    source: "test",
    ...extra,
  };
}

Deno.test("a command secret is cached for its ttl, then the command runs again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const counter = `${dir}/runs`;
    // Prints token-<number of runs>; no secret on its command line.
    const argv = ["sh", "-c", `echo x >> ${counter}; echo "token-$(wc -l < ${counter})"`];
    let now = 0;
    const store = new CredentialStore([spec({ kind: "command", argv, ttlMs: 1000 })], {
      now: () => now,
    });
    const value = async () => (await store.headersFor("api.test", 443, "/"))[0].value;
    assert.equal(await value(), "Bearer token-1");
    now = 999;
    assert.equal(await value(), "Bearer token-1", "cached within the ttl");
    now = 1000;
    assert.equal(await value(), "Bearer token-2", "re-run once expired");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("secrets are bound to host, port and path; the guest gets a placeholder", async () => {
  const store = new CredentialStore(
    [spec({ kind: "env", name: "T" }, { path: parseRoutePattern("* /v1/**") })],
    { env: (n) => (n === "T" ? "s3cret" : undefined) },
  );
  const placeholder = store.guestEnv().API_TOKEN;
  assert.match(placeholder, /^agentbox-placeholder-[0-9a-f]{32}$/);
  assert.equal((await store.headersFor("api.test", 443, "/v1/x"))[0].secret, "s3cret");
  assert.deepEqual(await store.headersFor("api.test", 443, "/v2/x"), []);
  assert.deepEqual(await store.headersFor("api.test", 8443, "/v1/x"), []);
  assert.deepEqual(await store.headersFor("other.test", 443, "/v1/x"), []);
  // Under /v1/ as sent, elsewhere to an upstream that decodes `%2F` (or `%5C`, or `%252F`).
  for (const path of ["/v1/..%2Fadmin", "/v1/..%5cadmin", "/v1/..%252Fadmin", "/v1/..;/admin"]) {
    assert.deepEqual(await store.headersFor("api.test", 443, normalizePath(path)), [], path);
  }
  assert.equal((await store.headersFor("api.test", 443, "/v1/a%2Fb"))[0].secret, "s3cret");
  assert.equal((await store.headersFor("api.test", 443, "/v1/a;v=2/b"))[0].secret, "s3cret");
});

Deno.test("a failing or unusable source is a CredentialError that never quotes the output", async () => {
  const cases: [CredentialSpec["secret"], RegExp][] = [
    [{ kind: "env", name: "UNSET_X" }, /environment variable UNSET_X: not set/],
    [{ kind: "file", path: "/nonexistent/agentbox", ttlMs: 1 }, /no such file/],
    [
      { kind: "command", argv: ["sh", "-c", "echo leaked-output; exit 3"], ttlMs: 1 },
      /exit code 3/,
    ],
    [{ kind: "command", argv: ["sh", "-c", "printf 'a\\nb'"], ttlMs: 1 }, /not printable ASCII/],
  ];
  for (const [secret, message] of cases) {
    const store = new CredentialStore([spec(secret)], { env: () => undefined });
    const err = await store.headersFor("api.test", 443, "/").catch((e) => e);
    assert.ok(err instanceof CredentialError, String(err));
    assert.match(err.message, message);
    assert.ok(!err.message.includes("leaked-output"));
  }
});
