/**
 * The TypeScript SDK (sdk/ts) against a real `agentbox serve` and real VMs: a sandbox with a share
 * and a policy, 50 MB of streamed output byte-exact, the `sh` template with hostile values,
 * binary files, the diff with one path applied and the rest discarded, a snapshot restored, a
 * terminal with input and a resize, `await using` cleanup, typed errors; over the unix socket
 * and over TCP with a token; and the same smoke under Node from the SDK built as published.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { AgentboxError, Client, type Pty, Sandbox, type ServerEvent } from "../../sdk/ts/mod.ts";
import { HOSTILE } from "../../sdk/ts/src/hostile_strings.ts";
import { REPO, waitFor } from "../helpers.ts";
import { startServer } from "./serve_server.ts";

const FIFTY_MB = 50 * 1024 * 1024;

/** Wait until `pty`'s output so far matches `pattern`. */
async function screenMatches(screen: () => string, pattern: RegExp): Promise<void> {
  assert.ok(
    await waitFor(() => pattern.test(screen()), 60_000),
    `the terminal never showed ${pattern}: ${JSON.stringify(screen())}`,
  );
}

/** The member names of a ustar archive. */
function tarNames(tar: Uint8Array): string[] {
  const names: string[] = [];
  const text = (from: number, length: number) =>
    new TextDecoder().decode(tar.subarray(from, from + length)).replace(/\0.*$/s, "");
  for (let at = 0; at + 512 <= tar.length;) {
    const name = text(at, 100);
    if (name === "") break;
    names.push(`${text(at + 345, 155)}${text(at + 345, 155) ? "/" : ""}${name}`);
    at += 512 + Math.ceil(parseInt(text(at + 124, 12).trim() || "0", 8) / 512) * 512;
  }
  return names;
}

function record(pty: Pty): () => string {
  let screen = "";
  const decoder = new TextDecoder();
  pty.onData((data) => screen += decoder.decode(data, { stream: true }));
  return () => screen;
}

Deno.test({
  name: "sdk/ts: a sandbox driven end to end through agentbox serve, on Deno and on Node",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using server = await startServer({ tcp: true });
    const world = server.world;
    const url = server.url!;
    const token = server.token!;
    const client = new Client({ socketPath: server.socket });
    try {
      await t.step("errors: an unknown sandbox is kind not_found, status 404", async () => {
        const error = await Sandbox.connect("no-such-sandbox", { client }).catch((e) => e);
        assert.ok(error instanceof AgentboxError, String(error));
        assert.equal(error.kind, "not_found");
        assert.equal(error.code, "session_unknown");
        assert.equal(error.status, 404);
      });

      // The server's event stream, followed from before the sandbox is made.
      const events: ServerEvent[] = [];
      const stopEvents = new AbortController();
      const following = (async () => {
        for await (const event of client.events({ signal: stopEvents.signal })) events.push(event);
      })();

      const sb = await Sandbox.create({
        client,
        name: "sdk-main",
        share: world.project,
        net: "allowlist",
        allow: ["registry.npmjs.org"],
        labels: { suite: "sdk-ts" },
      });
      try {
        assert.equal(sb.info.state, "running");
        assert.deepEqual(sb.info.labels, { suite: "sdk-ts" });
        assert.equal((await world.ps()).find((s) => s.id === sb.id)?.name, "sdk-main");

        await t.step("events: the sandbox's start; images, the request log, usage", async () => {
          const started = () =>
            events.some((e) =>
              e.type === "sandbox" && (e.data as { id: string; state: string }).id === sb.id
            );
          assert.ok(await waitFor(started, 30_000), JSON.stringify(events));
          stopEvents.abort();
          await following;
          assert.match(JSON.stringify(await client.images()), /"default"/);
          assert.ok(Array.isArray(await client.requests({ session: sb.id })));
          assert.equal(typeof await client.usage({ by: "host" }), "object");
        });

        await t.step("exec: 50 MB streamed byte-exact, stderr apart, exit code", async () => {
          const hash = createHash("sha256");
          let bytes = 0;
          let chunks = 0;
          const result = await sb.exec([
            "sh",
            "-c",
            `head -c ${FIFTY_MB} /dev/urandom | tee /tmp/big; sha256sum </tmp/big >&2; rm /tmp/big; exit 4`,
          ], {
            onStdout: (chunk) => {
              hash.update(chunk);
              bytes += chunk.length;
              chunks++;
            },
          });
          assert.equal(result.exitCode, 4);
          assert.equal(bytes, FIFTY_MB);
          assert.ok(chunks > 1, "the output came in one piece, not streamed");
          assert.equal(result.stdout, "", "a callback takes stdout: nothing collected");
          assert.equal(result.stderr.split(" ")[0], hash.digest("hex"));
        });

        await t.step("exec: env, cwd, stdin; the event iterator in order", async () => {
          const r = await sb.exec(["sh", "-c", 'pwd; echo "$GREETING"; cat'], {
            env: { GREETING: "hi there" },
            cwd: "/tmp",
            stdin: new Uint8Array([0, 255, 10]),
          });
          assert.equal(r.exitCode, 0, r.stderr);
          assert.deepEqual([...r.stdoutBytes.slice(-3)], [0, 255, 10]);
          assert.ok(r.stdout.startsWith("/tmp\nhi there\n"), r.stdout);
          const types: string[] = [];
          for await (const event of sb.execStream(["sh", "-c", "echo a; echo b >&2; exit 2"])) {
            types.push(event.type);
            if (event.type === "exit") assert.equal(event.exitCode, 2);
          }
          assert.equal(types[0], "started");
          assert.equal(types.at(-1), "exit");
          assert.ok(types.includes("stdout") && types.includes("stderr"), types.join());
        });

        await t.step("leaving execStream early, or aborting exec, kills the command", async () => {
          for await (const event of sb.execStream(["sh", "-c", "echo up; exec sleep 1001"])) {
            if (event.type === "stdout") break;
          }
          const controller = new AbortController();
          const aborted = sb.exec(["sh", "-c", "echo up; exec sleep 1002"], {
            signal: controller.signal,
            onStdout: () => controller.abort(),
          });
          const error = await aborted.catch((e) => e);
          assert.ok(error instanceof AgentboxError, String(error));
          assert.equal(error.code, "aborted");
          const running = async () => (await sb.exec(["ps"])).stdout;
          assert.ok(
            await waitFor(async () => !/sleep 100[12]/.test(await running()), 60_000),
            `still running: ${await running()}`,
          );
        });

        await t.step("sh: hostile interpolations stay single words in the guest's sh", async () => {
          const r = await sb.sh`printf '%s\\0' ${HOSTILE}; test ! -e /tmp/pwned`;
          assert.equal(r.exitCode, 0, r.stderr);
          assert.deepEqual(r.stdout.split("\0").slice(0, -1), HOSTILE);
          const dir = "a dir; touch /tmp/pwned";
          const made = await sb.sh`mkdir -p /tmp/${dir} && ls -d /tmp/${dir}`;
          assert.equal(made.stdout, `/tmp/${dir}\n`);
          assert.equal((await sb.sh`test -e /tmp/pwned`).exitCode, 1);
        });

        await t.step(
          "files: binary write/read, stream, list, stat, mkdir, move, remove",
          async () => {
            const every = new Uint8Array(256).map((_, i) => i);
            const random = crypto.getRandomValues(new Uint8Array(60_000));
            const big = new Uint8Array(3 * 1024 * 1024);
            for (let i = 0; i < big.length; i += 60_000) {
              big.set(random.subarray(0, big.length - i), i);
            }
            await sb.files.write("/tmp/every.bin", every, { mode: 0o600 });
            assert.deepEqual(await sb.files.read("/tmp/every.bin"), every);
            await sb.files.write("/tmp/big.bin", new Blob([big]).stream());
            const streamed = new Uint8Array(
              await new Response(await sb.files.readStream("/tmp/big.bin")).arrayBuffer(),
            );
            assert.equal(streamed.length, big.length);
            assert.deepEqual(streamed, big);
            const stat = await sb.files.stat("/tmp/every.bin");
            assert.equal(stat.type, "file");
            assert.equal(stat.size, 256);
            assert.equal(stat.mode & 0o777, 0o600);
            assert.equal(await sb.files.mkdir("/tmp/d/e"), true);
            assert.equal(await sb.files.mkdir("/tmp/d/e"), false);
            await sb.files.move("/tmp/every.bin", "/tmp/d/e/moved.bin");
            const listed = await sb.files.list("/tmp/d", { depth: 2 });
            assert.deepEqual(listed.map((e) => [e.path, e.type]), [
              ["/tmp/d/e", "dir"],
              ["/tmp/d/e/moved.bin", "file"],
            ]);
            // A directory as a tar archive, out and back in.
            await sb.files.write("/tmp/d/e/two.txt", "two\n");
            const tar = new Uint8Array(
              await new Response(await sb.files.readTar("/tmp/d")).arrayBuffer(),
            );
            const names = tarNames(tar);
            assert.ok(names.some((n) => n.endsWith("e/moved.bin")), names.join());
            assert.ok(names.some((n) => n.endsWith("e/two.txt")), names.join());
            await sb.files.writeTar("/tmp/copy", tar);
            assert.equal(await sb.files.readText("/tmp/copy/e/two.txt"), "two\n");
            assert.deepEqual(await sb.files.read("/tmp/copy/e/moved.bin"), every);
            await sb.files.remove("/tmp/copy");
            await sb.files.remove("/tmp/d/e/two.txt");
            await sb.files.remove("/tmp/d");
            assert.equal(await sb.files.exists("/tmp/d"), false);
            const missing = await sb.files.read("/tmp/nothing-here").catch((e) => e);
            assert.ok(missing instanceof AgentboxError && missing.kind === "not_found", missing);
          },
        );

        await t.step("pty: input, then a resize that stty sees", async () => {
          const pty = await sb.pty(["/bin/sh"], { rows: 24, cols: 80 });
          const screen = record(pty);
          assert.ok((await pty.pid) > 0);
          pty.write("stty size\n");
          await screenMatches(screen, /24 80/);
          pty.resize(40, 132);
          pty.write("stty size; exit 7\n");
          await screenMatches(screen, /40 132/);
          assert.deepEqual(await pty.wait(), { exitCode: 7, signal: null, timedOut: false });
        });

        await t.step("changes: list the diff, apply one path, discard the rest", async () => {
          await sb.files.write("keep.txt", "keep me\n");
          await sb.files.write("drop.txt", "drop me\n");
          await sb.files.write("hello.txt", "changed\n");
          const changes = await sb.changes();
          assert.deepEqual(
            changes.entries.map((e) => [e.path, e.status]).sort(),
            [["drop.txt", "added"], ["hello.txt", "modified"], ["keep.txt", "added"]],
          );
          const applied = await sb.apply({ paths: ["keep.txt"] });
          assert.equal(applied.counts.applied, 1, JSON.stringify(applied));
          assert.equal(await Deno.readTextFile(`${world.project}/keep.txt`), "keep me\n");
          await sb.discard();
          assert.equal(await Deno.readTextFile(`${world.project}/hello.txt`), "hello\n");
          await assert.rejects(Deno.stat(`${world.project}/drop.txt`));
        });

        await t.step("review: an apply held until an approver accepts it", async () => {
          await sb.files.write("reviewed.txt", "reviewed\n");
          const review = await sb.submitReview({ paths: ["reviewed.txt"] });
          assert.equal(review.state, "pending");
          assert.deepEqual(review.planned.map((p) => p.path), ["reviewed.txt"]);
          assert.ok((await client.reviews()).some((r) => r.id === review.id));
          await assert.rejects(Deno.stat(`${world.project}/reviewed.txt`));
          const { review: decided, applied } = await client.decideReview(review.id, "accept");
          assert.equal(decided.state, "accepted");
          assert.match(decided.decidedBy ?? "", /^local:/);
          assert.equal(applied?.counts.applied, 1, JSON.stringify(applied));
          assert.equal(await Deno.readTextFile(`${world.project}/reviewed.txt`), "reviewed\n");
          const again = await client.decideReview(review.id, "reject").catch((e) => e);
          assert.ok(again instanceof AgentboxError && again.status === 409, String(again));
          assert.deepEqual(await client.approvals({ session: sb.id }), []);
        });

        await t.step("snapshot, restored as a new sandbox; await using deletes it", async () => {
          await sb.files.write("/tmp/marker", "from before the snapshot\n");
          assert.deepEqual(await sb.snapshot("sdk-snap"), { name: "sdk-snap" });
          assert.ok((await client.snapshots()).some((s) => s.name === "sdk-snap"));
          let forkId: string;
          {
            await using fork = await Sandbox.create({ client, snapshot: "sdk-snap", name: "fork" });
            forkId = fork.id;
            assert.notEqual(fork.id, sb.id);
            assert.equal(await fork.files.readText("/tmp/marker"), "from before the snapshot\n");
            assert.ok((await world.ps()).some((s) => s.id === forkId));
            const deadline = await fork.setTimeout(600);
            assert.ok(deadline.expiresAt! > Date.now());
          }
          assert.ok(
            !(await world.ps()).some((s) => s.id === forkId),
            "the fork outlived its scope",
          );
          const gone = await Sandbox.connect(forkId, { client }).catch((e) => e);
          assert.equal(gone.kind, "not_found");
        });

        await t.step("TCP with the token; a wrong token is 401 unauthorized", async () => {
          const remote = new Client({ url, token });
          try {
            const listed = await remote.list({ labels: { suite: "sdk-ts" } });
            assert.deepEqual(listed.map((s) => s.id), [sb.id]);
            const viaTcp = await Sandbox.connect(sb.id, { client: remote });
            assert.equal((await viaTcp.exec(["echo", "tcp"])).stdout, "tcp\n");
            const pty = await viaTcp.pty(["sh", "-c", "stty size"], { rows: 9, cols: 33 });
            const screen = record(pty);
            assert.equal((await pty.wait()).exitCode, 0);
            assert.match(screen(), /9 33/);
            const wrong = new Client({ url, token: "not-the-token" });
            const error = await wrong.list().catch((e) => e);
            assert.ok(error instanceof AgentboxError);
            assert.equal(error.status, 401);
            assert.equal(error.code, "unauthorized");
            const ptyError = await Sandbox.connect(sb.id, { client: remote })
              .then((s) => new Sandbox(wrong, s.info).pty(["true"]))
              .catch((e) => e);
            assert.equal(ptyError.status, 401);
            wrong.close();
          } finally {
            remote.close();
          }
        });

        await t.step("Node: the SDK built as published runs the same smoke", async () => {
          const out = await Deno.makeTempDir({ prefix: "sdk-ts-dist-" });
          try {
            const built = await new Deno.Command(Deno.execPath(), {
              args: ["bundle", "--platform", "deno", "-o", `${out}/mod.js`, "mod.ts"],
              cwd: `${REPO}/sdk/ts`,
              stdout: "null",
              stderr: "piped",
            }).output();
            assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
            const node = await new Deno.Command("node", {
              args: [
                `${REPO}/tests/e2e/sdk_ts_node_smoke.mjs`,
                `${out}/mod.js`,
                server.socket,
                url,
                token,
                sb.id,
              ],
              stdout: "piped",
              stderr: "piped",
              signal: AbortSignal.timeout(240_000),
            }).output();
            const stderr = new TextDecoder().decode(node.stderr);
            assert.equal(node.code, 0, stderr);
            const seen = JSON.parse(new TextDecoder().decode(node.stdout));
            assert.deepEqual(seen.exec, { exitCode: 3, stdout: "out", stderr: "err" });
            assert.equal(seen.sh, "it's|$(id)|a\nb||*|é|");
            assert.deepEqual(seen.read, Array.from({ length: 256 }, (_, i) => i));
            assert.equal(seen.streamed.bytes, 4 * 1024 * 1024);
            assert.equal(seen.streamed.sha256, seen.streamed.guestSha256);
            assert.equal(seen.events[0], "started");
            assert.equal(seen.events.at(-1), "exit");
            assert.equal(seen.pty.exit.exitCode, 5);
            assert.match(seen.pty.screen, /30 100[\s\S]*33 111/);
            assert.ok(seen.tcpList.includes(sb.id));
            assert.deepEqual(seen.wrongToken, {
              isAgentboxError: true,
              status: 401,
              code: "unauthorized",
            });
            assert.deepEqual(seen.unknown, { kind: "not_found", status: 404 });
          } finally {
            await Deno.remove(out, { recursive: true });
          }
        });
      } finally {
        await sb.delete();
      }
      assert.deepEqual(await client.list(), []);
      assert.deepEqual(world.qemus(), [], "a VM outlived its sandbox");
    } finally {
      client.close();
    }
  },
});
