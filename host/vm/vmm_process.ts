/**
 * The VMM as a child process, whichever VMM it is: started so that it can never outlive agentbox
 * (`setpriv --pdeathsig SIGKILL`: the kernel kills it when agentbox dies for any reason, SIGKILL
 * included), watched until it exits, and its guest console followed into a bounded ring.
 *
 * @module
 */

import { connectChannel } from "../channel/connect.ts";
import type { ConsoleTail } from "./console_tail.ts";
import { VmError } from "./errors.ts";
import type { VmExit } from "./running_vm.ts";
import { helperEnv } from "../helper_env.ts";

/**
 * Start `binary args…` under `setpriv --pdeathsig SIGKILL`, in a session of its own (no terminal's
 * signals reach it), stdin and stdout closed, stderr piped (for {@linkcode watchExit}). Throws {@linkcode VmError} when setpriv is missing.
 *
 * @example
 * ```ts
 * import { spawnVmm, watchExit } from "./vmm_process.ts";
 * const child = spawnVmm("cloud-hypervisor", ["--api-socket", "path=/run/vm/ch-api.sock"]);
 * console.log(await watchExit(child));
 * ```
 */
export function spawnVmm(binary: string, args: string[]): Deno.ChildProcess {
  try {
    return new Deno.Command("setpriv", {
      args: ["--pdeathsig", "SIGKILL", "--", binary, ...args],
      // A session of its own (setsid): a Ctrl-C typed in agentbox's terminal sends SIGINT to the
      // terminal's whole foreground process group, and a VMM in it would die before agentbox
      // could forward the interrupt to the command and collect the workspace's changes.
      detached: true,
      // The VMM (and the user network's relays it starts) gets none of agentbox's variables.
      env: helperEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    throw new VmError(`Cannot start ${binary}: setpriv (util-linux) is missing`, { cause });
  }
}

/**
 * How `process` ended, with the first 4 KiB it wrote on stderr.
 *
 * @example
 * ```ts
 * import { spawnVmm, watchExit } from "./vmm_process.ts";
 * const exit = await watchExit(spawnVmm("qemu-system-x86_64", ["-version"]));
 * ```
 */
export async function watchExit(process: Deno.ChildProcess): Promise<VmExit> {
  const [status, stderr] = await Promise.all([process.status, firstBytes(process.stderr, 4096)]);
  return { code: status.code, signal: status.signal, stderr: stderr.trim() };
}

/**
 * SIGKILL `process`, if it still runs.
 *
 * @example
 * ```ts
 * import { killVmm, spawnVmm } from "./vmm_process.ts";
 * killVmm(spawnVmm("sleep", ["60"]));
 * ```
 */
export function killVmm(process: Deno.ChildProcess): void {
  try {
    process.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * Connect to the console socket as soon as the VMM creates it and keep its tail until exit.
 *
 * @example
 * ```ts
 * import { ConsoleTail } from "./console_tail.ts";
 * import { followConsole } from "./vmm_process.ts";
 * declare const exited: Promise<unknown>;
 * const tail = new ConsoleTail();
 * followConsole("/run/vm/console.sock", tail, exited);
 * ```
 */
export function followConsole(socket: string, tail: ConsoleTail, exited: Promise<unknown>): void {
  const abort = new AbortController();
  exited.then(() => abort.abort());
  connectChannel({ kind: "serial", socket }, abort.signal)
    .then((conn) => tail.follow(conn.readable))
    .catch(() => {
      // The VMM exited before its console existed: there is nothing to show.
    });
}

async function firstBytes(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    if (text.length < limit) text += decoder.decode(chunk.subarray(0, limit - text.length));
  }
  return text;
}
