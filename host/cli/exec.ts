/**
 * `agentbox exec`: boot a VM, run one command in it, stream its output, exit with its status.
 *
 * @module
 */

import { delay } from "../delay.ts";
import { openDatabase } from "../store/database.ts";
import { startNetworkSession } from "../session/network_session.ts";
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
  --workdir DIR     working directory inside the guest (default: /)
${NET_HELP}
  --verbose         print the causes of an error
  -h, --help        show this help

Every connection leaves through agentbox's proxy and is recorded (\`agentbox logs\`); the policy
comes from ~/.config/agentbox/config.toml and ./.agentbox.toml (docs/configuration.md). On a
terminal, graylisted hosts are asked about; otherwise they are refused.

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
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("No command given: usage is `agentbox exec [OPTIONS] -- CMD [ARG...]`");
  }
  const timeoutSec = values.timeout === undefined
    ? undefined
    : positiveInt("exec", "timeout", values.timeout, 0, 7 * 24 * 3600);
  const net = netChoice(values.net);
  const cpus = positiveInt("exec", "cpus", values.cpus, VM_DEFAULTS.cpus, 64);
  const memoryMb = positiveInt(
    "exec",
    "memory",
    values.memory,
    VM_DEFAULTS.memoryMb,
    1024 * 1024,
    MIN_MEMORY_MB,
  );
  const userEnv = envOption("exec", values.env);
  const db = openDatabase();
  try {
    const network = await startNetworkSession({
      db,
      net,
      allow: values.allow as string[] | undefined,
      deny: values.deny as string[] | undefined,
      projectDir: Deno.cwd(),
      tool: positionals[0].split("/").at(-1),
      proxy: { approve: interactiveApprover(Deno.cwd()) },
    });
    let status: number;
    try {
      const request = {
        argv: positionals,
        // The user's --env wins, so a proxy variable can be overridden on purpose.
        env: { ...network.egress?.guestEnv, ...userEnv },
        cwd: values.workdir as string | undefined,
        timeoutMs: timeoutSec === undefined ? undefined : timeoutSec * 1000,
      };
      status = await bootAndRun(
        {
          image: values.image as string | undefined,
          cpus,
          memoryMb,
          network: network.egress?.network,
        },
        request,
        timeoutSec,
      );
    } finally {
      printNetworkReport(await network.finish());
    }
    return status;
  } finally {
    db.close();
  }
}

async function bootAndRun(
  boot: Parameters<typeof bootVm>[0],
  request: { argv: string[]; env: Record<string, string>; cwd?: string; timeoutMs?: number },
  timeoutSec: number | undefined,
): Promise<number> {
  const vm = await bootVm({
    ...boot,
    onWarning: (message) => console.error(`agentbox: warning: ${message}`),
  });
  try {
    const result = await runInVm(vm, request);
    return exitStatus(result, timeoutSec);
  } finally {
    await vm.stop();
  }
}

async function runInVm(
  vm: RunningVm,
  request: { argv: string[]; env: Record<string, string>; cwd?: string; timeoutMs?: number },
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
      forward(run, run.stdout, Deno.stdout.writable),
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
