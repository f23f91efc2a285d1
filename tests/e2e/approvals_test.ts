/**
 * Approvals of a detached session, with a real VM: the guest asks for a graylisted host served by
 * a peer network namespace (resolved through the host namespace's own /etc/hosts); each request
 * is held until someone answers through the queue — the core's `answerApproval` from this
 * process, `agentbox approve` from another — or its deadline passes. The peer logs each request
 * it gets, so a refusal is proved on the receiving side too.
 */
import assert from "node:assert/strict";
import { answerApproval, type Approval, listApprovals } from "../../host/api/approvals.ts";
import { openContext } from "../../host/api/context.ts";
import { openDatabase } from "../../host/store/database.ts";
import { listRequests } from "../../host/store/requests.ts";
import { agentbox, namespacePairResolving, REPO, waitFor } from "../helpers.ts";
import { decoder, sandbox } from "./session_sandbox.ts";
import { startServer } from "./serve_server.ts";

let namespaces = { host: "", peer: "" };
const skipReason = await namespacePairResolving(["gray.test"]).then((pair) => {
  namespaces = pair;
  return undefined;
}, (err) => String(err));
if (skipReason) console.log(`skipped: approvals tests: ${skipReason}`);

/** A server in the peer namespace that prints `hit PATH` for each request it answers. */
const PEER_SERVER = `
Deno.serve({ hostname: "::", port: 80, onListen() { console.log("listening"); } }, (req) => {
  console.log("hit " + new URL(req.url).pathname);
  return new Response("hello from peer\\n");
});`;

const TIMEOUT_SEC = 12;

Deno.test({
  name: "approvals: a detached session's graylisted requests wait, are answered or time out",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using s = await sandbox();
  await Deno.writeTextFile(`${s.project}/.agentbox.toml`, '[network]\ngray = ["gray.test"]\n');
  const peer = new Deno.Command("ip", {
    args: ["netns", "exec", namespaces.peer, Deno.execPath(), "eval", PEER_SERVER],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const hits: string[] = [];
  const lines = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const reading = (async () => {
    let buffer = "";
    for (;;) {
      const { value, done } = await lines.read();
      if (done) return;
      buffer += value;
      for (let i = buffer.indexOf("\n"); i !== -1; i = buffer.indexOf("\n")) {
        hits.push(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
      }
    }
  })();
  // The session's owner runs in the host namespace (it resolves gray.test to the peer).
  const inHost = (args: string[]) =>
    new Deno.Command("ip", {
      args: [
        ...["netns", "exec", namespaces.host, Deno.execPath(), "run", "--allow-all", "--quiet"],
        `--config=${REPO}/deno.json`,
        `${REPO}/host/main.ts`,
        ...args,
      ],
      cwd: s.project,
      env: { ...s.env, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  const db = openDatabase(`${s.env.XDG_STATE_HOME}/agentbox/agentbox.db`);
  using ctx = openContext({ db });
  try {
    assert.ok(await waitFor(() => hits.includes("listening"), 30_000), "peer server up");
    const started = await inHost([
      ...["run", "-d", "--name", "gate", "--net-backend", "user"],
      ...["--approval-timeout", String(TIMEOUT_SEC)],
    ]);
    assert.equal(started.code, 0, decoder.decode(started.stderr));
    const session = decoder.decode(started.stdout).trim();

    /** curl PATH in the guest (held by the proxy while it waits): status line and body. */
    const curl = (path: string) => {
      const child = agentbox([
        ...["exec", "--session", "gate", "--"],
        ...[
          "curl",
          "-s",
          "-m",
          "120",
          "-w",
          "\\nstatus %{http_code}\\n",
          `http://gray.test${path}`,
        ],
      ], { env: s.env, cwd: s.project });
      return child.output().then((out) => ({
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      }));
    };
    const pending = async (): Promise<Approval> => {
      let found: Approval | undefined;
      assert.ok(
        await waitFor(() => {
          found = listApprovals(ctx, { session: "gate", pending: true })[0];
          return found !== undefined;
        }, 120_000),
        "a pending approval appears",
      );
      return found!;
    };

    // 1. Approved once through the core's operation: the request proceeds to the peer.
    const first = curl("/one");
    const asked = await pending();
    assert.deepEqual([asked.host, asked.port, asked.session], ["gray.test", 80, session]);
    assert.match(asked.rule, /gray "gray\.test"/);
    assert.equal(hits.includes("hit /one"), false, "held, not yet sent");
    answerApproval(ctx, asked.id, "once", "token:e2e");
    const one = await first;
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, "hello from peer\n\nstatus 200\n");
    assert.ok(hits.includes("hit /one"));

    // 2. Denied through the CLI: the guest gets the refusal, the peer never sees the request.
    const second = curl("/two");
    const again = await pending();
    assert.notEqual(again.id, asked.id, "once asks again");
    const listed = await s.cli(["approvals", "--json"]);
    assert.deepEqual(JSON.parse(listed.stdout).map((a: Approval) => a.id), [again.id]);
    const denied = await s.cli(["approve", String(again.id), "deny"]);
    assert.equal(denied.code, 0, denied.stderr);
    assert.match(denied.stderr, /approval \d+: gray\.test:80 denied/);
    const two = await second;
    assert.match(two.stdout, /needs approval .*status 403/s);
    const late = await s.cli(["approve", String(again.id), "once"]);
    assert.equal(late.code, 125);
    assert.match(late.stderr, /answered already \(deny by cli:/);

    // 3. Nobody answers: denied at the deadline, recorded as a timeout.
    const waitedFrom = Date.now();
    const three = await curl("/three");
    assert.ok(Date.now() - waitedFrom >= TIMEOUT_SEC * 1000, "held until the deadline");
    assert.match(three.stdout, /status 403/);

    const all = listApprovals(ctx, { session: "gate" });
    assert.deepEqual(
      all.map((a) => [a.decision, a.decidedBy?.replace(/^cli:.*/, "cli:USER")]),
      [["timeout", "agentbox"], ["deny", "cli:USER"], ["once", "token:e2e"]],
    );
    assert.ok(all.every((a) => a.decidedAt !== null && a.decidedAt >= a.askedAt));
    assert.deepEqual(hits.filter((h) => h.startsWith("hit ")), ["hit /one"]);
    const rules = listRequests(db, { session }).filter((r) => r.host === "gray.test")
      .map((r) => r.rule.replace(/^gray "gray\.test" \(network\.gray in [^)]*\)/, "gray"));
    assert.deepEqual(rules.sort(), ["gray, approved", "gray, not approved", "gray, not approved"]);
  } finally {
    await s.cli(["stop", "--kill", "gate"]).catch(() => {});
    peer.kill("SIGTERM");
    await peer.status;
    await reading.catch(() => {});
  }
});

Deno.test({
  name: "approvals over the API: a server's sandbox asks through /v1/approvals and /v1/events",
  ignore: skipReason !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  // The server (and so its sandboxes' owners) runs in the host namespace; its socket is reachable.
  await using server = await startServer({ namespace: namespaces.host });
  const { world } = server;
  await Deno.writeTextFile(`${world.project}/.agentbox.toml`, '[network]\ngray = ["gray.test"]\n');
  const peer = new Deno.Command("ip", {
    args: ["netns", "exec", namespaces.peer, Deno.execPath(), "eval", PEER_SERVER],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const peerOut = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let hits = "";
  const reading = (async () => {
    for (;;) {
      const { value, done } = await peerOut.read();
      if (done) return;
      hits += value;
    }
  })();
  const post = (path: string, body: unknown) =>
    server.fetchSocket(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  let id = "";
  try {
    assert.ok(await waitFor(() => hits.includes("listening"), 30_000), "peer server up");
    const created = await post("/v1/sandboxes", {
      name: "api-gate",
      projectDir: world.project,
      net: "allowlist",
      approvalTimeoutSec: 60,
    });
    assert.equal(created.status, 201, await created.clone().text());
    id = (await created.json()).id;
    const events = await server.fetchSocket("/v1/events");
    const eventText = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const approvalEvent = (async () => {
      while (!/event: approval\ndata: .*"host":"gray\.test"/.test(seen)) {
        const { value, done } = await eventText.read();
        if (done) return false;
        seen += value;
      }
      return true;
    })();
    const curl = (path: string) =>
      world.cli([
        ...["exec", "--session", id, "--"],
        ...[
          "curl",
          "-s",
          "-m",
          "120",
          "-w",
          "\\nstatus %{http_code}\\n",
          `http://gray.test${path}`,
        ],
      ]);
    const pending = async () => {
      let found: { id: number; host: string } | undefined;
      assert.ok(
        await waitFor(async () => {
          const r = await server.fetchSocket(`/v1/approvals?session=${id}`);
          found = (await r.json()).approvals[0];
          return found !== undefined;
        }, 120_000),
        "a pending approval appears",
      );
      return found!;
    };

    const first = curl("/api-one");
    const asked = await pending();
    assert.equal(asked.host, "gray.test");
    assert.equal(await approvalEvent, true, "the events stream announced it");
    await eventText.cancel();
    const answered = await post(`/v1/approvals/${asked.id}`, { decision: "once" });
    assert.equal(answered.status, 200);
    assert.match((await answered.json()).decidedBy, /^local:/);
    const one = await first;
    assert.equal(one.stdout, "hello from peer\n\nstatus 200\n", one.stderr);

    const second = curl("/api-two");
    const again = await pending();
    const denied = await post(`/v1/approvals/${again.id}`, { decision: "deny" });
    assert.equal(denied.status, 200);
    assert.match((await second).stdout, /needs approval .*status 403/s);
    const late = await post(`/v1/approvals/${again.id}`, { decision: "once" });
    assert.equal(late.status, 409);
    assert.equal((await late.json()).error.code, "approval_decided");

    const all = await (await server.fetchSocket(`/v1/approvals?session=${id}&all=true`)).json();
    assert.deepEqual(all.approvals.map((a: Approval) => a.decision), ["deny", "once"]);
    assert.match(hits, /hit \/api-one/);
    assert.doesNotMatch(hits, /hit \/api-two/);
  } finally {
    if (id) await server.fetchSocket(`/v1/sandboxes/${id}`, { method: "DELETE" }).catch(() => {});
    peer.kill("SIGTERM");
    await peer.status;
    await reading.catch(() => {});
  }
});
