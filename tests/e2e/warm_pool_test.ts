/**
 * The warm pool behind a real `agentbox serve` (docs/serve.md, "Warm pool"), with real VMs:
 * `agentbox exec` hands its sandbox to the server, which serves it from the pool; two execs never
 * share a VM; the pool refills after takes and is replaced after `images build`; with no server
 * (or a dead socket) the CLI runs the sandbox itself; a stopped server leaves no QEMU behind.
 * Standby session owners (`--pool-sessions`): a created sandbox starts on one's warm VM, with its
 * clock set, and a new one stands by.
 */

import assert from "node:assert/strict";
import { startServer, type TestServer } from "./serve_server.ts";
import { sandbox } from "./session_sandbox.ts";
import { tapName } from "../../host/net/tap_device.ts";
import { waitFor } from "../helpers.ts";

const POOL_WAIT_MS = 300_000;

interface PoolStats {
  size: number;
  ready: number;
  filling: number;
  taken: number;
  misses: number;
  discarded: number;
  build: string | null;
  sessions: { size: number; ready: number; starting: number; taken: number };
}

async function pool(server: TestServer): Promise<PoolStats> {
  const r = await server.fetchSocket("/v1/pool");
  assert.equal(r.status, 200);
  return await r.json();
}

/** Wait until `ok(stats)`, polling the pool route. */
async function poolUntil(
  server: TestServer,
  ok: (stats: PoolStats) => boolean,
  what: string,
): Promise<PoolStats> {
  const deadline = Date.now() + POOL_WAIT_MS;
  for (;;) {
    const stats = await pool(server);
    if (ok(stats)) return stats;
    if (Date.now() > deadline) {
      throw new Error(`pool never ${what}: ${JSON.stringify(stats)}\n${server.log()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const EXEC = ["exec", "--net-backend", "user"];

Deno.test({
  name: "exec through a running server takes a warm VM, never the same one, and the pool refills",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    {
      await using server = await startServer({ args: ["--pool", "1", "--pool-backend", "user"] });
      const ready = await poolUntil(server, (s) => s.ready === 1, "filled");
      assert.equal(ready.taken, 0);
      assert.ok(ready.build, "the pool names the image build it holds");

      // First exec: output, exit status and the JSON report, from a warm VM.
      const first = await server.world.cli([
        "-v",
        ...EXEC,
        "--json",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; touch /tmp/first-was-here; " +
        "wget -q -O /dev/null http://refused.example/ 2>/dev/null; exit 7",
      ]);
      assert.equal(first.code, 7, first.stderr);
      assert.match(first.stderr, /running through agentbox serve \(a warm VM\)/);
      const report = JSON.parse(first.stdout);
      assert.equal(report.exitCode, 7);
      assert.equal(report.code, 7);
      assert.equal(await Deno.readTextFile(report.output.stdout), "out\n");
      assert.equal(await Deno.readTextFile(report.output.stderr), "err\n");
      assert.equal(report.network.backend, "user");
      // The guest's request went through the warm VM's relays to this session's proxy, which
      // refused and recorded it.
      assert.deepEqual(
        report.network.refused.map((r: { host: string }) => r.host),
        ["refused.example"],
      );
      assert.equal(report.changes, null);
      const afterFirst = await pool(server);
      assert.equal(afterFirst.taken, 1);

      // The report has the shape of the CLI's own path (same keys, same nesting).
      const local = await server.world.cli([...EXEC, "--json", "--", "true"], undefined);
      const own = await (async () => {
        const r = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../../host/main.ts", import.meta.url).pathname,
            ...EXEC,
            "--json",
            "--",
            "true",
          ],
          cwd: server.world.project,
          env: { ...server.world.env, AGENTBOX_NO_SERVER: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        return { code: r.code, stdout: new TextDecoder().decode(r.stdout) };
      })();
      assert.equal(own.code, 0);
      assert.equal(local.code, 0);
      assert.deepEqual(shape(JSON.parse(local.stdout)), shape(JSON.parse(own.stdout)));

      // Another exec never gets a VM a command ran in: the file of the first is not there.
      await poolUntil(server, (s) => s.ready === 1, "refilled after a take");
      const second = await server.world.cli([
        "-v",
        ...EXEC,
        "--",
        "sh",
        "-c",
        "test ! -e /tmp/first-was-here && echo fresh",
      ]);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, "fresh\n");
      assert.match(second.stderr, /a warm VM/);
      const stats = await pool(server);
      assert.ok(stats.taken >= 2, JSON.stringify(stats));

      // Each exec is its own session, recorded as the CLI's own are.
      const ps = await server.world.cli(["ps", "-a", "--json"]);
      const sessions = JSON.parse(ps.stdout) as { id: string }[];
      assert.ok(sessions.some((s) => s.id === report.session), ps.stdout);
      await poolUntil(server, (s) => s.ready === 1, "refilled");
      assert.equal(server.world.qemus().length, 1, "the refilled warm VM runs");
      // The server stopped: no QEMU of its pool is left.
      await server.stop();
      assert.deepEqual(server.world.qemus(), []);
    }
  },
});

Deno.test({
  name: "as root, the pool's VMs are on the tap network by default, and exec takes them",
  ignore: Deno.uid() !== 0,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    {
      await using server = await startServer({ args: ["--pool", "1"] });
      await poolUntil(server, (s) => s.ready === 1, "filled");
      // A warm VM waits paused, its clock standing still: taking it must set the clock again.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      const run = await server.world.cli([
        "-v",
        "exec",
        "--json",
        "--",
        "sh",
        "-c",
        "wget -q -O /dev/null http://refused.example/ 2>/dev/null; date +%s; echo tapped",
      ]);
      const now = Date.now() / 1000;
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /a warm VM/);
      const report = JSON.parse(run.stdout);
      const [guestClock, tapped] = (await Deno.readTextFile(report.output.stdout)).split("\n");
      assert.equal(tapped, "tapped");
      assert.ok(Math.abs(Number(guestClock) - now) < 5, `guest clock ${guestClock}, host ${now}`);
      assert.equal(report.network.backend, "tap");
      assert.deepEqual(
        report.network.refused.map((r: { host: string }) => r.host),
        ["refused.example"],
      );
      assert.equal((await pool(server)).taken, 1);
      // The report came before the tap was removed; it is removed right after.
      const tap = tapName(report.session);
      const present = async () =>
        (await new Deno.Command("ip", { args: ["link", "show", "dev", tap], stderr: "null" })
          .output()).success;
      assert.ok(await waitFor(async () => !(await present()), 10_000), `${tap} was not removed`);
      await server.stop();
      assert.deepEqual(server.world.qemus(), []);
    }
  },
});

Deno.test({
  name: "without a server, or with a dead socket, exec runs the sandbox itself",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using world = await sandbox();
    const none = await world.cli(["-v", ...EXEC, "--", "echo", "alone"]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, "alone\n");
    assert.doesNotMatch(none.stderr, /agentbox serve/);
    // A socket file nobody listens on (a server killed with SIGKILL leaves one).
    const path = `${world.env.XDG_RUNTIME_DIR}/agentbox/serve.sock`;
    await Deno.mkdir(`${world.env.XDG_RUNTIME_DIR}/agentbox`, { recursive: true, mode: 0o700 });
    // Bound, never listened on, never unlinked: as a server killed with SIGKILL leaves it.
    const bound = await new Deno.Command("python3", {
      args: ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path],
    }).output();
    assert.ok(bound.success);
    assert.ok((await Deno.lstat(path)).isSocket);
    const dead = await world.cli(["-v", ...EXEC, "--", "echo", "still"]);
    assert.equal(dead.code, 0, dead.stderr);
    assert.equal(dead.stdout, "still\n");
    assert.match(dead.stderr, /no server answers on .*serve\.sock: running here/);
    const quiet = await world.cli([...EXEC, "--", "true"]);
    assert.equal(quiet.stderr, "", "one --verbose line, nothing without it");
  },
});

Deno.test({
  name: "after `images build` the pool's VMs of the old build are discarded and it refills",
  ignore: Deno.env.get("AGENTBOX_TEST_REBUILD") !== "1",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using server = await startServer({ args: ["--pool", "1", "--pool-backend", "user"] });
    const before = await poolUntil(server, (s) => s.ready === 1, "filled");
    const built = await server.world.cli(["images", "build"]);
    assert.equal(built.code, 0, built.stderr);
    const after = await poolUntil(
      server,
      (s) => s.ready === 1 && s.build !== before.build,
      "refilled with the new build",
    );
    assert.ok(after.discarded >= 1, JSON.stringify(after));
    const run = await server.world.cli(["-v", ...EXEC, "--", "echo", "new"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /a warm VM/);
    assert.equal((await pool(server)).taken, 1);
  },
});

/** The keys of `value`, recursively (values of the same kind compare equal). */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return "array";
  if (value === null || typeof value !== "object") return typeof value;
  return Object.fromEntries(
    Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shape(v)]),
  );
}

Deno.test({
  name: "a sandbox created through the server starts on a standby owner's warm VM",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    {
      await using server = await startServer({ args: ["--pool-sessions", "1"] });
      const before = await poolUntil(server, (s) => s.sessions.ready === 1, "stood by");
      assert.equal(before.sessions.taken, 0);
      assert.equal(before.size, 0, "no one-shot pool was asked for");
      // Nothing of a standby owner shows before it has a session.
      const sessions = async () => JSON.parse((await server.world.cli(["ps", "--json"])).stdout);
      assert.deepEqual(await sessions(), []);
      // It waits paused, its clock standing still: the session must find the clock set.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const created = await server.fetchSocket("/v1/sandboxes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "standing", labels: { via: "standby" } }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const { id } = await created.json();
      const after = await pool(server);
      assert.equal(after.sessions.taken, 1);
      const log = await Deno.readTextFile(
        `${server.world.env.XDG_STATE_HOME}/agentbox/sessions/${id}/owner.log`,
      ).catch((e) => `unreadable: ${e}`);
      assert.match(log, /standing by: a warm VM waits/);
      assert.match(log, /session running/);
      const clock = await server.world.cli(["exec", "--session", "standing", "--", "date", "+%s"]);
      assert.equal(clock.code, 0, clock.stderr);
      assert.ok(
        Math.abs(Number(clock.stdout) - Date.now() / 1000) < 5,
        `guest clock ${clock.stdout}, host ${Date.now() / 1000}`,
      );
      assert.deepEqual(
        (await sessions()).map((s: { id: string; state: string }) => [s.id, s.state]),
        [[id, "running"]],
      );
      await poolUntil(server, (s) => s.sessions.ready === 1, "stood by again");
      const removed = await server.fetchSocket(`/v1/sandboxes/${id}?force=true`, {
        method: "DELETE",
      });
      assert.equal(removed.status, 204, await removed.clone().text());
      await removed.body?.cancel();

      // A plan the warm VM does not fit (no network) boots as usual; the warm VM is stopped.
      await poolUntil(server, (s) => s.sessions.ready === 1, "stood by a third time");
      const unfit = await server.fetchSocket("/v1/sandboxes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "unfit", net: "none" }),
      });
      assert.equal(unfit.status, 201, await unfit.clone().text());
      const unfitId = (await unfit.json()).id;
      assert.equal((await pool(server)).sessions.taken, 2);
      const offline = await server.world.cli([
        "exec",
        "--session",
        "unfit",
        "--",
        "ls",
        "/sys/class/net",
      ]);
      assert.equal(offline.code, 0, offline.stderr);
      assert.doesNotMatch(offline.stdout, /eth0/);
      // Its own QEMU and the next standby's: the unfit warm VM is gone.
      await poolUntil(server, (s) => s.sessions.ready === 1, "stood by a fourth time");
      assert.equal(server.world.qemus().length, 2, "its own QEMU and the new standby's");
      const gone = await server.fetchSocket(`/v1/sandboxes/${unfitId}?force=true`, {
        method: "DELETE",
      });
      assert.equal(gone.status, 204);
      await gone.body?.cancel();
      // The server stops its standby owner, which stops its VM: nothing is left running.
      await server.stop();
      assert.deepEqual(server.world.qemus(), []);
    }
  },
});

Deno.test({
  name: "a sandbox with a share created through the server takes a standby owner's warm VM",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    {
      await using server = await startServer({ args: ["--pool-sessions", "1"] });
      await poolUntil(server, (s) => s.sessions.ready === 1, "stood by");
      // The standby owner's warm VM is the only QEMU: the session must run on that very one.
      const [warm, ...others] = server.world.qemus();
      assert.ok(warm !== undefined && others.length === 0, `${warm} ${others}`);
      const created = await server.fetchSocket("/v1/sandboxes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "shared", share: server.world.project }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const { id } = await created.json();
      assert.equal((await pool(server)).sessions.taken, 1);
      const seen = await server.world.cli([
        "exec",
        "--session",
        "shared",
        "--",
        "sh",
        "-c",
        "cat /workspace/hello.txt && ls -A /workspace && echo made > /workspace/made.txt",
      ]);
      assert.equal(seen.code, 0, seen.stderr);
      assert.equal(seen.stdout, "hello\nhello.txt\n");
      assert.ok(server.world.qemus().includes(warm), "the session does not run on the warm VM");
      const stopped = await server.world.cli(["stop", "shared"]);
      assert.equal(stopped.code, 0, stopped.stderr);
      const diff = await server.world.cli(["diff", "shared"]);
      assert.equal(diff.code, 0, diff.stderr);
      assert.match(diff.stdout, /made\.txt/);
      assert.doesNotMatch(diff.stdout, /hello\.txt/);
      const removed = await server.fetchSocket(`/v1/sandboxes/${id}?force=true`, {
        method: "DELETE",
      });
      assert.equal(removed.status, 204, await removed.clone().text());
      await removed.body?.cancel();
      await server.stop();
      assert.deepEqual(server.world.qemus(), []);
    }
  },
});
