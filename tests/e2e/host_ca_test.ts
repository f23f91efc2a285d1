/**
 * `--trust-host-ca` (and `tls.trust_host_ca` in the user config) with a real VM: an HTTPS server
 * in a peer network namespace presents a certificate from a local CA made here, which the host
 * trusts (its `SSL_CERT_FILE` bundle holds it, as after `update-ca-certificates`) and the guest
 * image does not. Without the flag curl in the guest fails the certificate check — against the
 * real server, whose certificate it saw; with it, curl gets the server's own answer. No TLS
 * inspection anywhere: the proxy only tunnels.
 */
import assert from "node:assert/strict";
import { namespacePairResolving, REPO } from "../helpers.ts";

const HOST = "corp.test";

let namespaces = { host: "", peer: "" };
const skipReason = await namespacePairResolving([HOST]).then((pair) => {
  namespaces = pair;
  return undefined;
}, (err) => String(err));
if (skipReason) console.log(`skipped: host CA tests: ${skipReason}`);

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A local CA and a leaf for HOST signed by it, with openssl, in `dir`. */
async function localCa(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    ...["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
    ...["-subj", "/CN=agentbox test corporate CA"],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign"],
  ], dir);
  await run("openssl", [
    ...["req", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", `/CN=${HOST}`],
  ], dir);
  await Deno.writeTextFile(`${dir}/leaf.ext`, `subjectAltName=DNS:${HOST}\n`);
  await run("openssl", [
    ...["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext"],
  ], dir);
  return { ca: `${dir}/ca.pem`, cert: `${dir}/leaf.pem`, key: `${dir}/leaf.key` };
}

function inNamespace(
  ns: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Deno.Command {
  return new Deno.Command("ip", {
    args: [
      ...["netns", "exec", ns, Deno.execPath(), "run", "--allow-all", "--quiet"],
      `--config=${REPO}/deno.json`,
      ...args,
    ],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test({
  name: "--trust-host-ca: the guest trusts the host's extra CA; without it the certificate fails",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-host-ca-" });
  const project = `${dir}/project`;
  await Deno.mkdir(project);
  const { ca, cert, key } = await localCa(dir);
  // The host's trust store: its real bundle plus the local CA.
  const bundle = `${dir}/host-bundle.pem`;
  const system = await Deno.readTextFile("/etc/ssl/certs/ca-certificates.crt").catch(() => "");
  await Deno.writeTextFile(bundle, `${system}${await Deno.readTextFile(ca)}`);
  const userConfig = `${dir}/config`;
  await Deno.mkdir(`${userConfig}/agentbox`, { recursive: true });
  const peer = inNamespace(namespaces.peer, [
    ...[`${REPO}/tests/e2e/netns_probe.ts`, "serve", "443", "corp", cert, key],
  ]).spawn();
  try {
    const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value ?? "", /listening/);
    reader.releaseLock();
    const exec = async (extra: string[]) => {
      const out = await inNamespace(namespaces.host, [
        `${REPO}/host/main.ts`,
        ...["exec", "--allow", HOST, "--net-backend", "user", ...extra, "--"],
        ...["sh", "-c", `curl -sS -m 60 https://${HOST}/; echo " exit=$?"`],
      ], { cwd: project, env: { SSL_CERT_FILE: bundle, XDG_CONFIG_HOME: userConfig } })
        .output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    const without = await exec([]);
    assert.equal(without.code, 0, without.stderr);
    // The server was reached and its certificate seen: only the check failed (curl's 60).
    assert.match(without.stdout, /exit=60/, without.stderr);
    const trusted = await exec(["--trust-host-ca"]);
    assert.equal(trusted.stdout, "hello from corp\n exit=0\n", trusted.stderr);
    // The same from the user's config.
    await Deno.writeTextFile(`${userConfig}/agentbox/config.toml`, "[tls]\ntrust_host_ca = true\n");
    const configured = await exec([]);
    assert.equal(configured.stdout, "hello from corp\n exit=0\n", configured.stderr);
  } finally {
    peer.kill("SIGTERM");
    await peer.status;
    await Deno.remove(dir, { recursive: true });
  }
});
