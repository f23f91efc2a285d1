/**
 * Lean idle sessions (issue 21, goal 4): start N detached sessions, let them idle, measure where
 * their memory is (each session's QEMU and owner process: RSS, PSS, anonymous vs file-backed),
 * run an exec in each, stop them. Failures are counted, not hidden.
 *
 * Run: deno run -A tests/bench/idle_sessions.ts [SESSIONS] [AT_ONCE] [IDLE_SECONDS]
 * (default 16 sessions, started 4 at a time after the first, 10 s of idling)
 * With IDLE_BENCH_CACHE=DIR the template snapshots are kept in DIR across runs (else the first
 * session of every run makes one); with IDLE_BENCH_CHECKOUT=DIR the sessions run another checkout's
 * agentbox (e.g. `git worktree add /tmp/base <commit>`), for a before/after.
 *
 * The sessions are `agentbox run --detach --no-share` with the default network (a tap as root,
 * else the user network), from source, in private state directories under a scratch root (the
 * first session makes the template snapshot). PSS is the fair share: pages several processes map
 * (the template's memory file, the QEMU and Deno binaries) are divided among them. The drop in
 * the host's MemAvailable while the sessions idle, per session, is the third measure.
 *
 * @module
 */

import { BenchCli, type BenchSessionEntry } from "./session_bench.ts";
import { median } from "./stats.ts";

const sessions = Number(Deno.args[0] ?? 16);
const atOnce = Number(Deno.args[1] ?? 4);
const idleSeconds = Number(Deno.args[2] ?? 10);

interface Memory {
  rss: number;
  pss: number;
  anon: number;
  file: number;
}

/** A process's memory in KiB, from `/proc/PID/smaps_rollup` and `/proc/PID/status`. */
async function memoryOf(pid: number): Promise<Memory> {
  const rollup = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (text: string, name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
  return {
    rss: field(rollup, "Rss"),
    pss: field(rollup, "Pss"),
    anon: field(status, "RssAnon"),
    file: field(status, "RssFile") + field(status, "RssShmem"),
  };
}

function children(pid: number): number[] {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function comm(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "";
  }
}

function memAvailableKib(): number {
  const text = Deno.readTextFileSync("/proc/meminfo");
  return Number(/^MemAvailable:\s+(\d+)/m.exec(text)![1]);
}

const cli = new BenchCli(
  await Deno.makeTempDir({ prefix: "agentbox-bench-idle-" }),
  Deno.env.get("IDLE_BENCH_CHECKOUT"),
);
const cache = Deno.env.get("IDLE_BENCH_CACHE");
if (cache) cli.env.XDG_CACHE_HOME = cache;
const names = Array.from({ length: sessions }, (_, i) => `idle-${i}`);
const started: string[] = [];
const failures: string[] = [];
const availableBefore = memAvailableKib();

async function start(name: string): Promise<void> {
  try {
    await cli.run(["run", "--detach", "--no-share", "--name", name]);
    started.push(name);
  } catch (error) {
    failures.push(`start ${name}: ${(error as Error).message.split("\n")[0]}`);
  }
}

try {
  const startAt = performance.now();
  await start(names[0]); // makes the template
  const firstMs = performance.now() - startAt;
  const restAt = performance.now();
  for (let i = 1; i < names.length; i += atOnce) {
    await Promise.all(names.slice(i, i + atOnce).map(start));
  }
  const restMs = performance.now() - restAt;
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));

  const entries = JSON.parse(await cli.run(["ps", "--json"])) as (BenchSessionEntry & {
    ownerPid: number;
  })[];
  const qemu: Memory[] = [];
  const owner: Memory[] = [];
  for (const entry of entries.filter((e) => started.includes(e.name))) {
    const vmm = children(entry.ownerPid).find((pid) => comm(pid).startsWith("qemu"));
    if (vmm === undefined) {
      failures.push(`${entry.name}: no QEMU under owner ${entry.ownerPid}`);
      continue;
    }
    qemu.push(await memoryOf(vmm));
    owner.push(await memoryOf(entry.ownerPid));
  }
  const availableIdle = memAvailableKib();

  const execAt = performance.now();
  await Promise.all(started.map(async (name) => {
    try {
      const out = await cli.run(["exec", "--session", name, "--", "echo", name]);
      if (out.trim() !== name) failures.push(`exec ${name}: printed ${JSON.stringify(out)}`);
    } catch (error) {
      failures.push(`exec ${name}: ${(error as Error).message.split("\n")[0]}`);
    }
  }));
  const execMs = performance.now() - execAt;

  const mib = (kib: number) => (kib / 1024).toFixed(0);
  const row = (label: string, values: Memory[], key: keyof Memory) =>
    `${label.padEnd(22)} median ${mib(median(values.map((m) => m[key]))).padStart(4)} MiB  [${
      values.map((m) => mib(m[key])).join(", ")
    }]`;
  console.log(
    `${started.length}/${sessions} sessions started (${atOnce} at a time after the first)`,
  );
  console.log(
    `first (makes the template) ${(firstMs / 1000).toFixed(1)} s, the others ${
      (restMs / 1000).toFixed(1)
    } s; ${idleSeconds} s idle`,
  );
  for (const key of ["rss", "pss", "anon", "file"] as const) {
    console.log(row(`QEMU ${key}`, qemu, key));
    console.log(row(`owner ${key}`, owner, key));
  }
  const total = (key: keyof Memory) => median(qemu.map((q, i) => q[key] + owner[i][key]));
  console.log(
    `per session (QEMU + owner): RSS ${mib(total("rss"))} MiB, PSS ${mib(total("pss"))} MiB`,
  );
  console.log(
    `MemAvailable dropped by ${
      mib((availableBefore - availableIdle) / Math.max(1, started.length))
    } MiB per session`,
  );
  console.log(`exec in each (all at once): ${(execMs / 1000).toFixed(1)} s`);
} finally {
  await Promise.all(started.map((name) => cli.remove(name)));
  await Deno.remove(cli.root, { recursive: true });
  console.log(`failures: ${failures.length}`);
  for (const failure of failures) console.log(`  ${failure}`);
}
