/**
 * `agentbox exec`: boot a VM, run one command in it, stream its output, exit with its status.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { WORKSPACE_DIR } from "../../guest-agent/workspace/layout.ts";
import { delay } from "../delay.ts";
import type { Egress } from "../net/egress.ts";
import {
  type NetChoice,
  type NetworkReport,
  startNetworkSession,
} from "../session/network_session.ts";
import {
  type CollectedChanges,
  startWorkspaceSession,
  type WorkspaceSession,
} from "../session/workspace_session.ts";
import { openDatabase } from "../store/database.ts";
import { findSession } from "../store/sessions.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { renderJson } from "../workspace/render_diff.ts";
import {
  type AfterRun,
  afterRun,
  finishWorkspace,
  SHARE_HELP,
  SHARE_OPTIONS,
} from "./workspace_options.ts";
import {
  interactiveApprover,
  NET_HELP,
  NET_OPTIONS,
  netChoice,
  printNetworkReport,
} from "./net_options.ts";
import { AgentError, type ExecHandle, type ExecResult } from "../channel/agent_client.ts";
import { bootVm } from "../vm/boot.ts";
import { VmError } from "../vm/errors.ts";
import type { RunningVm } from "../vm/qemu/qemu_vm.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { EXIT, UsageError } from "./errors.ts";
import { envOption, parseCommandArgs, positiveInt } from "./options.ts";
import { forwardInterrupts } from "./signals.ts";

/** Below this the guest kernel and the agent's Deno runtime do not fit. */
const MIN_MEMORY_MB = 256;

/** Help text of `agentbox exec`. */
export const EXEC_HELP = `Run a command in a fresh microVM and exit with its status.

Usage: agentbox exec [OPTIONS] -- CMD [ARG...]

Options:
  --image NAME      image to boot (default: default; build it with \`agentbox images build\`)
  --cpus N          virtual CPUs (default: ${VM_DEFAULTS.cpus})
  --memory MB       guest memory in MiB, at least ${MIN_MEMORY_MB} (default: ${VM_DEFAULTS.memoryMb})
  --timeout SEC     kill the command and everything it started after SEC seconds (exit 124)
  --env K=V         set an environment variable in the guest; K alone passes the host's value
  --workdir DIR     working directory inside the guest (default: /workspace with --share, else /)
${SHARE_HELP}
${NET_HELP}
  --json            print one JSON report on stdout (exit code, changes, network, timings); the
                    command's stdout then goes to stderr
  --verbose         print the causes of an error
  -h, --help        show this help

Every connection leaves through agentbox's proxy and is recorded (\`agentbox logs\`); the policy
comes from ~/.config/agentbox/config.toml and ./.agentbox.toml (docs/configuration.md). On a
terminal, graylisted hosts are asked about; otherwise they are refused.

With --share, exec ends with a summary of the changes and the session id; on a terminal it asks
whether to apply them, otherwise it keeps them for \`agentbox diff\` and \`agentbox apply\`.

Stdin is forwarded when it is not a terminal. Ctrl-C is forwarded to the command; press it three
times to stop the VM. Exit status: the command's, 128+N if signal N ended it, 124 timeout,
125 usage error, 126 VM or image failure, 127 command not found.`;

/** agentbox keeps using its own stdout and stderr after the command's streams end or fail. */
const KEEP_OPEN = { preventClose: true, preventAbort: true } as const;

/** Extra time the host gives the guest to enforce `--timeout` before it stops the VM itself. */
const TIMEOUT_GRACE_MS = 5000;

/** Run `agentbox exec ARGS`; returns the exit status. */
export async function execCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("exec", args, {
    image: { type: "string" },
    cpus: { type: "string" },
    memory: { type: "string" },
    timeout: { type: "string" },
    env: { type: "string", multiple: true },
    workdir: { type: "string" },
    ...NET_OPTIONS,
    ...SHARE_OPTIONS,
    json: { type: "boolean" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  const plan = execPlan(values, positionals);
  const db = openDatabase();
  try {
    return await runSession(db, plan);
  } finally {
    db.close();
  }
}

/** Everything `exec` was asked to do, validated before anything starts. */
interface ExecPlan {
  argv: string[];
  env: Record<string, string>;
  workdir?: string;
  timeoutSec?: number;
  image?: string;
  cpus: number;
  memoryMb: number;
  net?: NetChoice;
  allow?: string[];
  deny?: string[];
  share?: string;
  after: AfterRun;
  json: boolean;
}

function execPlan(values: Record<string, unknown>, positionals: string[]): ExecPlan {
  if (positionals.length === 0) {
    throw new UsageError("No command given: usage is `agentbox exec [OPTIONS] -- CMD [ARG...]`");
  }
  const json = !!values.json;
  const interactive = !json && Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  return {
    argv: positionals,
    env: envOption("exec", values.env),
    workdir: values.workdir as string | undefined,
    timeoutSec: values.timeout === undefined
      ? undefined
      : positiveInt("exec", "timeout", values.timeout, 0, 7 * 24 * 3600),
    image: values.image as string | undefined,
    cpus: positiveInt("exec", "cpus", values.cpus, VM_DEFAULTS.cpus, 64),
    memoryMb: positiveInt(
      "exec",
      "memory",
      values.memory,
      VM_DEFAULTS.memoryMb,
      1024 * 1024,
      MIN_MEMORY_MB,
    ),
    net: netChoice(values.net),
    allow: values.allow as string[] | undefined,
    deny: values.deny as string[] | undefined,
    share: values.share as string | undefined,
    after: afterRun(values, interactive),
    json,
  };
}

/** One sandbox session: network, workspace, VM, command; then the reports. */
async function runSession(db: DatabaseSync, plan: ExecPlan): Promise<number> {
  const started = performance.now();
  const log = plan.json ? () => {} : (line: string) => console.error(line);
  const network = await startNetworkSession({
    db,
    net: plan.net,
    allow: plan.allow,
    deny: plan.deny,
    projectDir: Deno.cwd(),
    tool: plan.argv[0].split("/").at(-1),
    proxy: { approve: plan.json ? undefined : interactiveApprover(Deno.cwd()) },
  });
  let run: RunOutcome;
  let networkReport: NetworkReport;
  const workspace = { session: undefined as WorkspaceSession | undefined };
  try {
    if (plan.share !== undefined) {
      workspace.session = await startWorkspaceSession(plan.share, sessionStateDir(network.id), {
        onProgress: (message) => log(`agentbox: ${message}`),
      });
    }
    run = await bootAndRun(plan, network.egress, workspace.session);
  } finally {
    networkReport = await network.finish();
    if (!plan.json) printNetworkReport(networkReport);
  }
  const session = findSession(db, network.id)!;
  const applied = run.changes && workspace.session
    ? await finishWorkspace(session, workspace.session.share.root, run.changes, plan.after, log)
    : undefined;
  if (plan.json) {
    console.log(JSON.stringify({
      session: network.id,
      exitCode: run.status,
      code: run.result.code,
      signal: run.result.signal,
      timedOut: run.result.timedOut,
      changes: run.changes && workspace.session
        ? JSON.parse(renderJson(run.changes.entries, {
          session: network.id,
          root: workspace.session.share.root,
        }))
        : null,
      applied: applied ?? null,
      network: { requests: networkReport.requests, refused: networkReport.refused },
      timings: { ...run.timings, totalMs: Math.round(performance.now() - started) },
    }));
  }
  return run.status;
}

/** How the command ended, the workspace's changes, and where the time went. */
interface RunOutcome {
  status: number;
  result: ExecResult;
  changes?: CollectedChanges;
  timings: { bootMs: number; commandMs: number; collectMs?: number };
}

async function bootAndRun(
  plan: ExecPlan,
  egress: Egress | undefined,
  workspace: WorkspaceSession | undefined,
): Promise<RunOutcome> {
  const bootStart = performance.now();
  const vm = await bootVm({
    image: plan.image,
    cpus: plan.cpus,
    memoryMb: plan.memoryMb,
    network: egress?.network,
    workspace: workspace?.share,
    onWarning: (message) => console.error(`agentbox: warning: ${message}`),
  });
  try {
    const commandStart = performance.now();
    const result = await runInVm(vm, {
      argv: plan.argv,
      // The user's --env wins, so a proxy variable can be overridden on purpose.
      env: { ...egress?.guestEnv, ...plan.env },
      cwd: plan.workdir ?? (workspace ? WORKSPACE_DIR : undefined),
      timeoutMs: plan.timeoutSec === undefined ? undefined : plan.timeoutSec * 1000,
    }, plan.json ? stderrSink() : Deno.stdout.writable);
    const timings: RunOutcome["timings"] = {
      bootMs: Math.round(commandStart - bootStart),
      commandMs: Math.round(performance.now() - commandStart),
    };
    const collectStart = performance.now();
    const changes = await workspace?.collect(vm.agent);
    if (changes) timings.collectMs = Math.round(performance.now() - collectStart);
    return { status: exitStatus(result, plan.timeoutSec), result, changes, timings };
  } finally {
    await vm.stop();
  }
}

async function runInVm(
  vm: RunningVm,
  request: { argv: string[]; env: Record<string, string>; cwd?: string; timeoutMs?: number },
  stdout: WritableStream<Uint8Array>,
): Promise<ExecResult> {
  const stdin = Deno.stdin.isTerminal() ? undefined : Deno.stdin.readable;
  const run = vm.agent.exec({ ...request, stdin });
  // Why agentbox itself stopped the VM, if it did: that, not the VM's death, is the outcome.
  let stoppedFor: ExecResult | undefined;
  const stopVm = (outcome: ExecResult) => {
    stoppedFor ??= outcome;
    return vm.stop();
  };
  const stopInterrupts = forwardInterrupts(run, (signal) => {
    console.error(`agentbox: ${signal}: stopping the VM`);
    return stopVm({ code: null, signal, timedOut: false });
  });
  const watchdog = request.timeoutMs === undefined ? undefined : setTimeout(
    () => stopVm({ code: null, signal: "SIGKILL", timedOut: true }),
    request.timeoutMs + TIMEOUT_GRACE_MS,
  );
  try {
    const output = Promise.all([
      forward(run, run.stdout, stdout),
      forward(run, run.stderr, Deno.stderr.writable),
    ]);
    // When the command fails to start or the VM dies, the result says why, not the output.
    output.catch(() => {});
    const died = vm.exited.then(() => vmStopped(vm));
    died.catch(() => {}); // Also settles after a normal exit, when the VM is stopped.
    const result = await Promise.race([run.result, died]);
    await output;
    return result;
  } catch (error) {
    if (stoppedFor) return stoppedFor;
    if (error instanceof AgentError && error.code !== "spawn_failed") {
      // Host-observed facts win over what the channel says: report the VM's death as such.
      const exit = await Promise.race([vm.exited, delay(1000)]);
      if (exit) throw await vmStopped(vm, error);
      throw new VmError(`Lost the VM's agent: ${error.message}`, { cause: error });
    }
    throw error;
  } finally {
    clearTimeout(watchdog);
    stopInterrupts();
  }
}

/** A second writer on our stderr, for the command's stdout under `--json`. */
function stderrSink(): WritableStream<Uint8Array> {
  return new WritableStream({
    async write(chunk) {
      for (let written = 0; written < chunk.length;) {
        written += await Deno.stderr.write(chunk.subarray(written));
      }
    },
  });
}

/** Copy a command's output to ours. */
async function forward(
  run: ExecHandle,
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
): Promise<void> {
  try {
    await from.pipeTo(to, KEEP_OPEN);
  } catch (error) {
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    // Our reader went away (`agentbox exec -- yes | head`): as in a shell pipeline, the command
    // gets SIGPIPE rather than writing forever into a pipe nobody reads.
    await run.signal("SIGPIPE").catch(() => {});
  }
}

async function vmStopped(vm: RunningVm, cause?: unknown): Promise<never> {
  const exit = await vm.exited;
  throw new VmError(
    `The VM stopped while the command was running (QEMU exit status ${exit.code})`,
    { cause, consoleTail: await vm.consoleTail() },
  );
}

function exitStatus(result: ExecResult, timeoutSec: number | undefined): number {
  if (result.timedOut) {
    console.error(`agentbox: the command timed out after ${timeoutSec} s and was killed`);
    return EXIT.timeout;
  }
  if (result.signal) return 128 + signalNumber(result.signal);
  return result.code ?? EXIT.vm;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(signal: string): number {
  return SIGNAL_NUMBERS[signal] ?? 0;
}
