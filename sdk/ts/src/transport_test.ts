import assert from "node:assert/strict";
import process from "node:process";
import { AgentboxError } from "./errors.ts";
import { defaultSocketPath, Transport } from "./transport.ts";

/** A real HTTP(S) server on loopback answering like agentbox serve's error path. */
function errorServer(options: { cert?: string; key?: string } = {}) {
  const seen: { auth: string | null; url: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...options },
    (r) => {
      seen.push({ auth: r.headers.get("authorization"), url: r.url });
      const path = new URL(r.url).pathname;
      if (path === "/v1/missing") {
        return Response.json({
          error: { kind: "not_found", code: "session_unknown", message: "No sandbox x" },
        }, { status: 404 });
      }
      if (path === "/v1/plain") return new Response("bad gateway", { status: 502 });
      return Response.json({ ok: true });
    },
  );
  return { server, seen, port: server.addr.port };
}

Deno.test("TCP: the token goes as a bearer header; error bodies become AgentboxErrors", async () => {
  const { server, seen, port } = errorServer();
  const transport = new Transport({ url: `http://127.0.0.1:${port}`, token: "s3cret" });
  try {
    const reply = await transport.request("GET", "/v1/ok", { query: { label: ["a=1", "b"] } });
    assert.deepEqual(await reply.json(), { ok: true });
    assert.equal(seen[0].auth, "Bearer s3cret");
    assert.equal(new URL(seen[0].url).search, "?label=a%3D1&label=b");
    const missing = await transport.request("GET", "/v1/missing").catch((e) => e);
    assert.ok(missing instanceof AgentboxError);
    assert.deepEqual([missing.kind, missing.code, missing.status, missing.message], [
      "not_found",
      "session_unknown",
      404,
      "No sandbox x",
    ]);
    const plain = await transport.request("GET", "/v1/plain").catch((e) => e);
    assert.deepEqual([plain.kind, plain.code, plain.status], ["internal", "http_502", 502]);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("TLS: a private CA is trusted when given, refused when not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sdk-tls-" });
  try {
    const made = await new Deno.Command("openssl", {
      args: [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        ...["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
        ...["-addext", "subjectAltName=IP:127.0.0.1"],
        ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
    const cert = await Deno.readTextFile(`${dir}/cert.pem`);
    const key = await Deno.readTextFile(`${dir}/key.pem`);
    const { server, port } = errorServer({ cert, key });
    const trusted = new Transport({ url: `https://127.0.0.1:${port}`, token: "t", ca: cert });
    const untrusted = new Transport({ url: `https://127.0.0.1:${port}`, token: "t" });
    try {
      assert.deepEqual(await (await trusted.request("GET", "/v1/ok")).json(), { ok: true });
      const refused = await untrusted.request("GET", "/v1/ok").catch((e) => e);
      assert.ok(refused instanceof AgentboxError);
      assert.equal(refused.code, "tls_failed", refused.message);
    } finally {
      trusted.close();
      untrusted.close();
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("options: a URL needs a token; AGENTBOX_URL/AGENTBOX_TOKEN are the defaults", () => {
  const saved = { url: process.env.AGENTBOX_URL, token: process.env.AGENTBOX_TOKEN };
  try {
    delete process.env.AGENTBOX_TOKEN;
    const noToken = (() => new Transport({ url: "http://127.0.0.1:1" }))();
    assert.fail(`made ${noToken.target} without a token`);
  } catch (error) {
    assert.ok(error instanceof AgentboxError, String(error));
    assert.equal(error.kind, "usage");
    assert.match(error.message, /needs a token/);
  }
  try {
    process.env.AGENTBOX_URL = "http://127.0.0.1:7070";
    process.env.AGENTBOX_TOKEN = "from-env";
    assert.equal(new Transport().target, "http://127.0.0.1:7070");
    assert.match(new Transport({ socketPath: "/x/s.sock" }).target, /^unix:\/x\/s\.sock$/);
    assert.throws(() => new Transport({ url: "ftp://x" }), /http:\/\/ or https:\/\//);
    assert.throws(() => new Transport({ url: "http://x", token: "a b" }), /characters/);
  } finally {
    for (const [name, value] of [["AGENTBOX_URL", saved.url], ["AGENTBOX_TOKEN", saved.token]]) {
      if (value === undefined) delete process.env[name!];
      else process.env[name!] = value;
    }
  }
});

Deno.test("the default socket follows the server's runtime-directory rule", async () => {
  const root = await Deno.makeTempDir({ prefix: "sdk-socket-" });
  const saved = { runtime: process.env.XDG_RUNTIME_DIR, state: process.env.XDG_STATE_HOME };
  try {
    await Deno.mkdir(`${root}/private`, { mode: 0o700 });
    await Deno.chmod(`${root}/private`, 0o700);
    await Deno.mkdir(`${root}/open`);
    await Deno.chmod(`${root}/open`, 0o755);
    process.env.XDG_STATE_HOME = `${root}/state`;
    process.env.XDG_RUNTIME_DIR = `${root}/private`;
    assert.equal(defaultSocketPath(), `${root}/private/agentbox/serve.sock`);
    process.env.XDG_RUNTIME_DIR = `${root}/open`; // others could enter it: passed over
    const uid = process.getuid!();
    const runUser = await Deno.stat(`/run/user/${uid}`).then((s) => s.isDirectory, () => false);
    if (!runUser) assert.equal(defaultSocketPath(), `${root}/state/agentbox/run/serve.sock`);
  } finally {
    for (
      const [name, value] of [["XDG_RUNTIME_DIR", saved.runtime], ["XDG_STATE_HOME", saved.state]]
    ) {
      if (value === undefined) delete process.env[name!];
      else process.env[name!] = value;
    }
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a socket nobody listens on is kind unavailable, code server_unreachable", async () => {
  const transport = new Transport({ socketPath: "/nonexistent/agentbox/serve.sock" });
  const error = await transport.request("GET", "/v1/sandboxes").catch((e) => e);
  assert.ok(error instanceof AgentboxError);
  assert.deepEqual([error.kind, error.code, error.status], [
    "unavailable",
    "server_unreachable",
    0,
  ]);
  assert.match(error.message, /is `agentbox serve` running\?/);
  transport.close();
});
