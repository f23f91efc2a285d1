/**
 * A one-shot sandbox run for a client in another process: `agentbox exec` handing its sandbox to
 * a running `agentbox serve` (which keeps a warm pool: warm_pool.ts). The server starts the
 * sandbox — the one lifecycle, sandbox.ts — and serves its control socket, as a detached
 * session's owner does (docs/sessions.md); the client runs its command there with the ordinary
 * agent client (its stdio, signals, terminal, as `exec --session`), and hangs up. Then the
 * sandbox stops and the client gets its network report, as `runSandbox` would have returned it.
 *
 * @module
 */

import { serveControl } from "../session/control_server.ts";
import type { NetworkReport } from "../session/network_session.ts";
import { sessionPaths } from "../session/session_paths.ts";
import type { ApiContext } from "./context.ts";
import { startSandbox } from "./sandbox.ts";
import type { SandboxSpec } from "./sandbox_spec.ts";
import type { WarmSource } from "./warm_pool.ts";

/** The sandbox is running: where its client connects. */
export interface ServedExecStarted {
  /** The session's id. */
  session: string;
  /** The control socket (owner-only, in the session's private runtime directory). */
  controlSocket: string;
  /** Whether its VM came from the warm pool. */
  pooled: boolean;
  /** From the request to a running sandbox. */
  bootMs: number;
  /** Warnings so far. */
  warnings: string[];
}

/** The sandbox has stopped. */
export interface ServedExecEnded {
  network: NetworkReport;
  /** Warnings said after the start. */
  warnings: string[];
  /** From the request to the stopped sandbox. */
  totalMs: number;
  /**
   * Settles once the network's host side is removed too (a tap and its wall): the report comes
   * before that, so that the client is not kept waiting for it.
   */
  cleaned: Promise<void>;
}

/** Options of {@linkcode startServedExec}. */
export interface ServedExecOptions {
  /** The warm pool. */
  warm?: WarmSource;
  /** Aborts when the client is gone (its request was cut): the sandbox stops. */
  signal?: AbortSignal;
}

/**
 * Start a one-shot sandbox of `spec` and serve its control socket; `ended` settles once the
 * client has connected and hung up (or `signal` aborted: the client is gone; or the VM died) and
 * the sandbox is stopped. Throws what `startSandbox` throws.
 *
 * @example
 * ```ts ignore
 * import { startServedExec } from "./served_exec.ts";
 * const { started, ended } = await startServedExec(ctx, spec, { warm: pool });
 * console.log(started.controlSocket, (await ended).network.requests);
 * ```
 */
export async function startServedExec(
  ctx: ApiContext,
  spec: SandboxSpec,
  options: ServedExecOptions = {},
): Promise<{ started: ServedExecStarted; ended: Promise<ServedExecEnded> }> {
  const begun = performance.now();
  const warnings: string[] = [];
  const own: ApiContext = {
    ...ctx,
    onEvent: (event) => {
      if (event.type === "warning") warnings.push(event.message);
      ctx.onEvent(event);
    },
  };
  let pooled = false;
  // Pooled: a warm VM was taken and resumed (one that did not fit the session was discarded).
  const warm: WarmSource | undefined = options.warm && {
    claim: async (shape) => {
      const vm = await options.warm!.claim(shape);
      return vm && {
        ...vm,
        resume: (resumeOptions) => {
          pooled = true;
          return vm.resume(resumeOptions);
        },
      };
    },
  };
  const box = await startSandbox(own, spec, { warm });
  const controlSocket = sessionPaths(box.id).controlSocket;
  let server;
  try {
    server = serveControl(controlSocket, box.vm.agent, box.defaults);
  } catch (error) {
    await box.stop().catch(() => {});
    throw error;
  }
  const started: ServedExecStarted = {
    session: box.id,
    controlSocket,
    pooled,
    bootMs: Math.round(performance.now() - begun),
    warnings: warnings.splice(0),
  };
  const aborted = new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  const ended = (async () => {
    await Promise.race([server.deserted(), aborted, box.vm.exited]);
    await server.close();
    let cleaned = Promise.resolve();
    const network = await box.stop({ onTeardown: (done) => cleaned = done });
    return { network, warnings, totalMs: Math.round(performance.now() - begun), cleaned };
  })();
  return { started, ended };
}
