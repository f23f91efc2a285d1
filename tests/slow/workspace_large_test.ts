/**
 * The workspace at the sizes a guest can throw at it: a 2 GiB file and 100,000 new files go
 * through collect, diff and apply with bounded host memory, and arrive intact. Slow under TCG
 * (minutes): `deno task test` runs tests/slow/ after the main suite, alone, so that their load
 * does not starve the other VM tests' boots.
 */
import assert from "node:assert/strict";
import { agentbox } from "../helpers.ts";

const decoder = new TextDecoder();

/** Run the CLI, sampling its peak resident memory (VmHWM) until it exits. */
async function cliWithPeakRss(args: string[], env: Record<string, string>) {
  const child = agentbox(args, { env });
  let peakKb = 0;
  const sampler = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // Gone already.
    }
  }, 200);
  const out = await child.output();
  clearInterval(sampler);
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    peakMb: peakKb / 1024,
  };
}

async function sandbox() {
  const base = await Deno.makeTempDir({ prefix: "agentbox-ws-large-" });
  await Deno.mkdir(`${base}/project`);
  return {
    project: `${base}/project`,
    env: { XDG_STATE_HOME: `${base}/state`, XDG_CACHE_HOME: `${base}/cache` },
    cleanup: () => Deno.remove(base, { recursive: true }),
  };
}

const SLOW = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "workspace large: a 2 GiB file is collected and applied intact, in bounded memory",
  ...SLOW,
}, async () => {
  const s = await sandbox();
  try {
    // Sparse in the guest (instant to make), 2 GiB of bytes through the channel all the same;
    // one non-zero byte at the end proves the tail arrived.
    const script = "truncate -s 2147483647 big.bin && printf x >> big.bin";
    const run = await cliWithPeakRss(
      ["exec", "--json", "--apply", "--share", s.project, "--", "sh", "-c", script],
      s.env,
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.changes.entries[0].new.size, 2 ** 31);
    assert.equal(report.applied.counts.applied, 1);
    const info = await Deno.stat(`${s.project}/big.bin`);
    assert.equal(info.size, 2 ** 31);
    using file = await Deno.open(`${s.project}/big.bin`);
    await file.seek(-1, Deno.SeekMode.End);
    const last = new Uint8Array(1);
    await file.read(last);
    assert.equal(decoder.decode(last), "x");
    assert.ok(run.peakMb < 400, `agentbox peaked at ${run.peakMb.toFixed(0)} MB`);
  } finally {
    await s.cleanup();
  }
});

Deno.test({
  name: "workspace large: 100,000 new files are collected, listed and applied",
  ...SLOW,
}, async () => {
  const s = await sandbox();
  try {
    // 100 directories of 1,000 files, each holding its own name.
    const script = "for d in $(seq 100); do mkdir d$d; (cd d$d && for f in $(seq 1000); do " +
      'echo "$d/$f" > f$f; done); done';
    const run = await cliWithPeakRss(
      ["exec", "--json", "--share", s.project, "--", "sh", "-c", script],
      s.env,
    );
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.equal(report.changes.entries.length, 100 + 100_000);
    assert.ok(run.peakMb < 600, `agentbox peaked at ${run.peakMb.toFixed(0)} MB`);
    const apply = await cliWithPeakRss(["apply", report.session], s.env);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    assert.equal(await Deno.readTextFile(`${s.project}/d37/f512`), "37/512\n");
    let count = 0;
    for (const dir of Deno.readDirSync(s.project)) {
      for (const _ of Deno.readDirSync(`${s.project}/${dir.name}`)) count++;
    }
    assert.equal(count, 100_000);
  } finally {
    await s.cleanup();
  }
});
