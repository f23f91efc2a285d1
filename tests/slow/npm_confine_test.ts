/**
 * Slow: npm install scripts of an image build are confined (host/api/npm_install.ts). A package made
 * here, served by a loopback HTTPS "registry" that agentbox's proxy reaches in place of
 * registry.npmjs.org, has an install script that tries a direct TCP connection to a listener on
 * the host, tries to read a canary file under the host's /root (directly and through every
 * process's /proc/PID/root), and asks the proxy for a host that is not the registry. Installed in a VM of the dev image — as `images build dev --agents` does — the
 * install succeeds through the proxy (the registry served the tarball: the allowed path works),
 * the script ran (its report came back into the target), the listener saw no connection, the
 * canary's content is nowhere in the target, and the proxy refused the other host. The positive control runs the same script on the
 * host, unconfined: it connects and reads the canary.
 *
 * Needs root (the dev image is built with debootstrap when it is missing) and QEMU; set
 * AGENTBOX_SKIP_SLOW=1 to skip it locally.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { npmInstallInVm } from "../../host/api/npm_install.ts";
import { findImage } from "../../image/store.ts";
import { mappedDialer, selfSignedCert, tableResolver } from "../../host/proxy/testing/mod.ts";
import { agentbox } from "../helpers.ts";

const skipReason = Deno.env.get("AGENTBOX_SKIP_SLOW") === "1"
  ? "AGENTBOX_SKIP_SLOW=1"
  : Deno.uid() !== 0
  ? "building the dev image needs root (debootstrap)"
  : undefined;
if (skipReason) console.error(`npm_confine_test: skipped: ${skipReason}`);

const PACKAGE = "agentbox-probe";
const REGISTRY = "registry.npmjs.org";
/** Where the test resolver puts the registry (documentation range; dialled to loopback). */
const REGISTRY_ADDRESS = "203.0.113.80";

/**
 * The install script: a direct TCP connection to the host listener at every address a confined
 * guest might try (its own loopback — the host's in a chroot —, slirp's host alias, the proxy's
 * address on another port), and reads of the canary. It reports in `probe-result.json` (next to
 * itself) and on stdout, and always exits 0 so the install completes and the report comes back.
 */
const PROBE = `
const net = require("net");
const fs = require("fs");
const path = require("path");
const target = require("./target.json");
function connect(host) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: target.port });
    const timer = setTimeout(() => { socket.destroy(); resolve("timeout"); }, 5000);
    socket.on("connect", () => {
      clearTimeout(timer);
      socket.end("probe " + host + "\\n");
      resolve("connected");
    });
    socket.on("error", (e) => { clearTimeout(timer); resolve(e.code || String(e)); });
  });
}
function read(file) {
  try { return "read:" + fs.readFileSync(file, "utf8"); } catch (e) { return e.code || String(e); }
}
// Through every process's root: in a chroot, a process outside it (the build's own) is the host.
function readThroughProc() {
  const outcomes = new Set();
  let pids = [];
  try { pids = fs.readdirSync("/proc").filter((name) => /^[0-9]+$/.test(name)); } catch (e) {
    return e.code || String(e);
  }
  for (const pid of pids) {
    const outcome = read("/proc/" + pid + "/root" + target.canary);
    if (outcome.startsWith("read:")) return outcome;
    outcomes.add(outcome);
  }
  return [...outcomes].sort().join(",") + " (" + pids.length + " processes)";
}
// Through the proxy (whose address the script finds in its environment) to a host that is not
// the registry: the status line the proxy answers.
function viaProxy(host) {
  const proxy = process.env.HTTPS_PROXY && new URL(process.env.HTTPS_PROXY);
  if (!proxy) return Promise.resolve("no proxy");
  return new Promise((resolve) => {
    const socket = net.connect({ host: proxy.hostname, port: Number(proxy.port) });
    const timer = setTimeout(() => { socket.destroy(); resolve("timeout"); }, 10000);
    let answer = "";
    socket.on("connect", () => socket.write("CONNECT " + host + ":443 HTTP/1.1\\r\\nHost: " + host + ":443\\r\\n\\r\\n"));
    socket.on("data", (data) => {
      answer += data;
      if (answer.includes("\\r\\n")) { clearTimeout(timer); socket.destroy(); resolve(answer.split("\\r\\n")[0]); }
    });
    socket.on("error", (e) => { clearTimeout(timer); resolve(e.code || String(e)); });
  });
}
(async () => {
  const result = { connect: {}, read: {}, proxy: await viaProxy("outside.test") };
  for (const host of ["127.0.0.1", "10.0.2.2", "10.0.2.100"]) result.connect[host] = await connect(host);
  result.read[target.canary] = read(target.canary);
  result.read["/proc/*/root" + target.canary] = readThroughProc();
  const text = JSON.stringify(result);
  fs.writeFileSync(path.join(__dirname, "probe-result.json"), text);
  console.log("probe " + text);
})();
`;

interface ProbeResult {
  connect: Record<string, string>;
  read: Record<string, string>;
  proxy: string;
}

/** A listener on the host's loopback that counts the connections it accepts. */
function countingListener() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      seen.push(`${(conn.remoteAddr as Deno.NetAddr).hostname}`);
      conn.close();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    seen,
    async close() {
      listener.close();
      await done;
    },
  };
}

/** The package directory and its npm tarball (`package/…`, gzip), with the tarball's integrity. */
async function makePackage(dir: string, target: { port: number; canary: string }) {
  const root = join(dir, "package");
  await Deno.mkdir(root, { recursive: true });
  const manifest = { name: PACKAGE, version: "1.0.0", scripts: { install: "node probe.js" } };
  await Deno.writeTextFile(join(root, "package.json"), JSON.stringify(manifest));
  await Deno.writeTextFile(join(root, "probe.js"), PROBE);
  await Deno.writeTextFile(join(root, "target.json"), JSON.stringify(target));
  const tarball = join(dir, `${PACKAGE}-1.0.0.tgz`);
  const tar = await new Deno.Command("tar", {
    args: ["-czf", tarball, "--owner=0", "--group=0", "-C", dir, "package"],
  }).output();
  assert.ok(tar.success, new TextDecoder().decode(tar.stderr));
  const bytes = await Deno.readFile(tarball);
  const integrity = `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
  return { root, bytes, integrity, manifest };
}

/** A loopback HTTPS server answering as the registry for the one package; logs request paths. */
async function fakeRegistry(pkg: Awaited<ReturnType<typeof makePackage>>) {
  const cert = await selfSignedCert([REGISTRY]);
  const requests: string[] = [];
  const tarballPath = `/${PACKAGE}/-/${PACKAGE}-1.0.0.tgz`;
  const packument = {
    name: PACKAGE,
    "dist-tags": { latest: "1.0.0" },
    versions: {
      "1.0.0": {
        ...pkg.manifest,
        hasInstallScript: true,
        dist: { tarball: `https://${REGISTRY}${tarballPath}`, integrity: pkg.integrity },
      },
    },
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: cert.cert,
    key: cert.key,
    onListen: () => {},
  }, (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    if (path === `/${PACKAGE}`) return Response.json(packument);
    if (path === tarballPath) return new Response(pkg.bytes);
    return new Response("not found", { status: 404 });
  });
  return { cert: cert.cert, port: server.addr.port, requests, close: () => server.shutdown() };
}

/** Every file's text under `dir` (symlinks not followed), joined. */
async function allText(dir: string): Promise<string> {
  let text = "";
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) text += await allText(path);
    else if (entry.isFile) text += await Deno.readTextFile(path);
    else if (entry.isSymlink) text += await Deno.readLink(path);
  }
  return text;
}

/** The dev image (node and npm), built without agent CLIs when there is none. */
async function devImage() {
  const found = await findImage("dev").catch(() => undefined);
  if (found) return found;
  const out = await agentbox(["images", "build", "dev"]).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return await findImage("dev");
}

Deno.test({
  name: "slow: npm install scripts of an image build reach neither the host nor the network",
  ignore: skipReason !== undefined,
  fn: async () => {
    const image = await devImage();
    const base = await Deno.makeTempDir({ prefix: "agentbox-npm-confine-" });
    const secret = `canary-${crypto.randomUUID()}`;
    const canary = `/root/agentbox-npm-canary-${crypto.randomUUID()}`;
    await Deno.writeTextFile(canary, secret, { mode: 0o600 });
    const listener = countingListener();
    const pkg = await makePackage(join(base, "pkg"), { port: listener.port, canary });
    const registry = await fakeRegistry(pkg);
    try {
      // Positive control: the same script, unconfined on the host, connects and reads.
      // (No proxy in its environment: the control must not ask any real proxy for anything.)
      const host = await new Deno.Command("node", {
        args: ["probe.js"],
        cwd: pkg.root,
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      }).output();
      assert.ok(host.success, new TextDecoder().decode(host.stderr));
      const unconfined: ProbeResult = JSON.parse(
        await Deno.readTextFile(join(pkg.root, "probe-result.json")),
      );
      assert.equal(unconfined.connect["127.0.0.1"], "connected");
      assert.equal(unconfined.read[canary], `read:${secret}`);
      assert.ok(listener.seen.length >= 1, "the listener saw the unconfined script");
      await Deno.remove(join(pkg.root, "probe-result.json"));
      const seenBefore = listener.seen.length;

      const target = join(base, "usr-local");
      await Deno.mkdir(join(target, "bin"), { recursive: true });
      await Deno.mkdir(join(target, "lib"), { recursive: true });
      const { resolver } = tableResolver({ [REGISTRY]: [REGISTRY_ADDRESS] });
      const { dialer, dialled } = mappedDialer({ [`${REGISTRY_ADDRESS}:443`]: registry.port });
      const started = performance.now();
      const result = await npmInstallInVm(image, target, [PACKAGE], {
        resolver,
        dialer,
        testUpstreamCaCerts: [registry.cert],
        onWarning: () => {},
      });
      console.error(`confined install took ${((performance.now() - started) / 1000).toFixed(1)} s`);

      // The allowed path works: the package came from the registry through the proxy.
      assert.deepEqual(result.packages, [{ name: PACKAGE, version: "1.0.0", bins: [] }]);
      assert.ok(
        registry.requests.includes(`/${PACKAGE}/-/${PACKAGE}-1.0.0.tgz`),
        "tarball fetched",
      );
      assert.ok(dialled.every((d: string) => d === `${REGISTRY_ADDRESS}:443`), dialled.join(" "));
      // The script ran in the VM: its report came back into the target.
      const report = join(target, "lib/node_modules", PACKAGE, "probe-result.json");
      const confined: ProbeResult = JSON.parse(await Deno.readTextFile(report));
      console.error(`unconfined probe: ${JSON.stringify(unconfined).replaceAll(secret, "SECRET")}`);
      console.error(`confined probe: ${JSON.stringify(confined)}`);
      assert.deepEqual(Object.keys(confined.connect), ["127.0.0.1", "10.0.2.2", "10.0.2.100"]);
      for (const [address, outcome] of Object.entries(confined.connect)) {
        assert.notEqual(outcome, "connected", `the script connected to ${address}`);
      }
      // The proxy is the way out, and it refuses what is not the registry.
      assert.match(confined.proxy, /^HTTP\/1\.1 403 /);
      assert.deepEqual(result.refused, ["outside.test:443"]);
      for (const [file, outcome] of Object.entries(confined.read)) {
        assert.ok(!outcome.startsWith("read:"), `the script read ${file}: ${outcome}`);
      }
      // Evidence on the receiving side: no connection, and the canary is nowhere in the target.
      assert.equal(listener.seen.length, seenBefore, `connections from ${listener.seen}`);
      assert.ok(
        !(await allText(target)).includes(secret),
        "the canary's content reached the image",
      );
      // npm's bin links and files are there as npm made them.
      const installed = join(target, "lib/node_modules", PACKAGE, "package.json");
      assert.equal(JSON.parse(await Deno.readTextFile(installed)).name, PACKAGE);
    } finally {
      await registry.close();
      await listener.close();
      await Deno.remove(canary);
      await Deno.remove(base, { recursive: true });
    }
  },
});
