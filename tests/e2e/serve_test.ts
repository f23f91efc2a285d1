/**
 * `agentbox serve` end to end: a real server process, real VMs, real HTTP over its unix socket
 * and over loopback TCP with a token, a real WebSocket terminal.
 */
import assert from "node:assert/strict";
import { randomBytes, sha256 } from "../helpers.ts";
import { startServer, type TestServer } from "./serve_server.ts";

const SECRET = `sk-serve-${crypto.randomUUID()}`;

const json = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** The NDJSON events of an exec, and its stdout bytes. */
async function execEvents(server: TestServer, id: string, body: unknown) {
  const r = await server.fetchTcp(`/v1/sandboxes/${id}/exec`, json(body));
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(r.headers.get("content-type"), "application/x-ndjson");
  const events: { type: string; data?: string; code?: number }[] = [];
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let rest = "";
  for await (const text of r.body!.pipeThrough(new TextDecoderStream())) {
    rest += text;
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const event = JSON.parse(line);
      if (event.type === "stdout") chunks.push(Uint8Array.fromBase64(event.data));
      else events.push(event);
    }
  }
  return { events, stdout: new Uint8Array(await new Blob(chunks).arrayBuffer()) };
}

Deno.test("serve: auth, limits, exec streams, files, changes, a terminal, events, cleanup", async (t) => {
  await using server = await startServer({ tcp: true, args: ["--max-sandboxes", "1"] });
  const { world } = server;

  await t.step("the socket and the token file serve their owner only", async () => {
    const info = await Deno.stat(server.socket);
    assert.equal(info.mode! & 0o777, 0o600);
    const tokens = await Deno.stat(`${world.env.XDG_CONFIG_HOME}/agentbox/serve-tokens.json`);
    assert.equal(tokens.mode! & 0o777, 0o600);
    // Another uid cannot open the socket (nobody, through setpriv).
    const other = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "curl",
        "-sS",
        "--unix-socket",
        server.socket,
        "http://x/v1/sandboxes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.notEqual(other.code, 0);
    assert.match(new TextDecoder().decode(other.stderr), /Permission denied|Couldn't connect/);
    const own = await server.fetchSocket("/v1/sandboxes");
    assert.equal(own.status, 200);
    assert.deepEqual(await own.json(), { sandboxes: [] });
  });

  await t.step("TCP: no token and a wrong token get 401, the right one 200", async () => {
    const none = await server.fetchTcp("/v1/sandboxes", { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="agentbox"');
    assert.equal((await none.json()).error.code, "unauthorized");
    const wrong = await server.fetchTcp("/v1/sandboxes", { token: "abx_" + "x".repeat(43) });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const doc = await server.fetchTcp("/openapi.json");
    assert.equal(doc.status, 200);
    assert.equal((await doc.json()).openapi, "3.1.0");
  });

  await t.step("bad requests get one clear error and create nothing", async () => {
    const bad = await server.fetchTcp("/v1/sandboxes", json({ cpus: "many" }));
    assert.equal(bad.status, 400);
    const body = await bad.json();
    assert.equal(body.error.code, "request_invalid");
    assert.match(body.error.message, /cpus/);
    const big = await server.fetchTcp("/v1/sandboxes", json({ env: { A: "x".repeat(2 << 20) } }));
    assert.equal(big.status, 413);
    await big.body?.cancel();
    const unknown = await server.fetchTcp("/v1/sandboxes/nope/exec", json({ argv: ["true"] }));
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.kind, "not_found");
  });

  await Deno.writeTextFile(`${world.project}/keep.txt`, "keep\n");
  const created = await server.fetchTcp(
    "/v1/sandboxes",
    json({
      name: "api1",
      share: world.project,
      labels: { job: "e2e" },
      deny: ["example.com"],
      secrets: [{ host: "api.example.test", scheme: "Bearer", value: SECRET, guestEnv: ["TOKEN"] }],
    }),
  );
  assert.equal(created.status, 201, await created.clone().text());
  const sandbox = await created.json();
  assert.equal(sandbox.state, "running");
  assert.equal(sandbox.createdBy, "default");
  const id: string = sandbox.id;

  await t.step("the sandbox is an ordinary session, found by its label", async () => {
    const ps = await world.ps();
    assert.ok(ps.some((s) => s.id === id && s.name === "api1" && s.state === "running"));
    const byLabel = await (await server.fetchTcp("/v1/sandboxes?label=job=e2e")).json();
    assert.deepEqual(byLabel.sandboxes.map((s: { id: string }) => s.id), [id]);
    const other = await (await server.fetchTcp("/v1/sandboxes?label=job=other")).json();
    assert.deepEqual(other.sandboxes, []);
  });

  await t.step("a secret reaches neither the guest nor the disk", async () => {
    const env = await execEvents(server, id, { argv: ["sh", "-c", 'echo "$TOKEN"'] });
    assert.match(new TextDecoder().decode(env.stdout), /^agentbox-placeholder-/);
    const grep = await new Deno.Command("grep", {
      args: ["-rlF", SECRET, world.root],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(grep.stdout), "", "files holding the secret");
  });

  await t.step("a second sandbox for the same client is over the limit", async () => {
    const second = await server.fetchTcp("/v1/sandboxes", json({ share: world.project }));
    assert.equal(second.status, 409);
    assert.equal((await second.json()).error.code, "sandbox_limit");
  });

  await t.step("exec streams 50 MB byte-exact, stdin in, exit codes out", async () => {
    const made = await execEvents(server, id, {
      argv: ["sh", "-c", "head -c 52428800 /dev/urandom > /tmp/big && sha256sum /tmp/big"],
    });
    const guestSum = new TextDecoder().decode(made.stdout).split(" ")[0];
    assert.match(guestSum, /^[0-9a-f]{64}$/);
    const read = await execEvents(server, id, { argv: ["cat", "/tmp/big"] });
    assert.equal(read.stdout.length, 52428800);
    assert.equal(await sha256(read.stdout), guestSum);
    assert.deepEqual(read.events.at(-1), { type: "exit", code: 0, signal: null, timedOut: false });
    const echo = await execEvents(server, id, {
      argv: ["sh", "-c", "cat; exit 7"],
      stdin: new TextEncoder().encode("from stdin\n").toBase64(),
    });
    assert.equal(new TextDecoder().decode(echo.stdout), "from stdin\n");
    assert.equal(echo.events.at(-1)?.code, 7);
  });

  await t.step("SSE gives the same events", async () => {
    const r = await server.fetchTcp(`/v1/sandboxes/${id}/exec`, {
      ...json({ argv: ["echo", "sse"] }),
      headers: { "content-type": "application/json", accept: "text/event-stream" },
    });
    assert.equal(r.headers.get("content-type"), "text/event-stream");
    const text = await r.text();
    assert.match(text, /event: stdout\ndata: \{"type":"stdout","data":"c3NlCg=="\}/);
    assert.match(text, /event: exit\ndata: \{"type":"exit","code":0/);
  });

  await t.step("a client that goes away takes its command with it", async () => {
    const abort = new AbortController();
    const r = await server.fetchTcp(`/v1/sandboxes/${id}/exec`, {
      ...json({ argv: ["sleep", "4242"] }),
      signal: abort.signal,
    });
    const reader = r.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /"type":"started"/);
    abort.abort();
    await reader.cancel().catch(() => {});
    let left = "";
    for (let i = 0; i < 50; i++) {
      left = new TextDecoder().decode(
        (await execEvents(server, id, { argv: ["ps", "-o", "args"] })).stdout,
      );
      if (!left.includes("sleep 4242")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(!left.includes("sleep 4242"), `still running:\n${left}`);
  });

  await t.step("files: binary write and read, list, stat, a directory as tar", async () => {
    const bytes = randomBytes(300_000) as Uint8Array<ArrayBuffer>;
    const put = await server.fetchTcp(`/v1/sandboxes/${id}/files?path=out/data.bin&mode=640`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    assert.equal(put.status, 204, await put.clone().text());
    const got = await server.fetchTcp(`/v1/sandboxes/${id}/files?path=/workspace/out/data.bin`);
    assert.equal(await sha256(new Uint8Array(await got.arrayBuffer())), await sha256(bytes));
    const list = await (await server.fetchTcp(`/v1/sandboxes/${id}/files/list?path=out`)).json();
    assert.deepEqual(
      list.entries.map((e: { name: string; type: string; size: number; mode: number }) => [
        e.name,
        e.type,
        e.size,
        e.mode,
      ]),
      [["data.bin", "file", 300_000, 0o640]],
    );
    const missing = await server.fetchTcp(`/v1/sandboxes/${id}/files/stat?path=/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "path_not_found");
    const tar = await server.fetchTcp(`/v1/sandboxes/${id}/files?path=out&tar=true`);
    assert.equal(tar.headers.get("content-type"), "application/x-tar");
    const archive = new Uint8Array(await tar.arrayBuffer());
    assert.ok(archive.length >= 300_000 && archive.length % 512 === 0);
  });

  await t.step("changes: the diff as JSON, apply one path, discard the rest", async () => {
    await execEvents(server, id, {
      argv: ["sh", "-c", "echo new > /workspace/new.txt && echo changed > /workspace/keep.txt"],
    });
    const diff = await (await server.fetchTcp(`/v1/sandboxes/${id}/changes`)).json();
    const paths = diff.entries.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ["keep.txt", "new.txt", "out", "out/data.bin"]);
    const applied = await server.fetchTcp(
      `/v1/sandboxes/${id}/changes/apply`,
      json({ paths: ["new.txt"] }),
    );
    assert.equal(applied.status, 200, await applied.clone().text());
    assert.equal((await applied.json()).counts.applied, 1);
    assert.equal(await Deno.readTextFile(`${world.project}/new.txt`), "new\n");
    assert.equal(await Deno.readTextFile(`${world.project}/keep.txt`), "keep\n");
    const discarded = await server.fetchTcp(`/v1/sandboxes/${id}/changes/discard`, json({}));
    assert.equal(discarded.status, 204);
  });

  await t.step("a terminal over the WebSocket, with a resize", async () => {
    const ws = new WebSocket(`${server.url!.replace("http", "ws")}/v1/sandboxes/${id}/pty`, [
      "agentbox.pty.v1",
      `agentbox.token.${server.token}`,
    ]);
    ws.binaryType = "arraybuffer";
    let screen = "";
    const exited = new Promise<{ code: number }>((resolve, reject) => {
      ws.onmessage = (m) => {
        if (m.data instanceof ArrayBuffer) screen += new TextDecoder().decode(m.data);
        else {
          const event = JSON.parse(m.data);
          if (event.type === "exit") resolve(event);
          if (event.type === "error") reject(new Error(event.error.message));
        }
      };
      ws.onerror = () => reject(new Error("websocket error"));
    });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      setTimeout(() => reject(new Error("no websocket")), 30_000);
    });
    assert.equal(ws.protocol, "agentbox.pty.v1");
    ws.send(JSON.stringify({ type: "start", argv: ["sh"], rows: 24, cols: 80 }));
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 300 && !pattern.test(screen); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(screen, pattern);
    };
    ws.send(new TextEncoder().encode("stty size\n"));
    await waitFor(/24 80/);
    ws.send(JSON.stringify({ type: "resize", rows: 33, cols: 101 }));
    ws.send(new TextEncoder().encode("stty size; exit 5\n"));
    await waitFor(/33 101/);
    assert.equal((await exited).code, 5);
  });

  await t.step("events: a stop is streamed; delete removes the session", async () => {
    const stream = await server.fetchTcp("/v1/events");
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const stopped = await server.fetchTcp(`/v1/sandboxes/${id}/stop`, json({ timeSec: 0 }));
    assert.equal(stopped.status, 200, await stopped.clone().text());
    assert.equal((await stopped.json()).state, "stopped");
    let seen = "";
    while (!seen.includes(`"state":"stopped"`)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    await reader.cancel();
    assert.match(seen, new RegExp(`event: sandbox\\ndata: \\{"id":"${id}"`));
    const deleted = await server.fetchTcp(`/v1/sandboxes/${id}`, { method: "DELETE" });
    assert.equal(deleted.status, 204);
    assert.ok(!(await world.ps()).some((s) => s.id === id));
    assert.deepEqual(world.qemus(), []);
  });
});

Deno.test("serve: a sandbox past its timeout is stopped", async (t) => {
  await using server = await startServer();
  const { world } = server;

  await t.step("timeoutSec stops the sandbox; the timeout route moves the deadline", async () => {
    const r = await server.fetchSocket("/v1/sandboxes", json({ name: "short", timeoutSec: 600 }));
    assert.equal(r.status, 201, await r.clone().text());
    const made = await r.json();
    assert.ok(made.expiresAt > Date.now() + 500_000);
    const moved = await server.fetchSocket(`/v1/sandboxes/short/timeout`, json({ timeoutSec: 2 }));
    assert.equal(moved.status, 200);
    assert.ok((await moved.json()).expiresAt <= Date.now() + 2000);
    let state = "running";
    for (let i = 0; i < 900 && ["running", "stopping"].includes(state); i++) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await world.ps()).find((s) => s.name === "short")?.state ?? "gone";
    }
    assert.equal(state, "stopped");
  });
});
