/**
 * CI-grade JSON (issue 16.5) on real VMs: `exec --json` keeps the command's stdout and stderr
 * apart from agentbox's own output (captured to the files the report names), `exec --report FILE`
 * leaves them untouched, `exec --session` reports too, and every report validates against the
 * JSON Schema published in docs/schemas/ (and carries no field the schema does not document).
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { ExecReportSchema } from "../../host/cli/report_schemas.ts";
import { sandbox } from "./session_sandbox.ts";

/** The published schema, read back from docs/ and turned into a validator. */
async function published(name: string): Promise<z.ZodType> {
  const text = await Deno.readTextFile(new URL(`../../docs/schemas/${name}`, import.meta.url));
  return z.fromJSONSchema(JSON.parse(text));
}

/** Validate `report` against docs/schemas/exec-report.json; every field must be documented. */
async function checkExecReport(report: unknown): Promise<void> {
  const result = (await published("exec-report.json")).safeParse(report);
  assert.ok(result.success, JSON.stringify(result.error?.issues));
  // The zod type drops keys it does not know: a field missing from the schema shows up here.
  assert.deepEqual(ExecReportSchema.parse(report), report);
}

Deno.test("exec --json: stdout is the report alone, the command's streams are in the files it names", async () => {
  await using s = await sandbox();
  const r = await s.cli([
    "exec",
    "--json",
    "--share",
    s.project,
    "--",
    "sh",
    "-c",
    "echo out; echo err >&2; echo new > made.txt; exit 3",
  ]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 1, "one line: the report");
  const report = JSON.parse(r.stdout);
  await checkExecReport(report);
  assert.equal(report.version, 1);
  assert.equal(report.exitCode, 3);
  assert.equal(report.code, 3);
  assert.equal(await Deno.readTextFile(report.output.stdout), "out\n");
  assert.equal(await Deno.readTextFile(report.output.stderr), "err\n");
  assert.ok(!/^(out|err)$/m.test(r.stderr), `the command's output is not on stderr: ${r.stderr}`);
  assert.equal((await Deno.stat(report.output.stdout)).mode! & 0o777, 0o600);
  assert.deepEqual(report.changes.entries.map((e: { path: string }) => e.path), ["made.txt"]);
  assert.equal(report.network.backend.length > 0, true);
});

Deno.test("exec --report FILE: the command's streams pass through untouched; --session reports too", async () => {
  await using s = await sandbox();
  const file = `${s.root}/report.json`;
  const r = await s.cli(["exec", "--report", file, "--", "sh", "-c", "echo out; echo err >&2"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.match(r.stderr, /^err$/m);
  const report = JSON.parse(await Deno.readTextFile(file));
  await checkExecReport(report);
  assert.deepEqual(report.output, { stdout: null, stderr: null });
  assert.equal(report.changes, null);

  const started = await s.cli(["run", "--detach", "--name", "ci"]);
  assert.equal(started.code, 0, started.stderr);
  const inSession = await s.cli(["exec", "--session", "ci", "--json", "--", "sh", "-c", "echo hi"]);
  assert.equal(inSession.code, 0, inSession.stderr);
  const sessionReport = JSON.parse(inSession.stdout);
  await checkExecReport(sessionReport);
  assert.equal(await Deno.readTextFile(sessionReport.output.stdout), "hi\n");
  assert.equal(sessionReport.network, null);
  assert.equal(sessionReport.timings.bootMs, undefined);
  const failing = await s.cli(["exec", "--session", "ci", "--report", file, "--", "false"]);
  assert.equal(failing.code, 1);
  const failed = JSON.parse(await Deno.readTextFile(file));
  await checkExecReport(failed);
  assert.deepEqual([failed.exitCode, failed.code], [1, 1]);
  assert.equal((await s.cli(["stop", "ci"])).code, 0);

  const both = await s.cli(["exec", "--json", "--report", file, "--", "true"]);
  assert.equal(both.code, 125);
  assert.match(both.stderr, /--json and --report cannot be used together/);
});
