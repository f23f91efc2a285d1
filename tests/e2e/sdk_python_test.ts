/**
 * The Python SDK (sdk/python/): its unit tests (no server), and its smoke against a real
 * `agentbox serve` with real VMs — over the unix socket, over TCP with TLS and a token, and a
 * terminal over the WebSocket.
 *
 * @module
 */
import assert from "node:assert/strict";
import { VERSION } from "../../host/version.ts";
import { REPO } from "../helpers.ts";
import { startServer } from "./serve_server.ts";
import { decoder } from "./session_sandbox.ts";

const SDK = `${REPO}/sdk/python`;

async function python(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("python3", {
    args,
    cwd: options.cwd ?? SDK,
    env: { PYTHONPATH: `${SDK}/src`, PYTHONDONTWRITEBYTECODE: "1", ...options.env },
    stdin: "null",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("python SDK: unit tests (python3 -m unittest), version is agentbox's", async () => {
  const tests = await python(["-m", "unittest", "discover", "-s", "tests", "-t", "."]);
  assert.equal(tests.code, 0, tests.stderr);
  assert.match(tests.stderr, /^OK/m);
  const pyproject = await Deno.readTextFile(`${SDK}/pyproject.toml`);
  assert.equal(/^version = "([^"]+)"$/m.exec(pyproject)?.[1], VERSION, "pyproject.toml version");
  const version = await python(["-c", "import agentbox; print(agentbox.__version__)"]);
  assert.equal(version.stdout.trim(), VERSION, version.stderr);
});

Deno.test({
  name: "python SDK: the smoke against agentbox serve (socket, TCP+TLS, pty, real VMs)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const certs = await Deno.makeTempDir({ prefix: "agentbox-sdk-py-" });
    try {
      const { cert, key } = await selfSignedCertificate(certs);
      await using server = await startServer({
        tcp: true,
        args: ["--tls-cert", cert, "--tls-key", key],
      });
      const s = server.world;
      assert.match(server.url!, /^https:/);
      const smoke = await python([`${REPO}/tests/e2e/sdk_python_smoke.py`], {
        cwd: s.project,
        env: {
          ...s.env,
          PROJECT: s.project,
          AGENTBOX_TEST_URL: server.url!,
          AGENTBOX_TEST_TOKEN: server.token!,
          AGENTBOX_TEST_CAFILE: cert,
          AGENTBOX_URL: "",
          AGENTBOX_TOKEN: "",
        },
      });
      assert.equal(smoke.code, 0, `${smoke.stderr}\nserver: ${server.log()}`);
      const report = JSON.parse(smoke.stdout.trim().split("\n").at(-1)!);
      assert.equal(report.streamed.bytes, 4 * 1024 * 1024);

      // The apply reached the host for keep.txt, the accepted review for reviewed.txt; the rejected
      // review and the discarded changes did not.
      assert.equal(await Deno.readTextFile(`${s.project}/keep.txt`), "keep\n");
      assert.equal(await Deno.readTextFile(`${s.project}/reviewed.txt`), "reviewed\n");
      assert.equal(await Deno.readTextFile(`${s.project}/hello.txt`), "hello\n");
      await assert.rejects(Deno.stat(`${s.project}/drop.txt`), Deno.errors.NotFound);

      // The context managers deleted both sandboxes: ps shows neither, and no VM is left.
      const all = await s.cli(["ps", "--all", "--json"]);
      assert.equal(all.code, 0, all.stderr);
      for (const id of [report.sandbox, report.restored]) {
        assert.ok(!all.stdout.includes(id), `${id} is still listed`);
      }
      assert.deepEqual(s.qemus(), []);
    } finally {
      await Deno.remove(certs, { recursive: true });
    }
  },
});

/** A self-signed certificate for 127.0.0.1 (its own CA), made with openssl in `dir`. */
async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/serve-cert.pem`;
  const key = `${dir}/serve-key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, decoder.decode(out.stderr));
  return { cert, key };
}
