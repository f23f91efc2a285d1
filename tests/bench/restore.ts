/**
 * Restore from a template snapshot (issue 21, goal 2): how long agentbox takes from QEMU's launch
 * to a greeted agent, against the bare QEMU restore floor of the same state file, measured in one
 * run; and the first exec after a restore against the second.
 *
 * Run: deno run -A tests/bench/restore.ts [RUNS]   (default 7 interleaved runs of each)
 *
 * Two ways of restoring, interleaved:
 * - `memory file`: what templates do — the state holds the devices, the memory is the template's
 *   file mapped copy-on-write (docs/images.md, "Template snapshots");
 * - `whole state`: the template's VM saved whole (its memory in the state, ~150 MB, as templates
 *   were before and session snapshots are), restored into anonymous memory.
 *
 * For each:
 * - `floor`: QEMU started exactly as agentbox starts it for a restore (same command line, same
 *   state file), driven over QMP only: launch → state loaded (`paused`) → `cont` answered. No
 *   agent, no guest work.
 * - `greeted`: `startQemuVm` with `restoreFrom`, the production path: launch → the agent's hello
 *   after the host's re-greeting.
 * - `exec 1`, `exec 2`: `true` through the agent, twice, on each greeted VM (the host's code is
 *   warm: warm-up VMs run first).
 * - QEMU's RSS and PSS after the two execs (`/proc/PID/smaps_rollup`).
 *
 * And once: the TCG translation blocks QEMU made (`info jit`) during the greeting, exec 1 and
 * exec 2 of a VM restored from the memory file — the guest code TCG translates afresh in every
 * new QEMU process, which no snapshot can carry.
 *
 * The shape is the default image's with default CPUs and memory and no network (the network
 * does not change the guest's memory much and needs a proxy); its template is made first if
 * missing.
 *
 * @module
 */

import { findImage } from "../../image/store.ts";
import { AGENT_DEADLINES, AgentClient } from "../../host/channel/agent_client.ts";
import { connectChannel } from "../../host/channel/connect.ts";
import { makeVmRuntimeDir } from "../../host/paths.ts";
import { qemuArgv, qemuFiles } from "../../host/vm/qemu/argv.ts";
import { QmpClient } from "../../host/vm/qemu/qmp.ts";
import { qemuSetup, type RunningVm, startQemuVm } from "../../host/vm/qemu/qemu_vm.ts";
import { INCOMING_ARGS, loadState, type RestoreSource } from "../../host/vm/qemu/snapshot_state.ts";
import { locateTemplate, makeTemplate, templateShape } from "../../host/vm/template.ts";
import { killVmm, spawnVmm, watchExit } from "../../host/vm/vmm_process.ts";
import { placeholderWorkspace, workspaceDisks } from "../../host/vm/workspace_disks.ts";
import type { VmSpec } from "../../host/vm/spec.ts";
import { median } from "./stats.ts";
import { processesMatching } from "../helpers.ts";

const runs = Number(Deno.args[0] ?? 7);

const image = await findImage("default");
const setup = await qemuSetup();
const shape = templateShape(image);
const template = await locateTemplate(image, shape, setup);
if (!(await Deno.stat(template.state).catch(() => undefined))) {
  const start = performance.now();
  await makeTemplate(template, image, shape, setup);
  console.log(`made the template in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}
const stateBytes = (await Deno.stat(template.state)).size;
const ramBytes = await allocatedBytes(template.ram);

/** How a VM is restored: from the template (memory mapped from its file), or a whole state. */
interface Mode {
  name: string;
  source: RestoreSource;
  memoryFile?: VmSpec["memoryFile"];
}

const fileMode: Mode = {
  name: "memory file",
  source: { file: template.state, memoryInFile: true },
  memoryFile: { path: template.ram, shared: false },
};

async function vmSpec(mode: Mode): Promise<VmSpec> {
  const runtimeDir = await makeVmRuntimeDir();
  const disks = workspaceDisks(await placeholderWorkspace(runtimeDir));
  return { ...shape, memoryFile: mode.memoryFile, disks, runtimeDir, bootTimeoutMs: 60_000 };
}

/**
 * The template's VM saved whole (memory in the state, as templates were before they had a memory
 * file, and as session snapshots are), restored into anonymous memory.
 */
async function wholeStateMode(dir: string): Promise<Mode> {
  const file = `${dir}/whole-state`;
  const spec = await vmSpec(fileMode);
  const vm = await startQemuVm(spec, { setup, restoreFrom: template.state, memoryInFile: true });
  try {
    await vm.saveState(file);
  } finally {
    await vm.stop();
  }
  return { name: "whole state", source: { file } };
}

/** Launch → state loaded → running, QMP only. */
async function floorOnce(mode: Mode): Promise<number> {
  const spec = await vmSpec(mode);
  const start = performance.now();
  const child = spawnVmm(setup.qemu, [
    ...qemuArgv(spec, { accel: setup.accel, channel: setup.channel, tscKhz: setup.tscKhz }),
    ...INCOMING_ARGS,
  ]);
  const exited = watchExit(child);
  const qmp = await QmpClient.connect(qemuFiles(spec.runtimeDir).qmpSocket, { waitMs: 30_000 });
  try {
    await loadState(qmp, mode.source);
    await qmp.execute("cont");
    return performance.now() - start;
  } finally {
    qmp.close();
    killVmm(child);
    await exited;
    await Deno.remove(spec.runtimeDir, { recursive: true });
  }
}

async function timeExec(agent: AgentClient): Promise<number> {
  const start = performance.now();
  const run = agent.exec({ argv: ["true"], deadlineMs: AGENT_DEADLINES.hostCommandMs });
  await Promise.all([run.stdout.cancel(), run.stderr.cancel(), run.result]);
  return performance.now() - start;
}

/** Launch → greeted agent (production path), then two execs; QEMU's memory after them. */
async function greetedOnce(
  mode: Mode,
): Promise<{ greeted: number; exec: number[]; rssKib: number; pssKib: number }> {
  const spec = await vmSpec(mode);
  const start = performance.now();
  const vm: RunningVm = await startQemuVm(spec, {
    setup,
    restoreFrom: mode.source.file,
    memoryInFile: mode.source.memoryInFile,
  });
  const greeted = performance.now() - start;
  try {
    const exec = [await timeExec(vm.agent), await timeExec(vm.agent)];
    const [pid] = processesMatching(spec.runtimeDir).filter((p) => isQemu(p));
    const { rssKib, pssKib } = await smapsRollup(pid);
    return { greeted, exec, rssKib, pssKib };
  } finally {
    await vm.stop();
  }
}

/** Translation blocks TCG made during the greeting and each of two execs of a restored VM. */
async function tbsOnce(mode: Mode): Promise<{ greeting: number; exec: number[] }> {
  const spec = await vmSpec(mode);
  const files = qemuFiles(spec.runtimeDir);
  const child = spawnVmm(setup.qemu, [
    ...qemuArgv(spec, { accel: setup.accel, channel: setup.channel, tscKhz: setup.tscKhz }),
    ...INCOMING_ARGS,
  ]);
  const exited = watchExit(child);
  let qmp: QmpClient | undefined;
  try {
    const conn = await connectChannel(
      { kind: "serial", socket: files.agentSocket },
      AbortSignal.timeout(30_000),
    );
    qmp = await QmpClient.connect(files.qmpSocket, { waitMs: 30_000 });
    // restoreState's steps, with the count taken between them.
    await loadState(qmp, mode.source);
    const loaded = await translationBlocks(qmp);
    await qmp.execute("cont");
    const agent = await AgentClient.reconnect(conn);
    const greeting = await translationBlocks(qmp) - loaded;
    const exec: number[] = [];
    for (let i = 0; i < 2; i++) {
      const before = await translationBlocks(qmp);
      await timeExec(agent);
      exec.push(await translationBlocks(qmp) - before);
    }
    agent.close();
    return { greeting, exec };
  } finally {
    qmp?.close();
    killVmm(child);
    await exited;
    await Deno.remove(spec.runtimeDir, { recursive: true });
  }
}

async function translationBlocks(qmp: QmpClient): Promise<number> {
  const text = await qmp.execute("human-monitor-command", { "command-line": "info jit" });
  const match = /^TB count\s+(\d+)/m.exec(String(text));
  if (!match) throw new Error(`No TB count in: ${text}`);
  return Number(match[1]);
}

/** Bytes a sparse file takes on disk. */
async function allocatedBytes(path: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-B1", "--", path] }).output();
  return Number(new TextDecoder().decode(out.stdout).split("\t")[0]);
}

function isQemu(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).startsWith("qemu");
  } catch {
    return false;
  }
}

async function smapsRollup(pid: number): Promise<{ rssKib: number; pssKib: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text)![1]);
  return { rssKib: field("Rss"), pssKib: field("Pss") };
}

const scratch = await Deno.makeTempDir({ prefix: "agentbox-restore-bench-" });
try {
  const modes = [fileMode, await wholeStateMode(scratch)];
  const wholeBytes = (await Deno.stat(modes[1].source.file)).size;
  // Warm-up: the host's own code paths (Deno's JIT), QEMU's binary and the files in the page cache.
  for (const mode of modes) {
    await floorOnce(mode);
    await greetedOnce(mode);
  }
  const results = modes.map(() => ({
    floor: [] as number[],
    greeted: [] as number[],
    exec1: [] as number[],
    exec2: [] as number[],
    rss: [] as number[],
    pss: [] as number[],
  }));
  for (let i = 0; i < runs; i++) {
    for (const [m, mode] of modes.entries()) {
      const r = results[m];
      r.floor.push(await floorOnce(mode));
      const g = await greetedOnce(mode);
      r.greeted.push(g.greeted);
      r.exec1.push(g.exec[0]);
      r.exec2.push(g.exec[1]);
      r.rss.push(g.rssKib / 1024);
      r.pss.push(g.pssKib / 1024);
    }
  }
  const tbs = await tbsOnce(fileMode);

  const list = (values: number[]) => values.map((x) => x.toFixed(0)).join(", ");
  const line = (name: string, values: number[], unit = "ms") =>
    console.log(
      `  ${name.padEnd(26)} median ${median(values).toFixed(0)} ${unit}  [${list(values)}]`,
    );
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  console.log(`template: state ${mib(stateBytes)} MiB + memory file ${mib(ramBytes)} MiB on disk`);
  console.log(`whole state: ${mib(wholeBytes)} MiB`);
  console.log(`${runs} runs of each (interleaved)`);
  for (const [m, mode] of modes.entries()) {
    const r = results[m];
    console.log(`${mode.name}:`);
    line("floor (launch → running)", r.floor);
    line("greeted (launch → hello)", r.greeted);
    line("exec 1", r.exec1);
    line("exec 2", r.exec2);
    line("QEMU RSS after 2 execs", r.rss, "MiB");
    line("QEMU PSS after 2 execs", r.pss, "MiB");
    const ratio = median(r.greeted) / median(r.floor);
    console.log(`  ratio greeted / floor: ${ratio.toFixed(2)} (target <= 2)`);
    const execRatio = median(r.exec1) / median(r.exec2);
    console.log(`  ratio exec 1 / exec 2: ${execRatio.toFixed(2)} (target <= 1.3)`);
  }
  console.log(
    `TCG translation blocks (memory file): greeting ${tbs.greeting}, exec 1 ${tbs.exec[0]}, ` +
      `exec 2 ${tbs.exec[1]}`,
  );
} finally {
  await Deno.remove(scratch, { recursive: true });
}
