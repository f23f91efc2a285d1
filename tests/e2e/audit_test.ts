/**
 * Audit export end to end (issue 17.4): one real `agentbox exec` (QEMU) with all three sinks
 * configured — a syslog server on a unix datagram socket, a JSON-lines file, an OTLP/HTTP
 * collector on 127.0.0.1 — each gets the same events; with the collector down and the syslog
 * socket absent the sandbox still runs and exits with its command's status, each dead sink
 * reported once. Detached sessions (`run -d`, `exec --session`, `stop`, `rm`) leave their trail,
 * and so does a sandbox driven through `agentbox serve`, in its client's (token's) name.
 */
import assert from "node:assert/strict";
import { AuditEventSchema } from "../../host/api/audit_schema.ts";
import {
  fromAnyValue,
  otlpReceiver,
  syslogEvent,
  unixSyslogReceiver,
} from "../../host/audit/testing/receivers.ts";
import { startServer } from "./serve_server.ts";
import { sandbox } from "./session_sandbox.ts";

type Event = ReturnType<typeof AuditEventSchema.parse>;

async function readJsonLines(path: string): Promise<Event[]> {
  const text = await Deno.readTextFile(path);
  return text.trimEnd().split("\n").map((line) => AuditEventSchema.parse(JSON.parse(line)));
}

async function writeConfig(configHome: string, toml: string): Promise<void> {
  await Deno.mkdir(`${configHome}/agentbox`, { recursive: true });
  await Deno.writeTextFile(`${configHome}/agentbox/config.toml`, toml);
}

Deno.test("audit: one agentbox exec, the same events in a syslog socket, a JSON-lines file and an OTLP collector", async () => {
  await using s = await sandbox();
  await using syslog = unixSyslogReceiver(`${s.root}/log.sock`);
  await using otlp = otlpReceiver();
  await writeConfig(
    s.env.XDG_CONFIG_HOME,
    `[audit.file]
path = "${s.root}/audit/audit.jsonl"
[audit.syslog]
address = "unix:${s.root}/log.sock"
facility = "local4"
[audit.otlp]
endpoint = "${otlp.endpoint}"
`,
  );
  await Deno.mkdir(`${s.root}/audit`);
  // A refused request (no DNS needed: the policy refuses the name), a change applied, exit 3.
  const run = await s.cli([
    "exec",
    "--share",
    s.project,
    "--apply",
    "--",
    "sh",
    "-c",
    "curl -s -o /dev/null http://refused.example/ ; echo output-not-audited > made.txt; exit 3",
  ]);
  assert.equal(run.code, 3, run.stderr);
  assert.ok(!run.stderr.includes("audit"), run.stderr);
  const fromFile = await readJsonLines(`${s.root}/audit/audit.jsonl`);
  const types: string[] = fromFile.map((e) => e.type);
  for (
    const type of [
      "sandbox.created",
      "sandbox.started",
      "exec.started",
      "egress.decision",
      "exec.finished",
      "sandbox.stopped",
      "changes.applied",
    ]
  ) assert.ok(types.includes(type), `${type} missing from ${types}`);
  // Delivered before the command returned: the syslog and OTLP receivers already have them all.
  const fromSyslog = syslog.received.map((m) => AuditEventSchema.parse(syslogEvent(m)));
  const fromOtlp = otlp.received.map((r) => AuditEventSchema.parse(fromAnyValue(r.body)));
  const key = (events: Event[]) => events.map((e) => `${e.type} ${e.id}`);
  assert.deepEqual(key(fromSyslog), key(fromFile));
  assert.deepEqual(key(fromOtlp), key(fromFile));
  assert.deepEqual(otlp.received.map((r) => r.eventName), types);
  assert.ok(syslog.received.every((m) => /^<16[4-6]>1 /.test(m)), "facility local4");

  const session = fromFile[0].session.id;
  assert.ok(fromFile.every((e) => e.session.id === session && e.actor.startsWith("cli:")));
  const decision = fromFile.find((e) => e.type === "egress.decision");
  assert.ok(decision?.type === "egress.decision");
  assert.deepEqual([decision.host, decision.port, decision.decision], [
    "refused.example",
    80,
    "deny",
  ]);
  const finished = fromFile.find((e) => e.type === "exec.finished");
  assert.ok(finished?.type === "exec.finished");
  assert.equal(finished.exitCode, 3);
  assert.equal(finished.exec.argv[0], "sh");
  const applied = fromFile.find((e) => e.type === "changes.applied");
  assert.ok(applied?.type === "changes.applied");
  assert.deepEqual([applied.status, applied.paths], ["applied", ["made.txt"]]);
  assert.ok(!JSON.stringify(fromFile).includes("output-not-audited\n"));
});

Deno.test("audit: with the OTLP collector down and no syslog socket the sandbox runs, each drop reported once", async () => {
  await using s = await sandbox();
  // A port that was just free: nothing listens there.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await writeConfig(
    s.env.XDG_CONFIG_HOME,
    `[audit.file]
path = "${s.root}/audit.jsonl"
[audit.syslog]
address = "unix:${s.root}/no-such.sock"
[audit.otlp]
endpoint = "http://127.0.0.1:${port}"
`,
  );
  const started = performance.now();
  const run = await s.cli(["exec", "--", "sh", "-c", "echo ran; exit 0"]);
  const took = performance.now() - started;
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "ran\n");
  const lines = run.stderr.split("\n");
  const otlpDrops = lines.filter((l) => l.includes(`audit: otlp http://127.0.0.1:${port}/v1/logs`));
  const syslogDrops = lines.filter((l) => l.includes(`audit: syslog unix:${s.root}/no-such.sock`));
  assert.equal(otlpDrops.length, 1, run.stderr);
  assert.equal(syslogDrops.length, 1, run.stderr);
  assert.match(otlpDrops[0], /^agentbox: warning: audit: .*: dropping events: /);
  // The sink that works still has everything.
  const types = (await readJsonLines(`${s.root}/audit.jsonl`)).map((e) => e.type);
  assert.deepEqual(types, [
    "sandbox.created",
    "sandbox.started",
    "exec.started",
    "exec.finished",
    "sandbox.stopped",
  ]);
  console.log(`exec with two dead sinks: ${Math.round(took)} ms`);
});

Deno.test("audit: run -d, exec --session, stop and rm leave one session's trail", async () => {
  await using s = await sandbox();
  await writeConfig(s.env.XDG_CONFIG_HOME, `[audit.file]\npath = "${s.root}/audit.jsonl"\n`);
  const started = await s.cli(["run", "--detach", "--name", "web"]);
  assert.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  const exec = await s.cli(["exec", "--session", "web", "--", "sh", "-c", "exit 5"]);
  assert.equal(exec.code, 5, exec.stderr);
  const stop = await s.cli(["stop", "web"]);
  assert.equal(stop.code, 0, stop.stderr);
  const rm = await s.cli(["rm", "web"]);
  assert.equal(rm.code, 0, rm.stderr);
  const events = await readJsonLines(`${s.root}/audit.jsonl`);
  const types = events.map((e) => e.type);
  // run -d's own shell (the spec's command) is not started (no --command): one exec, ours.
  assert.deepEqual(types.filter((t) => t !== "exec.started" && t !== "exec.finished"), [
    "sandbox.created",
    "sandbox.started",
    "sandbox.stopped",
    "sandbox.removed",
  ]);
  const finished = events.filter((e) => e.type === "exec.finished");
  assert.ok(finished.some((e) => e.type === "exec.finished" && e.exitCode === 5), types.join());
  assert.ok(events.every((e) => e.session.id === id && e.session.name === "web"));
});

Deno.test("audit: a sandbox driven through agentbox serve leaves the same trail, in its client's name", async () => {
  await using server = await startServer({ tcp: true });
  const world = server.world;
  await writeConfig(
    world.env.XDG_CONFIG_HOME,
    `[audit.file]\npath = "${world.root}/audit.jsonl"\n`,
  );
  const post = (path: string, body: unknown) =>
    server.fetchTcp(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const created = await post("/v1/sandboxes", { name: "api1" });
  assert.equal(created.status, 201, await created.clone().text());
  const id: string = (await created.json()).id;
  const exec = await post(`/v1/sandboxes/${id}/exec`, { argv: ["sh", "-c", "exit 4"] });
  assert.equal(exec.status, 200, await exec.clone().text());
  await exec.body?.cancel();
  const stopped = await post(`/v1/sandboxes/${id}/stop`, {});
  assert.equal(stopped.status, 200, await stopped.clone().text());
  const deleted = await server.fetchTcp(`/v1/sandboxes/${id}`, { method: "DELETE" });
  assert.equal(deleted.status, 204);
  // The server writes its events after answering (emitting never waits for a sink).
  let events = await readJsonLines(`${world.root}/audit.jsonl`);
  for (let waited = 0; events.at(-1)?.type !== "sandbox.removed" && waited < 10_000; waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
    events = await readJsonLines(`${world.root}/audit.jsonl`);
  }
  const types: string[] = events.map((e) => e.type);
  for (const type of ["sandbox.created", "sandbox.started", "exec.started", "exec.finished"]) {
    assert.ok(types.includes(type), `${type} missing from ${types}`);
  }
  assert.deepEqual(types.slice(-2), ["sandbox.stopped", "sandbox.removed"], types.join());
  // Every event is the token's doing ("default"), whichever process wrote it (owner or server).
  assert.ok(
    events.every((e) => e.actor === "default" && e.session.id === id),
    JSON.stringify(events),
  );
  const finished = events.find((e) => e.type === "exec.finished" && e.exec.argv[2] === "exit 4");
  assert.ok(finished?.type === "exec.finished" && finished.exitCode === 4, types.join());
});
