import assert from "node:assert/strict";
import {
  escapeParamValue,
  formatSyslog,
  headerField,
  NILVALUE,
  octetCounted,
  priority,
  SD_ID,
  severityOf,
} from "./syslog_format.ts";
import { sealEvent } from "./seal_event.ts";
import { AuditEventSchema } from "./audit_event.ts";

// RFC 5424 section 6: HEADER STRUCTURED-DATA [SP MSG], with SD-PARAM values escaped.
const RFC5424 =
  /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[(?:[^\]\\"]|\\.|"(?:[^"\\]|\\.)*")*\]|-) \uFEFF(.*)$/s;

Deno.test("SD-PARAM values escape the three characters RFC 5424 names, and nothing else", () => {
  assert.equal(escapeParamValue('say "hi"'), 'say \\"hi\\"');
  assert.equal(escapeParamValue("C:\\dir"), "C:\\\\dir");
  assert.equal(escapeParamValue("a]b"), "a\\]b");
  assert.equal(escapeParamValue("[ok] = é"), "[ok\\] = é");
});

Deno.test("PRI is facility * 8 + severity", () => {
  assert.equal(priority("kern", 0), 0);
  assert.equal(priority("user", 6), 14);
  assert.equal(priority("auth", 4), 36);
  assert.equal(priority("local0", 6), 134);
  assert.equal(priority("local7", 4), 188);
});

Deno.test("header fields that are empty, too long or not printable ASCII are the NILVALUE", () => {
  assert.equal(headerField(undefined, 48), NILVALUE);
  assert.equal(headerField("", 48), NILVALUE);
  assert.equal(headerField("a".repeat(49), 48), NILVALUE);
  assert.equal(headerField("has space", 255), NILVALUE);
  assert.equal(headerField("hôte", 255), NILVALUE);
  assert.equal(headerField("host-1.example", 255), "host-1.example");
});

Deno.test("an event formats as one RFC 5424 message: severity, MSGID, escaped SD, JSON MSG", () => {
  const event = sealEvent({
    type: "egress.decision",
    session: { id: "0f3c2a9e-0000-4000-8000-000000000000", name: 'we"b]\\' },
    method: "CONNECT",
    scheme: "https",
    host: "evil.example",
    port: 443,
    decision: "deny",
    rule: "default deny",
    kind: "request",
  }, "cli:me");
  const message = formatSyslog(event, { facility: "local0", hostname: "h1", procId: "42" });
  const match = RFC5424.exec(message);
  assert.ok(match, message);
  const [, pri, time, host, app, proc, msgId, sd, msg] = match;
  assert.equal(Number(pri), 16 * 8 + 4, "a refusal is a warning");
  assert.equal(time, event.time);
  assert.deepEqual([host, app, proc, msgId], ["h1", "agentbox", "42", "egress.decision"]);
  assert.ok(sd.startsWith(`[${SD_ID} id="${event.id}" `));
  assert.ok(sd.includes('name="we\\"b\\]\\\\"'), sd);
  assert.deepEqual(AuditEventSchema.parse(JSON.parse(msg)), event);
});

Deno.test("informational unless a refusal or a failure; a hostname with a space becomes NILVALUE", () => {
  const started = sealEvent({
    type: "exec.started",
    session: { id: "s" },
    exec: { id: "e", argv: ["ls"] },
  }, "a");
  assert.equal(severityOf(started), 6);
  const failed = sealEvent({
    type: "sandbox.failed",
    session: { id: "s" },
    error: { code: "x", message: "y" },
  }, "a");
  assert.equal(severityOf(failed), 4);
  const message = formatSyslog(started, { facility: "user", hostname: "bad host", procId: "1" });
  assert.ok(message.startsWith(`<14>1 ${started.time} - agentbox 1 exec.started [`), message);
});

Deno.test("octet counting prefixes the length in bytes, not characters", () => {
  const framed = new TextDecoder().decode(octetCounted("é€"));
  assert.equal(framed, "5 é€");
});
