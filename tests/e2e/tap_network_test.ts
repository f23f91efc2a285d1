/**
 * Tap networks through the CLI, inside a network namespace made here. They leave nothing behind:
 * after a clean exit, and after agentbox is killed with SIGKILL (the tap and wall stay as orphans
 * until `agentbox doctor --fix` or the next tap session removes them), comparing the namespace's
 * `nft list ruleset` and devices before and after. And the host reaches a detached session's
 * guest at the address `ps --json` gives.
 */
import assert from "node:assert/strict";
import { tapUnavailableReason } from "../../host/net/net_backend.ts";
import { networkState, REPO } from "../helpers.ts";

const NAMESPACE = `abtest${crypto.randomUUID().slice(0, 8)}`;

const skipReason = await tapUnavailableReason() ??
  await run("ip", ["netns", "add", NAMESPACE]).then(() => undefined, (e) => String(e));
if (skipReason) console.log(`skipped: tap network tests: ${skipReason}`);
else {
  await run("ip", ["netns", "exec", NAMESPACE, "ip", "link", "set", "lo", "up"]);
  globalThis.addEventListener("unload", () => {
    new Deno.Command("ip", { args: ["netns", "delete", NAMESPACE] }).outputSync();
  });
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** `agentbox ARGS` in the namespace. */
function agentboxInNamespace(args: string[]): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: [
      ...["netns", "exec", NAMESPACE, Deno.execPath(), "run", "--allow-all", "--quiet"],
      ...[`--config=${REPO}/deno.json`, `${REPO}/host/main.ts`, ...args],
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess): Promise<{ code: number; out: string }> {
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, out: text };
}

/** The namespace's ruleset and devices. */
function state(): Promise<string> {
  return networkState(NAMESPACE);
}

/** Start a long command on a tap and SIGKILL agentbox once its wall is up. */
async function killMidSession(): Promise<void> {
  const child = agentboxInNamespace(["exec", "--net-backend", "tap", "--", "sleep", "600"]);
  let walled = "";
  const up = await waitForAsync(async () => {
    walled = await state();
    return /table inet agentbox_/.test(walled) && /\bab[0-9a-f]{12}\b/.test(walled);
  }, 120_000);
  child.kill("SIGKILL");
  await child.output();
  assert.ok(up, `the wall never came up:\n${walled}`);
}

async function waitForAsync(predicate: () => Promise<boolean>, timeoutMs: number) {
  let last = false;
  const deadline = Date.now() + timeoutMs;
  while (!(last = await predicate()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return last;
}

Deno.test({
  name:
    "tap network: nothing left after exit; after SIGKILL, doctor --fix and the next start clean up",
  ignore: skipReason !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const before = await state();

  const clean = await finish(agentboxInNamespace(["exec", "--net-backend", "tap", "--", "true"]));
  assert.equal(clean.code, 0, clean.out);
  assert.equal(await state(), before);

  await killMidSession();
  const orphaned = await state();
  assert.notEqual(orphaned, before, "SIGKILL leaves the tap and wall behind");
  const report = await finish(agentboxInNamespace(["doctor"]));
  assert.match(report.out, /left by crashed sessions: tap ab[0-9a-f]{12}, nftables table/);
  assert.match(report.out, /fix: agentbox doctor --fix/);
  const fixed = await finish(agentboxInNamespace(["doctor", "--fix"]));
  assert.match(fixed.out, /removed tap ab[0-9a-f]{12}/, fixed.out);
  assert.equal(await state(), before);

  await killMidSession();
  const next = await finish(agentboxInNamespace(["exec", "--net-backend", "tap", "--", "true"]));
  assert.equal(next.code, 0, next.out);
  assert.equal(await state(), before, "the next tap session removed the orphans");
});

Deno.test({
  name:
    "tap network: ps --json gives a detached session's guest address, which the host can reach; rm --force leaves nothing",
  ignore: skipReason !== undefined,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const name = `tap-${crypto.randomUUID().slice(0, 8)}`;
  const before = await state();
  try {
    const started = await finish(
      agentboxInNamespace(["run", "--detach", "--name", name, "--net-backend", "tap"]),
    );
    assert.equal(started.code, 0, started.out);
    const ps = await finish(agentboxInNamespace(["ps", "--json"]));
    const session = JSON.parse(ps.out.trim().split("\n").at(-1)!).find((
      e: { name: string },
    ) => e.name === name);
    assert.match(session.guestAddress, /^10\.213\.\d+\.\d+$/);
    // A listener in the guest answers the host; the wall only stops what the guest starts.
    const server = agentboxInNamespace([
      ...["exec", "--session", name, "--", "sh", "-c"],
      "echo hello-from-guest | nc -l -p 8000",
    ]);
    let reply = "";
    await waitForAsync(async () => {
      reply = await run("ip", [
        ...["netns", "exec", NAMESPACE, "sh", "-c"],
        `busybox nc -w 2 ${session.guestAddress} 8000 </dev/null || true`,
      ]);
      return reply.includes("hello-from-guest");
    }, 60_000);
    await finish(server);
    assert.equal(reply.trim(), "hello-from-guest");
  } finally {
    await finish(agentboxInNamespace(["rm", "--force", name])).catch(() => {});
  }
  // The killed owner could not take its tap network down; rm --force did.
  assert.equal(await state(), before);
});
