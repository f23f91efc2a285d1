import assert from "node:assert/strict";
import type { DatabaseSync } from "node:sqlite";
import { applyConfigText } from "../config/load_config.ts";
import { emptyPolicy, type Policy } from "../config/policy.ts";
import { openDatabase } from "../store/database.ts";
import { listRequests, type RequestRecord } from "../store/requests.ts";
import { createSession } from "../store/sessions.ts";
import { createTlsInspection, type TlsInspection } from "../tls/tls_inspection.ts";
import { type ProxyServer, startProxy } from "./proxy_server.ts";
import { storeRecorder } from "./recorder.ts";
import { mappedDialer, readUntilText, selfSignedCert, tableResolver } from "./testing/mod.ts";

// Every name resolves to one documentation address, mapped onto the loopback HTTPS upstream
// below: the production resolve-vet-dial path runs, and nothing leaves the machine.
const ADDR = "203.0.113.50";
const SECRET = "sk-test-SECRET-8d1f0c2b7a";
const NAMES = ["api.gh.test", "ai.test", "other.test", "old.test", "gw.test", "denied.test"];
const enc = new TextEncoder();

const CONFIG = `
[network]
allow = ["api.gh.test", "ai.test", "other.test", "old.test", "gw.test", "plain.test"]
deny = ["denied.test"]

[inspect]
enabled = true
bypass = ["plain.test"]

[[inspect.rules]]
host = "api.gh.test"
allow = ["GET", "POST /graphql"]
deny = ["POST /repos/*/issues"]

[[inspect.rewrites]]
host = "old.test"
to = "https://gw.test/v1/anthropic"

[[credentials]]
host = "ai.test"
header = "x-api-key"
env = "TEST_AI_KEY"
`;

interface Seen {
  method: string;
  url: string;
  host: string;
  apiKey: string | null;
}

interface Bench {
  proxy: ProxyServer;
  inspection: TlsInspection;
  db: DatabaseSync;
  seen: Seen[];
  warnings: string[];
  rows(): RequestRecord[];
  connect(): Promise<Deno.TcpConn>;
  close(): Promise<void>;
}

async function startBench(
  options: { config?: string; trustUpstream?: boolean; inspect?: boolean; dbPath?: string } = {},
): Promise<Bench> {
  const upstreamCert = await selfSignedCert(NAMES);
  const seen: Seen[] = [];
  const upstream = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: upstreamCert.cert,
    key: upstreamCert.key,
  }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      method: req.method,
      url: `${url.pathname}${url.search}`,
      host: req.headers.get("host") ?? "",
      apiKey: req.headers.get("x-api-key"),
    });
    const body = await req.text();
    const headers: Record<string, string> = {};
    // A careless upstream that reflects the key it got.
    if (url.pathname === "/reflect") headers["x-echo-key"] = `got ${req.headers.get("x-api-key")}`;
    return new Response(`${req.method} ${url.pathname} body=${body.length}`, { headers });
  });
  const policy: Policy = emptyPolicy();
  applyConfigText(policy, options.config ?? CONFIG, "config.toml", { trusted: true });
  const env = (name: string) => (name === "TEST_AI_KEY" ? SECRET : undefined);
  const inspection = await createTlsInspection(policy, {
    env,
    testUpstreamCaCerts: options.trustUpstream === false ? [] : [upstreamCert.cert],
  });
  const db = openDatabase(options.dbPath ?? ":memory:");
  const session = createSession(db).id;
  const warnings: string[] = [];
  const table = Object.fromEntries(NAMES.map((n) => [n, [ADDR]]));
  table["plain.test"] = [ADDR];
  const proxy = startProxy({
    policy,
    recorder: storeRecorder(db, session),
    resolver: tableResolver(table).resolver,
    dialer: mappedDialer({ [`${ADDR}:443`]: upstream.addr.port }).dialer,
    inspect: options.inspect === false ? undefined : inspection,
    onWarning: (err) => warnings.push(String(err) + String((err as Error)?.cause ?? "")),
  });
  return {
    proxy,
    inspection,
    db,
    seen,
    warnings,
    rows: () => listRequests(db, { session }),
    connect: () => Deno.connect({ hostname: "127.0.0.1", port: proxy.addr.port }),
    async close() {
      await proxy.close();
      await upstream.shutdown();
      db.close();
    },
  };
}

/** CONNECT, then TLS trusting only the session CA: returns the TLS connection or the status. */
async function tunnel(b: Bench, host: string): Promise<Deno.TlsConn | string> {
  const conn = await b.connect();
  await conn.write(enc.encode(`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`));
  const head = await readUntilText(conn, (t) => t.includes("\r\n\r\n"));
  if (!head.startsWith("HTTP/1.1 200")) {
    conn.close();
    return head.split("\r\n")[0];
  }
  try {
    const tls = await Deno.startTls(conn, { hostname: host, caCerts: [b.inspection.ca.certPem] });
    await tls.handshake();
    return tls;
  } catch (err) {
    return `tls error: ${(err as Error).message}`;
  }
}

/** One keep-alive request; returns the whole response (head and body) as text. */
async function request(
  tls: Deno.TlsConn,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = "",
): Promise<string> {
  const lines = [`${method} ${path} HTTP/1.1`, `content-length: ${body.length}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  await tls.write(enc.encode(`${lines.join("\r\n")}\r\n\r\n${body}`));
  const complete = (t: string) => {
    const end = t.indexOf("\r\n\r\n");
    if (end < 0) return false;
    const head = t.slice(0, end);
    if (/transfer-encoding: *chunked/i.test(head)) return t.endsWith("\r\n0\r\n\r\n");
    const length = Number(/content-length: *([0-9]+)/i.exec(head)?.[1] ?? 0);
    return t.length - end - 4 >= length;
  };
  const text = await readUntilText(tls, complete);
  return text;
}

Deno.test("inspected HTTPS: decrypted requests go through the app, upstream verified, full URLs recorded", async () => {
  const b = await startBench();
  try {
    const tls = await tunnel(b, "api.gh.test");
    assert.ok(typeof tls !== "string", String(tls));
    const first = await request(tls, "GET", "/repos/a/b?per_page=5", { host: "api.gh.test" });
    assert.match(first, /^HTTP\/1\.1 200/);
    assert.match(first, /GET \/repos\/a\/b body=0/);
    // Keep-alive: a second request on the same decrypted connection.
    const second = await request(tls, "POST", "/graphql", { host: "api.gh.test" }, "{}");
    assert.match(second, /POST \/graphql body=2/);
    tls.close();
    assert.deepEqual(b.seen.map((s) => [s.method, s.url, s.host]), [
      ["GET", "/repos/a/b?per_page=5", "api.gh.test"],
      ["POST", "/graphql", "api.gh.test"],
    ]);
    await waitFor(() => b.rows().length === 3 && b.rows().every((r) => r.status !== undefined));
    const [connect, get, post] = b.rows();
    assert.equal(connect.method, "CONNECT");
    assert.match(connect.rule, /; inspected$/);
    assert.deepEqual(
      [get.method, get.scheme, get.host, get.port, get.path, get.status],
      ["GET", "https", "api.gh.test", 443, "/repos/a/b?per_page=5", 200],
    );
    assert.match(get.rule, /inspect\.rules allow "GET"/);
    assert.equal(post.path, "/graphql");
    assert.deepEqual(b.inspection.leaves.hosts(), ["api.gh.test"]);
  } finally {
    await b.close();
  }
});

Deno.test("method/path rules refuse a decrypted request before it reaches the upstream", async () => {
  const b = await startBench();
  try {
    const tls = await tunnel(b, "api.gh.test");
    assert.ok(typeof tls !== "string");
    const refused = await request(tls, "POST", "/repos/a/issues", { host: "api.gh.test" }, "x");
    assert.match(refused, /^HTTP\/1\.1 403/);
    assert.match(refused, /x-agentbox-refusal: policy_denied/);
    assert.match(refused, /deny "POST \/repos\/\*\/issues"/);
    tls.close();
    const tls2 = await tunnel(b, "api.gh.test");
    assert.ok(typeof tls2 !== "string");
    const tricky = await request(tls2, "POST", "//Repos/a/%69ssues", { host: "api.gh.test" });
    assert.match(tricky, /^HTTP\/1\.1 403/);
    tls2.close();
    const tls3 = await tunnel(b, "api.gh.test");
    assert.ok(typeof tls3 !== "string");
    assert.match(
      await request(tls3, "DELETE", "/repos/a", { host: "api.gh.test" }),
      /^HTTP\/1\.1 403/,
    );
    // Positive control on the same host.
    assert.match(
      await request(tls3, "GET", "/repos/a", { host: "api.gh.test" }),
      /^HTTP\/1\.1 200/,
    );
    tls3.close();
    assert.deepEqual(b.seen.map((s) => `${s.method} ${s.url}`), ["GET /repos/a"]);
    const denied = b.rows().filter((r) => r.decision === "deny");
    assert.deepEqual(denied.map((r) => r.path), ["/repos/a/issues", "/Repos/a/issues", "/repos/a"]);
  } finally {
    await b.close();
  }
});

Deno.test("a decrypted request whose Host differs from the pinned name is refused", async () => {
  const b = await startBench();
  try {
    const tls = await tunnel(b, "api.gh.test");
    assert.ok(typeof tls !== "string");
    const res = await request(tls, "GET", "/", { host: "other.test" });
    assert.match(res, /^HTTP\/1\.1 403/);
    assert.match(res, /x-agentbox-refusal: name_mismatch/);
    const tls2 = await tunnel(b, "api.gh.test");
    assert.ok(typeof tls2 !== "string");
    assert.match(await request(tls2, "GET", "/", {}), /name_mismatch/, "no Host at all");
    tls2.close();
    assert.equal(b.seen.length, 0);
  } finally {
    await b.close();
  }
});

Deno.test("no leaf is minted for a host the policy refuses, nor for a fronted SNI", async () => {
  const b = await startBench();
  try {
    assert.match(String(await tunnel(b, "denied.test")), /^HTTP\/1\.1 403/);
    // CONNECT allowed host, SNI of the denied one.
    const conn = await b.connect();
    await conn.write(enc.encode(`CONNECT other.test:443 HTTP/1.1\r\nHost: other.test\r\n\r\n`));
    await readUntilText(conn, (t) => t.includes("\r\n\r\n"));
    await assert.rejects(async () => {
      const tls = await Deno.startTls(conn, {
        hostname: "denied.test",
        caCerts: [b.inspection.ca.certPem],
      });
      await tls.handshake();
    });
    assert.equal(b.inspection.leaves.minted, 0);
    assert.deepEqual(b.inspection.leaves.hosts(), []);
    // Positive control: an allowed host gets its leaf.
    const tls = await tunnel(b, "other.test");
    assert.ok(typeof tls !== "string");
    tls.close();
    assert.deepEqual(b.inspection.leaves.hosts(), ["other.test"]);
  } finally {
    await b.close();
  }
});

Deno.test("credentials: injected for the bound host only; the secret reaches nothing the guest reads", async () => {
  const b = await startBench();
  try {
    const placeholder = b.inspection.credentials.guestEnv().TEST_AI_KEY;
    assert.match(placeholder, /^agentbox-placeholder-[0-9a-f]{32}$/);
    const guestSaw: string[] = [];
    const ai = await tunnel(b, "ai.test");
    assert.ok(typeof ai !== "string");
    guestSaw.push(
      await request(
        ai,
        "POST",
        "/v1/messages",
        { host: "ai.test", "x-api-key": placeholder },
        "{}",
      ),
    );
    guestSaw.push(
      await request(ai, "GET", "/reflect", { host: "ai.test", "x-api-key": placeholder }),
    );
    ai.close();
    // The guest copies the placeholder to another host: it arrives as the placeholder.
    const other = await tunnel(b, "other.test");
    assert.ok(typeof other !== "string");
    guestSaw.push(
      await request(other, "GET", "/steal", { host: "other.test", "x-api-key": placeholder }),
    );
    other.close();
    assert.deepEqual(b.seen.map((s) => [s.host, s.apiKey]), [
      ["ai.test", SECRET],
      ["ai.test", SECRET],
      ["other.test", placeholder],
    ]);
    assert.match(guestSaw[1], /x-echo-key: \[redacted by agentbox\]/);
    await waitFor(() => b.rows().every((r) => r.status !== undefined));
    // The log says where a credential was injected (its header, never its value), and only there.
    assert.deepEqual(
      b.rows().filter((r) => r.kind === "request").map((r) => [r.host, r.path, r.credential]),
      [
        ["ai.test", "/v1/messages", "x-api-key"],
        ["ai.test", "/reflect", "x-api-key"],
        ["other.test", "/steal", null],
      ],
    );
    const everything = [...guestSaw, JSON.stringify(b.rows()), ...b.warnings].join("\n");
    assert.ok(!everything.includes(SECRET), "the secret is in nothing the guest or the log sees");
  } finally {
    await b.close();
  }
});

Deno.test("an unavailable credential fails the request without saying more to the guest", async () => {
  const config = CONFIG.replace(`env = "TEST_AI_KEY"`, `env = "UNSET_VARIABLE_X"`);
  const b = await startBench({ config });
  try {
    const ai = await tunnel(b, "ai.test");
    assert.ok(typeof ai !== "string");
    const res = await request(ai, "GET", "/", { host: "ai.test" });
    ai.close();
    assert.match(res, /^HTTP\/1\.1 503/);
    assert.match(res, /credential for ai\.test is unavailable on the host/);
    assert.ok(!res.includes("UNSET_VARIABLE_X"), "which source failed is for the host's user");
    assert.equal(b.seen.length, 0);
    assert.ok(b.warnings.some((w) => w.includes("UNSET_VARIABLE_X")));
  } finally {
    await b.close();
  }
});

Deno.test("host rewrite: the request goes to the rewrite target, recorded under the asked host", async () => {
  const b = await startBench();
  try {
    const tls = await tunnel(b, "old.test");
    assert.ok(typeof tls !== "string");
    assert.match(
      await request(tls, "POST", "/v1/messages", { host: "old.test" }, "{}"),
      /^HTTP\/1\.1 200/,
    );
    tls.close();
    assert.deepEqual(b.seen.map((s) => [s.host, s.url]), [[
      "gw.test",
      "/v1/anthropic/v1/messages",
    ]]);
    const row = b.rows().find((r) => r.method === "POST")!;
    assert.equal(row.host, "old.test");
    assert.match(row.rule, /rewritten to https:\/\/gw\.test/);
  } finally {
    await b.close();
  }
});

Deno.test("an upstream whose certificate does not verify is refused (502), bypassed hosts tunnel", async () => {
  const b = await startBench({ trustUpstream: false });
  try {
    const tls = await tunnel(b, "other.test");
    assert.ok(typeof tls !== "string");
    const res = await request(tls, "GET", "/", { host: "other.test" });
    tls.close();
    assert.match(res, /^HTTP\/1\.1 502/);
    assert.equal(b.seen.length, 0);
    // plain.test is bypassed: the client's own TLS reaches the upstream (whose cert the client
    // does not trust either, so its handshake fails — but against the upstream's certificate).
    const conn = await b.connect();
    await conn.write(enc.encode(`CONNECT plain.test:443 HTTP/1.1\r\nHost: plain.test\r\n\r\n`));
    await readUntilText(conn, (t) => t.includes("\r\n\r\n"));
    await assert.rejects(async () => {
      const t = await Deno.startTls(conn, {
        hostname: "plain.test",
        caCerts: [b.inspection.ca.certPem],
      });
      await t.handshake();
    });
    assert.ok(!b.inspection.leaves.hosts().includes("plain.test"));
    await waitFor(() => b.rows().some((r) => r.host === "plain.test" && r.status !== undefined));
    assert.doesNotMatch(b.rows().find((r) => r.host === "plain.test")!.rule, /inspected/);
  } finally {
    await b.close();
  }
});

Deno.test("without inspection, a host whose rules need it is refused rather than tunnelled unchecked", async () => {
  const b = await startBench({ inspect: false });
  try {
    assert.ok(typeof (await tunnel(b, "api.gh.test")) === "string");
    await waitFor(() => b.rows().length === 1);
    assert.match(b.rows()[0].rule, /TLS inspection is off/);
    assert.equal(b.rows()[0].decision, "deny");
  } finally {
    await b.close();
  }
});

Deno.test("after a session no file holds a private key; the CA key cannot even be exported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const b = await startBench({ dbPath: `${dir}/agentbox.db` });
    try {
      const tls = await tunnel(b, "other.test");
      assert.ok(typeof tls !== "string");
      assert.match(await request(tls, "GET", "/", { host: "other.test" }), /^HTTP\/1\.1 200/);
      tls.close();
      assert.equal(b.inspection.ca.extractable, false);
      await assert.rejects(b.inspection.ca.exportKeyPem());
    } finally {
      await b.close();
    }
    const files = [];
    for await (const e of Deno.readDir(dir)) files.push(e.name);
    assert.ok(files.includes("agentbox.db"), "positive control: the session wrote its database");
    for (const name of files) {
      const bytes = await Deno.readFile(`${dir}/${name}`);
      const text = new TextDecoder("latin1").decode(bytes);
      assert.ok(!text.includes("PRIVATE KEY"), name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// An upstream that decodes `%2F` before routing (many do) reads `/repos/a%2F..%2F..%2Fadmin/x`
// as `/admin/x`: the rules and a credential's path must hold for that reading too.
const SEPARATOR_CONFIG = `
[network]
allow = ["api.gh.test", "ai.test"]

[inspect]
enabled = true

[[inspect.rules]]
host = "api.gh.test"
allow = ["GET /repos/*/issues", "GET /projects/**"]

[[credentials]]
host = "ai.test"
header = "x-api-key"
env = "TEST_AI_KEY"
path = "/v1/**"
`;

Deno.test("encoded separators: path rules and path-bound credentials hold for the decoded path", async () => {
  const b = await startBench({ config: SEPARATOR_CONFIG });
  try {
    const gh = await tunnel(b, "api.gh.test");
    assert.ok(typeof gh !== "string", String(gh));
    const get = (tls: Deno.TlsConn, host: string, path: string) =>
      request(tls, "GET", path, { host, "x-api-key": "guest-sent" });
    // `*` matches `a%2F..%2F..%2Fadmin` as one segment; decoded it climbs out of /repos.
    assert.match(
      await get(gh, "api.gh.test", "/repos/a%2F..%2F..%2Fadmin/issues"),
      /^HTTP\/1\.1 403/,
    );
    assert.match(
      await get(gh, "api.gh.test", "/repos/a%5C..%5C..%5Cadmin/issues"),
      /^HTTP\/1\.1 403/,
    );
    assert.match(
      await get(gh, "api.gh.test", "/repos/a%252F..%252F..%252Fadmin/issues"),
      /^HTTP\/1\.1 403/,
    );
    // Positive controls: the plain path, and an encoded slash that stays inside a `**` rule
    // (GitLab-style project ids).
    assert.match(await get(gh, "api.gh.test", "/repos/a/issues"), /^HTTP\/1\.1 200/);
    assert.match(
      await get(gh, "api.gh.test", "/projects/group%2Fproject/issues"),
      /^HTTP\/1\.1 200/,
    );
    gh.close();
    const ai = await tunnel(b, "ai.test");
    assert.ok(typeof ai !== "string", String(ai));
    assert.match(await get(ai, "ai.test", "/v1/messages"), /^HTTP\/1\.1 200/);
    // Under /v1/ as sent, outside it once decoded: forwarded, but without the secret.
    assert.match(await get(ai, "ai.test", "/v1/..%2Fadmin"), /^HTTP\/1\.1 200/);
    // A servlet container drops `;…` and reads this as /admin.
    assert.match(await get(ai, "ai.test", "/v1/..;/admin"), /^HTTP\/1\.1 200/);
    ai.close();
    assert.deepEqual(b.seen.map((s) => [s.url, s.apiKey]), [
      ["/repos/a/issues", "guest-sent"],
      ["/projects/group%2Fproject/issues", "guest-sent"],
      ["/v1/messages", SECRET],
      ["/v1/..%2Fadmin", "guest-sent"],
      ["/v1/..;/admin", "guest-sent"],
    ]);
    await waitFor(() => b.rows().filter((r) => r.decision === "deny").length === 3);
    for (const row of b.rows().filter((r) => r.decision === "deny")) {
      assert.match(row.rule, /matches no allow pattern/);
    }
  } finally {
    await b.close();
  }
});

Deno.test("TRACE and TRACK are refused (recorded) on a host with credentials, and the secret never echoes", async () => {
  const b = await startBench();
  try {
    const placeholder = b.inspection.credentials.guestEnv().TEST_AI_KEY;
    const ai = await tunnel(b, "ai.test");
    assert.ok(typeof ai !== "string", String(ai));
    for (const method of ["TRACE", "TRACK"]) {
      const res = await request(ai, method, "/v1/messages", {
        host: "ai.test",
        "x-api-key": placeholder,
      });
      assert.match(res, /^HTTP\/1\.1 403/, method);
      assert.match(res, /x-agentbox-refusal: policy_denied/);
      assert.match(res, new RegExp(`${method} to ai\.test refused: ${method} echoes the request`));
      assert.ok(!res.includes(SECRET));
    }
    // Positive control on the same kept-alive connection: the credential is injected.
    assert.match(await request(ai, "GET", "/v1/messages", { host: "ai.test" }), /^HTTP\/1\.1 200/);
    ai.close();
    assert.deepEqual(b.seen.map((s) => [s.method, s.apiKey]), [["GET", SECRET]]);
    await waitFor(() => b.rows().filter((r) => r.method.startsWith("TR")).length === 2);
    const traced = b.rows().filter((r) => r.method.startsWith("TR"));
    assert.deepEqual(traced.map((r) => [r.method, r.decision, r.rule, r.status]), [
      ["TRACE", "deny", "method TRACE is not proxied", 403],
      ["TRACK", "deny", "method TRACK is not proxied", 403],
    ]);
    assert.deepEqual(b.warnings, [], "a refusal, not a failure reported to the host's user");
  } finally {
    await b.close();
  }
});

async function waitFor(predicate: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
