import assert from "node:assert/strict";
import { canonicalHost } from "../net/canonical_host.ts";
import { loadOrCreateCaFile } from "./ca_file.ts";
import { LeafCache } from "./leaf_cache.ts";
import { SessionCa } from "./session_ca.ts";
import { TlsError } from "./tls_error.ts";

/** Serve one TLS echo with `leaf` and connect to it trusting `ca` with `sni`. */
async function handshake(
  leaf: { certPem: string; keyPem: string },
  ca: string,
  sni: string,
): Promise<string> {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.certPem,
    key: leaf.keyPem,
  });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      if (n) await conn.write(buf.subarray(0, n));
    } catch { /* client refused */ }
    conn.close();
  })();
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  let result: string;
  try {
    const tls = await Deno.startTls(tcp, { hostname: sni, caCerts: [ca] });
    await tls.write(new TextEncoder().encode("ok"));
    const buf = new Uint8Array(16);
    const n = await tls.read(buf);
    result = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    tls.close();
  } catch (err) {
    result = `error: ${(err as Error).message}`;
    try {
      tcp.close();
    } catch { /* closed */ }
  }
  await served;
  listener.close();
  return result;
}

Deno.test("a minted leaf is trusted by a client that trusts the session CA", async () => {
  const ca = await SessionCa.create({ permittedDns: ["allowed.test"] });
  const leaf = await ca.mintLeaf(canonicalHost("api.allowed.test"));
  assert.equal(await handshake(leaf, ca.certPem, "api.allowed.test"), "ok");
  // Control: the same leaf, presented for another name, is refused by the client.
  assert.match(await handshake(leaf, ca.certPem, "other.allowed.test"), /^error/);
});

Deno.test("the CA is ECDSA P-256, short-lived, a critical name-constrained CA", async () => {
  const { X509Certificate } = await import("@peculiar/x509");
  const ca = await SessionCa.create({ permittedDns: ["github.com", "allowed.test"] });
  const cert = new X509Certificate(ca.certPem);
  assert.equal((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve, "P-256");
  const hours = (cert.notAfter.getTime() - Date.now()) / 3_600_000;
  assert.ok(hours > 23 && hours <= 24, `validity ${hours} h`);
  const nc = cert.getExtension("2.5.29.30");
  assert.ok(nc?.critical, "name constraints present and critical");
  assert.deepEqual(ca.permittedDns, ["allowed.test", "github.com"]);
});

Deno.test("clients enforce the name constraints: a leaf outside them is refused", async () => {
  const ca = await SessionCa.create({ permittedDns: ["allowed.test"] });
  // The CA itself refuses to mint it…
  await assert.rejects(
    ca.mintLeaf(canonicalHost("evil.test")),
    (e) => e instanceof TlsError && e.code === "not_mintable",
  );
  // …and were it forced to, a client would refuse the chain (evidence on the client side).
  Object.defineProperty(ca, "covers", { value: () => true });
  const forced = await ca.mintLeaf(canonicalHost("evil.test"));
  assert.match(await handshake(forced, ca.certPem, "evil.test"), /NameConstraint|error/);
});

Deno.test("no leaf for an IP literal, whatever the constraints", async () => {
  const ca = await SessionCa.create();
  for (const ip of ["203.0.113.7", "2001:db8::1"]) {
    await assert.rejects(ca.mintLeaf(canonicalHost(ip)), TlsError);
  }
  assert.ok(ca.covers(canonicalHost("any.example")));
});

Deno.test("a session CA's private key cannot be exported", async () => {
  const ca = await SessionCa.create();
  assert.equal(ca.extractable, false);
  await assert.rejects(ca.exportKeyPem());
});

Deno.test("the leaf cache mints once per host and shares a pending minting", async () => {
  const leaves = new LeafCache(await SessionCa.create(), 2);
  const [a, b] = await Promise.all([
    leaves.get(canonicalHost("a.test")),
    leaves.get(canonicalHost("a.test")),
  ]);
  assert.equal(a, b);
  assert.equal(leaves.minted, 1);
  await leaves.get(canonicalHost("b.test"));
  await leaves.get(canonicalHost("c.test"));
  assert.deepEqual(leaves.hosts(), ["b.test", "c.test"], "bounded, least recently used evicted");
  await assert.rejects(leaves.get(canonicalHost("10.0.0.1")));
  assert.ok(!leaves.hosts().includes("10.0.0.1"), "a failed minting is not cached");
});

Deno.test("a persisted CA is written 0600, reloaded, and refused when others can read it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/ca.pem`;
    const created = await loadOrCreateCaFile(path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const loaded = await loadOrCreateCaFile(path);
    assert.equal(loaded.certPem, created.certPem);
    const leaf = await loaded.mintLeaf(canonicalHost("x.test"));
    assert.equal(await handshake(leaf, created.certPem, "x.test"), "ok");
    await Deno.chmod(path, 0o644);
    await assert.rejects(
      loadOrCreateCaFile(path),
      (e) => e instanceof TlsError && e.code === "ca_file",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
