import assert from "node:assert/strict";
import { selfSignedCert } from "../proxy/testing/mod.ts";
import {
  GUEST_HOST_CA_FILE,
  GUEST_TRUST_STORE,
  guestTrustEnv,
  guestTrustFiles,
} from "./guest_trust.ts";
import { hostTrust } from "./host_trust.ts";
import { TlsError } from "./tls_error.ts";

const der = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");

Deno.test("hostTrust: the extras are the bundle's CAs the distribution's public set lacks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [publicRoot, corporate, other] = await Promise.all(
      ["public.test", "corp.test", "other.test"].map((n) => selfSignedCert([n])),
    );
    await Deno.mkdir(`${dir}/mozilla`);
    await Deno.writeTextFile(`${dir}/mozilla/Public_Root.crt`, publicRoot.cert);
    // A bundle as update-ca-certificates writes it: public roots, then the local additions (one
    // of them twice, with CRLF line ends).
    const bundle = `${dir}/bundle.pem`;
    await Deno.writeTextFile(
      bundle,
      `${publicRoot.cert}\n${corporate.cert}\n${
        other.cert.replaceAll("\n", "\r\n")
      }\n${corporate.cert}`,
    );
    const env = (name: string) => (name === "SSL_CERT_FILE" ? bundle : undefined);
    const trust = await hostTrust({ env, distributionRoots: `${dir}/mozilla` });
    assert.equal(trust.bundlePath, bundle);
    assert.deepEqual(trust.extras.map(der), [der(corporate.cert), der(other.cert)]);
    // Without the distribution's set every CA counts.
    const all = await hostTrust({ env, distributionRoots: `${dir}/none` });
    assert.equal(all.extras.length, 3);
    // Without SSL_CERT_FILE the first distribution bundle that exists is read.
    const found = await hostTrust({
      env: () => undefined,
      bundles: [`${dir}/missing.pem`, bundle],
      distributionRoots: `${dir}/mozilla`,
    });
    assert.equal(found.bundlePath, bundle);
    assert.deepEqual(
      await hostTrust({ env: () => undefined, bundles: [`${dir}/missing.pem`] }),
      { bundle: "", extras: [] },
    );
    // An SSL_CERT_FILE that cannot be read is an error, not silently no CA.
    await assert.rejects(
      hostTrust({ env: () => `${dir}/missing.pem` }),
      (e) => e instanceof TlsError && e.code === "host_trust",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("guest trust: host CAs go to the local CA directory, the bundle and the variables", async () => {
  const [root, corp] = await Promise.all(["r.test", "c.test"].map((n) => selfSignedCert([n])));
  const files = guestTrustFiles({ roots: root.cert, hostCas: [corp.cert] });
  const byPath = new Map(files.map((f) => [f.path, f.contents]));
  assert.equal(der(byPath.get(GUEST_HOST_CA_FILE)!), der(corp.cert));
  assert.equal(der(byPath.get(GUEST_TRUST_STORE)!), der(root.cert) + der(corp.cert));
  assert.ok(!byPath.has("/usr/local/share/ca-certificates/agentbox-session.crt"));
  const env = guestTrustEnv({ roots: root.cert, hostCas: [corp.cert] });
  assert.equal(env.SSL_CERT_FILE, "/etc/agentbox/ca-bundle.pem");
  assert.equal(der(byPath.get(env.NODE_EXTRA_CA_CERTS)!), der(corp.cert));
  // Nothing to add: no variable pointing at an empty file (Node warns about one).
  assert.equal(guestTrustEnv({ roots: root.cert }).NODE_EXTRA_CA_CERTS, undefined);
});
