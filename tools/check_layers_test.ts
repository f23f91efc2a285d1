/**
 * The layer check against this checkout and against copies of it with breaches planted: each
 * breach must make `tools/check_layers.ts` exit 1 with a `file:line: rule` line, and the clean
 * copy must pass.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { checkLayers, formatReport } from "./check_layers.ts";
import { classify, importViolation, misnamedTestSupport } from "./layer_rules.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SCRIPT = join(REPO, "tools", "check_layers.ts");

/** A copy of the checkout's sources (node_modules linked), removed on dispose. */
async function copyOfTree() {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-layers-test-" });
  const cp = await new Deno.Command("cp", {
    args: [
      "-r",
      "host",
      "guest-agent",
      "image",
      "tests",
      "tools",
      "deno.json",
      "package.json",
      dir,
    ],
    cwd: REPO,
  }).output();
  assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
  await Deno.symlink(join(REPO, "node_modules"), join(dir, "node_modules"));
  return {
    dir,
    async append(path: string, text: string) {
      await Deno.writeTextFile(join(dir, path), text, { append: true });
    },
    async write(path: string, text: string) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, path), text);
    },
    /** Lines the file has now: a line appended next is at `lines + 1`. */
    async lines(path: string) {
      return (await Deno.readTextFile(join(dir, path))).split("\n").length - 1;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function runCheck(root: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-run", SCRIPT, root],
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("this checkout keeps the dependency rule", async () => {
  const report = await checkLayers(REPO);
  assert.deepEqual(formatReport(report).slice(0, -1), [], "violations or stale exceptions");
  assert.ok(report.files > 300, `only ${report.files} files checked`);
});

Deno.test("a copy of the checkout passes, and every planted breach fails the check with its file and line", async () => {
  await using tree = await copyOfTree();
  const clean = await runCheck(tree.dir);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /0 violations, \d+ exceptions remain in tools\/layer_exceptions\.txt/);

  const at = async (path: string) => `${path}:${await tree.lines(path) + 1}`;
  const planted: string[] = [];
  // A mechanism importing an edge.
  planted.push(`${await at("host/vm/spec.ts")}: layer: mechanism host/vm/spec.ts imports edge`);
  await tree.append("host/vm/spec.ts", 'import "../cli/errors.ts";\n');
  // A mechanism printing.
  planted.push(`${await at("host/net/tap_subnet.ts")}: edge-only: console.log`);
  await tree.append("host/net/tap_subnet.ts", 'export function noisy() { console.log("x"); }\n');
  // Production importing test support.
  planted.push(`${await at("host/store/sessions.ts")}: test-support:`);
  await tree.append("host/store/sessions.ts", 'import "./testing/mod.ts";\n');
  // The guest importing host code.
  planted.push(`${await at("guest-agent/host_facts.ts")}: guest-boundary:`);
  await tree.append("guest-agent/host_facts.ts", 'import "../host/version.ts";\n');
  // A cycle between two mechanism rooms: host/proxy imports host/net already.
  planted.push(`${await at("host/net/dialer.ts")}: cycle: host/net → host/proxy`);
  await tree.append("host/net/dialer.ts", 'import "../proxy/proxy_error.ts";\n');
  // An edge calling a mechanism directly (a type-only import of the same module is allowed).
  planted.push(
    `${await at(
      "host/cli/ps.ts",
    )}: edge-through-api: edge host/cli/ps.ts imports mechanism host/store/database.ts`,
  );
  await tree.append(
    "host/cli/ps.ts",
    'import { openDatabase } from "../store/database.ts";\nexport const O = openDatabase;\n',
  );
  await tree.append(
    "host/cli/stop.ts",
    'import type { SessionRecord } from "../store/sessions.ts";\nexport type R = SessionRecord;\n',
  );
  // Test support outside a testing/ folder.
  await tree.write("host/vm/fake_qmp.ts", "export const FAKE = 1;\n");
  planted.push("host/vm/fake_qmp.ts:1: test-naming:");
  // A compile task that embeds a folder with tests.
  const denoJson = await Deno.readTextFile(join(tree.dir, "deno.json"));
  await tree.write(
    "deno.json",
    denoJson.replace(
      '"fmt": "deno fmt"',
      '"fmt": "deno fmt", "c": "deno compile --include image x.ts"',
    ),
  );
  planted.push("deno.json:");

  const broken = await runCheck(tree.dir);
  assert.equal(broken.code, 1, broken.stdout + broken.stderr);
  const lines = broken.stdout.split("\n");
  for (const expected of planted) {
    assert.ok(
      lines.some((line) => line.startsWith(expected)),
      `no line starting ${JSON.stringify(expected)} in:\n${broken.stdout}`,
    );
  }
  assert.match(broken.stdout, /compile-ships-tests: task c: --include image embeds \d+ test files/);
  assert.match(broken.stdout, /^rule layer: a layer imports only/m);
  assert.doesNotMatch(broken.stdout, /host\/cli\/stop\.ts/, "a type-only import was refused");
  assert.match(broken.stdout, /layers: \d+ files, \d+ violations/);
});

Deno.test("an exception covers its file's breaches of one rule; a stale exception fails the check", async () => {
  await using tree = await copyOfTree();
  await tree.append("host/net/tap_subnet.ts", 'export function noisy() { console.log("x"); }\n');
  const exceptions = await Deno.readTextFile(join(tree.dir, "tools/layer_exceptions.txt"));
  const before = exceptions.split("\n").filter((l) => l.trim() && !l.startsWith("#")).length;
  await tree.write(
    "tools/layer_exceptions.txt",
    `${exceptions}host/net/tap_subnet.ts: edge-only # planted\n`,
  );
  const excepted = await runCheck(tree.dir);
  assert.equal(excepted.code, 0, excepted.stdout);
  assert.match(excepted.stdout, new RegExp(`0 violations, ${before + 1} exceptions remain`));

  // The breach fixed, the exception is stale: the check says which line to remove.
  await tree.write(
    "host/net/tap_subnet.ts",
    await Deno.readTextFile(join(REPO, "host/net/tap_subnet.ts")),
  );
  const stale = await runCheck(tree.dir);
  assert.equal(stale.code, 1, stale.stdout);
  assert.match(
    stale.stdout,
    /^tools\/layer_exceptions\.txt:\d+: stale exception: host\/net\/tap_subnet\.ts no longer breaks "edge-only": remove the line$/m,
  );

  // A malformed line is one clear error, exit 1.
  await tree.write("tools/layer_exceptions.txt", "host/net/tap_subnet.ts edge-only\n");
  const bad = await runCheck(tree.dir);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^error: Cannot read tools\/layer_exceptions\.txt:1: expected "file: rule"/,
  );
});

Deno.test("classify and importViolation: the layer table", () => {
  const v = (from: string, to: string) => importViolation(classify(from), classify(to));
  assert.equal(v("host/cli/exec.ts", "host/vm/boot.ts"), "edge-through-api", "edge → mechanism");
  assert.equal(
    importViolation(classify("host/cli/exec.ts"), classify("host/vm/boot.ts"), { typeOnly: true }),
    undefined,
    "edge → mechanism types",
  );
  assert.equal(v("host/cli/exec.ts", "host/api/sandbox.ts"), undefined, "edge → api");
  assert.equal(v("host/api/sandbox.ts", "host/vm/boot.ts"), undefined, "api → mechanism");
  assert.equal(v("host/vm/boot.ts", "host/api/sandbox.ts"), "layer", "mechanism → api");
  assert.equal(v("host/api/sandbox.ts", "host/cli/exec.ts"), "layer", "api → edge");
  assert.equal(v("host/serve/app.ts", "host/api/sandbox.ts"), undefined, "serve is an edge");
  assert.equal(v("host/paths.ts", "host/vm/boot.ts"), "layer", "utility → mechanism");
  assert.equal(v("host/vm/boot.ts", "host/paths.ts"), undefined, "mechanism → utility");
  assert.equal(v("host/vm/boot.ts", "guest-agent/protocol/mod.ts"), undefined, "→ protocol");
  assert.equal(v("guest-agent/session.ts", "host/version.ts"), "guest-boundary");
  assert.equal(v("guest-agent/protocol/codec.ts", "guest-agent/session.ts"), "guest-boundary");
  assert.equal(v("guest-agent/testing/x.ts", "host/channel/agent_client.ts"), "guest-boundary");
  assert.equal(v("host/channel/testing/x.ts", "guest-agent/session.ts"), undefined);
  assert.equal(v("host/vm/boot.ts", "host/vm/testing/fake.ts"), "test-support");
  assert.equal(v("host/vm/boot.ts", "host/vm/boot_test.ts"), "test-support");
  assert.equal(v("host/vm/boot.ts", "tests/helpers.ts"), "test-support");
  assert.equal(v("host/vm/boot_test.ts", "host/cli/exec.ts"), undefined, "tests import anything");
  assert.equal(classify("host/main.ts").edge, true);
  assert.equal(classify("guest-agent/main.ts").edge, true);
  assert.equal(classify("host/vm/boot.ts").edge, false);
  assert.equal(classify("host/newroom/x.ts").layer, undefined);
  assert.ok(misnamedTestSupport("host/workspace/test_tree.ts"));
  assert.ok(misnamedTestSupport("host/store/testdata/writer.ts"));
  assert.ok(!misnamedTestSupport("guest-agent/dns_stub.ts"));
  assert.ok(!misnamedTestSupport("host/workspace/testing/test_tree.ts"));
});
