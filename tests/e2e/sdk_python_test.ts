/**
 * The Python SDK (sdk/python/): its unit tests (no server), and its smoke against a real
 * `agentbox serve` with real VMs — over the unix socket and over TCP with TLS and a token.
 *
 * @module
 */
import assert from "node:assert/strict";
import { REPO } from "../helpers.ts";
import { VERSION } from "../../host/version.ts";
import { agentbox } from "../helpers.ts";
import { decoder, sandbox } from "./session_sandbox.ts";

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
  name: "python SDK: the smoke against agentbox serve (socket, TCP+TLS, real VMs)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using s = await sandbox();
    const { cert, key } = await selfSignedCertificate(s.root);
    const server = agentbox(
      ["serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
      { env: s.env, cwd: s.project },
    );
    const log: string[] = [];
    try {
      const url = await serverUrl(server, log);
      const token = await s.cli(["serve", "token"]);
      assert.equal(token.code, 0, token.stderr);
      const smoke = await python([`${REPO}/tests/e2e/sdk_python_smoke.py`], {
        cwd: s.project,
        env: {
          ...s.env,
          PROJECT: s.project,
          AGENTBOX_TEST_URL: url,
          AGENTBOX_TEST_TOKEN: token.stdout.trim(),
          AGENTBOX_TEST_CAFILE: cert,
          AGENTBOX_URL: "",
          AGENTBOX_TOKEN: "",
        },
      });
      assert.equal(smoke.code, 0, `${smoke.stderr}\nserver: ${log.join("")}`);
      const report = JSON.parse(smoke.stdout.trim().split("\n").at(-1)!);
      assert.equal(report.streamed.bytes, 4 * 1024 * 1024);

      // The apply reached the host for keep.txt only; the discarded changes did not.
      assert.equal(await Deno.readTextFile(`${s.project}/keep.txt`), "keep\n");
      assert.equal(await Deno.readTextFile(`${s.project}/hello.txt`), "hello\n");
      await assert.rejects(Deno.stat(`${s.project}/drop.txt`), Deno.errors.NotFound);

      // The context managers deleted both sandboxes: ps shows neither, and no VM is left.
      const ids = (await s.ps()).map((e) => e.id);
      assert.ok(!ids.includes(report.sandbox) && !ids.includes(report.restored), ids.join(" "));
      const all = await s.cli(["ps", "--all", "--json"]);
      assert.ok(!all.stdout.includes(report.sandbox), "the deleted sandbox is still listed");
      assert.deepEqual(s.qemus(), []);
    } finally {
      try {
        server.kill("SIGTERM");
      } catch {
        // Gone.
      }
      await server.status;
    }
  },
});

/** The server's `https://127.0.0.1:PORT`, read from its stderr (which `log` keeps). */
async function serverUrl(server: Deno.ChildProcess, log: string[]): Promise<string> {
  const reader = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => server.kill("SIGKILL"), 60_000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`agentbox serve ended: ${log.join("")}`);
      log.push(value);
      const match = /serving on (https:\/\/127\.0\.0\.1:\d+)/.exec(log.join(""));
      if (match) {
        // Keep draining stderr so the server never blocks on a full pipe.
        (async () => {
          for (;;) {
            const next = await reader.read().catch(() => ({ done: true, value: "" }));
            if (next.done) return;
            log.push(next.value);
          }
        })();
        return match[1];
      }
    }
  } finally {
    clearTimeout(deadline);
  }
}

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
