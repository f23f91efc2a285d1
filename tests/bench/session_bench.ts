/**
 * What the session benchmarks share: a detached agentbox session driven through the CLI from
 * source in private state directories, the in-process exec round trip into it, and the timing
 * and p50/p95 lines they print.
 *
 * @module
 */

import { AgentClient } from "../../host/channel/agent_client.ts";
import { agentbox } from "../helpers.ts";
import { percentile } from "./stats.ts";

/** One `agentbox ps --json` entry, the fields the benchmarks read. */
export interface BenchSessionEntry {
  name: string;
  controlSocket: string;
  /** The guest's address on a tap network (null on the user network; absent before tap). */
  guestAddress?: string | null;
}

/**
 * The CLI from source (this checkout's, or `checkout`'s) with runtime, state and cache directories
 * of its own under `root`; images from `dataHome` (`XDG_DATA_HOME`) when given, else the caller's.
 */
export class BenchCli {
  readonly env: Record<string, string>;

  constructor(readonly root: string, readonly checkout?: string, dataHome?: string) {
    this.env = {
      XDG_RUNTIME_DIR: `${root}/run`,
      XDG_STATE_HOME: `${root}/state`,
      XDG_CACHE_HOME: `${root}/cache`,
      ...(dataHome === undefined ? {} : { XDG_DATA_HOME: dataHome }),
    };
  }

  /** Run `agentbox ARGS` to its end; its stdout, or an error with its stderr. */
  async run(args: string[]): Promise<string> {
    const out = await agentbox(args, { env: this.env, cwd: this.root, checkout: this.checkout })
      .output();
    if (!out.success) {
      throw new Error(`agentbox ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  /** The `ps --json` entry of session `name`. */
  async session(name: string): Promise<BenchSessionEntry> {
    const sessions = JSON.parse(await this.run(["ps", "--json"])) as BenchSessionEntry[];
    const session = sessions.find((s) => s.name === name);
    if (!session?.controlSocket) throw new Error(`No running session named ${name}`);
    return session;
  }

  /** Stop and remove session `name`, reporting rather than throwing what fails. */
  async remove(name: string): Promise<void> {
    await this.run(["stop", name]).catch((e) => console.error(e.message));
    await this.run(["rm", name]).catch((e) => console.error(e.message));
  }
}

/**
 * The round trip without the CLI: connect to the session's control socket, hello, exec `true`,
 * wait for its exit.
 */
export async function execTrueInProcess(controlSocket: string): Promise<void> {
  const socket = await Deno.connect({ transport: "unix", path: controlSocket });
  const agent = await AgentClient.connect(socket);
  try {
    const run = agent.exec({ argv: ["true"] });
    await Promise.all([run.stdout.cancel(), run.stderr.cancel()]);
    const result = await run.result;
    if (result.code !== 0) throw new Error(`true exited ${result.code}`);
  } finally {
    agent.close();
  }
}

/**
 * The host's part of that round trip: connect to the control socket and exchange hellos (the
 * session's owner answers; nothing reaches the guest).
 */
export async function helloInProcess(controlSocket: string): Promise<void> {
  const socket = await Deno.connect({ transport: "unix", path: controlSocket });
  (await AgentClient.connect(socket)).close();
}

/** Milliseconds `once` takes. */
export async function timeOnce(once: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await once();
  return performance.now() - start;
}

/** `once` timed `runs` times in a row, in milliseconds, ascending. */
export async function timed(runs: number, once: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timeOnce(once));
  return times.sort((a, b) => a - b);
}

/** p50 and p95 of ascending `sorted` times. */
export function p50p95(sorted: number[]): { p50: number; p95: number } {
  return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) };
}

/** Print `label`'s p50 and p95 (ascending `sorted` times in ms). */
export function report(label: string, sorted: number[]): void {
  const { p50, p95 } = p50p95(sorted);
  console.log(
    `${label.padEnd(12)} p50 ${p50.toFixed(1).padStart(7)} ms  p95 ${
      p95.toFixed(1).padStart(7)
    } ms  (${sorted.length} runs)`,
  );
}
