/**
 * `agentbox exec` through a running `agentbox serve`: the server starts the one-shot sandbox
 * (from its warm pool when a VM fits: docs/serve.md, "Warm pool") and serves its control socket;
 * this runs the command there as `exec --session` does, hangs up, and renders what the server
 * says when the sandbox has stopped — the same summary, exit status and JSON report as the
 * command's own path (one_shot.ts). When no server answers on the socket, it says so (one
 * `--verbose` line) and the caller runs the sandbox itself.
 *
 * @module
 */

import type { AgentClient } from "../channel/agent_client.ts";
import { connectControlSocket } from "../api/session_connect.ts";
import { AgentboxError, ERROR_KINDS, type ErrorKind } from "../agentbox_error.ts";
import { defaultSocketPath } from "../serve/listen.ts";
import type { NetworkReport } from "../session/network_session.ts";
import { type CommandHost, type CommandIo, runAttached } from "./attached_command.ts";
import { exitStatus } from "./exit_status.ts";
import { emitReport, execReport, type ReportTarget } from "./exec_report.ts";
import { printNetworkReport } from "./net_options.ts";
import { output } from "./output_settings.ts";
import { printEvent } from "./print_event.ts";
import type { SandboxPlan } from "./sandbox_plan.ts";

/** Set to `1` to never hand `exec` to a running server. */
export const NO_SERVER_ENV = "AGENTBOX_NO_SERVER";

/**
 * Whether `plan` is one the server can run for this command: nothing the server cannot do for
 * it (ask about graylisted hosts or learned hosts on this terminal, share a directory, forward
 * ports, diff the system) — and the user did not turn it off (`AGENTBOX_NO_SERVER=1`).
 */
export function servable(plan: SandboxPlan): boolean {
  const off = Deno.env.get(NO_SERVER_ENV);
  if (off && off !== "0") return false;
  const { spec } = plan;
  return spec.share === undefined && spec.ports.length === 0 && !plan.prompts &&
    !plan.systemDiff && spec.net !== "learn";
}

/**
 * Run `plan` through the server on the default socket; the exit status, or `undefined` when no
 * server answers there (nothing was started). Throws the server's error when it could not start
 * the sandbox (the same `AgentboxError` the local path would have thrown).
 *
 * @example
 * ```ts ignore
 * import { execThroughServer } from "./served_exec.ts";
 * const status = await execThroughServer(plan, pipedIo());
 * ```
 */
export async function execThroughServer(
  plan: SandboxPlan,
  io: CommandIo | ((sessionId: string) => CommandIo),
  report?: ReportTarget,
): Promise<number | undefined> {
  const begun = performance.now();
  const socket = defaultSocketPath();
  const isSocket = await Deno.lstat(socket).then((info) => info.isSocket, () => false);
  if (!isSocket) return undefined;
  const client = Deno.createHttpClient(
    { proxy: { transport: "unix", path: socket } } as unknown as Deno.CreateHttpClientOptions,
  );
  try {
    let response: Response;
    try {
      response = await fetch("http://agentbox/v1/oneshot", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ spec: plan.spec }),
        client,
      });
    } catch {
      if (output.verbose) console.error(`agentbox: no server answers on ${socket}: running here`);
      return undefined;
    }
    if (!response.ok) throw serverError(await response.json().catch(() => undefined));
    const events = ndjson(response.body!);
    const started = await events.next();
    if (started.done || !isStarted(started.value)) {
      throw serverError(started.done ? undefined : started.value);
    }
    const { session, controlSocket, pooled, bootMs } = started.value;
    if (output.verbose) {
      console.error(
        `agentbox: running through agentbox serve (${pooled ? "a warm VM" : "no warm VM ready"})`,
      );
    }
    const warnings = [...started.value.warnings];
    for (const message of warnings) printEvent({ type: "warning", message });
    const commandIo = typeof io === "function" ? io(session) : io;
    const commandStart = performance.now();
    const agent = await connectControlSocket(controlSocket);
    let result;
    try {
      result = await runAttached(host(agent), commandIo, {
        argv: plan.spec.argv,
        timeoutMs: plan.spec.timeoutSec === undefined ? undefined : plan.spec.timeoutSec * 1000,
      });
    } finally {
      agent.close();
    }
    const commandMs = Math.round(performance.now() - commandStart);
    const ended = await events.next();
    if (ended.done || !isEnded(ended.value)) {
      throw serverError(ended.done ? undefined : ended.value);
    }
    for (const message of ended.value.warnings) printEvent({ type: "warning", message });
    warnings.push(...ended.value.warnings);
    const network = ended.value.network;
    const silent = plan.json || output.quiet;
    if (!silent) printNetworkReport(network);
    const status = exitStatus(result, plan.spec.timeoutSec);
    if (report) {
      await emitReport(
        report,
        execReport({
          session,
          exitCode: status,
          result,
          io: commandIo,
          warnings,
          changes: null,
          applied: null,
          network: {
            backend: network.backend,
            requests: network.requests,
            refused: network.refused,
          },
          timings: { bootMs, commandMs, totalMs: Math.round(performance.now() - begun) },
        }),
      );
    }
    return status;
  } finally {
    client.close();
  }
}

/** The server's sandbox, as the host of a command: giving up hangs up (the server stops it). */
function host(agent: AgentClient): CommandHost {
  return {
    exec: (request) => agent.exec(request),
    stop: () => Promise.resolve(agent.close()),
    stopMessage: (signal) => `${signal}: stopping the VM`,
    explain: (error) =>
      Promise.resolve(
        new AgentboxError(`Lost the VM's agent: ${error.message}`, {
          kind: "vm",
          code: "agent_lost",
          cause: error,
        }),
      ),
  };
}

interface Started {
  type: "started";
  session: string;
  controlSocket: string;
  pooled: boolean;
  bootMs: number;
  warnings: string[];
}

interface Ended {
  type: "ended";
  network: NetworkReport;
  warnings: string[];
}

function isStarted(value: unknown): value is Started {
  const v = value as Partial<Started> | null;
  return typeof v === "object" && v !== null && v.type === "started" &&
    typeof v.session === "string" && typeof v.controlSocket === "string" &&
    typeof v.pooled === "boolean" && typeof v.bootMs === "number" && strings(v.warnings);
}

function isEnded(value: unknown): value is Ended {
  const v = value as Partial<Ended> | null;
  const n = v?.network as Partial<NetworkReport> | undefined;
  return typeof v === "object" && v !== null && v.type === "ended" && strings(v.warnings) &&
    typeof n === "object" && n !== null && typeof n.sessionId === "string" &&
    ["tap", "user", "none"].includes(n.backend as string) && typeof n.requests === "number" &&
    Array.isArray(n.refused);
}

function strings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** The server's `{error: {kind, code, message}}` (a body or an NDJSON line) as an error. */
function serverError(value: unknown): AgentboxError {
  const error = (value as { error?: { kind?: unknown; code?: unknown; message?: unknown } } | null)
    ?.error;
  const kind = ERROR_KINDS.includes(error?.kind as ErrorKind)
    ? error!.kind as ErrorKind
    : "internal";
  const code = typeof error?.code === "string" ? error.code : "server_failed";
  const message = typeof error?.message === "string"
    ? error.message
    : "agentbox serve ended the sandbox without saying why: see its log";
  return new AgentboxError(message, { kind, code });
}

/** Each line of `body` as JSON. */
async function* ndjson(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  let buffered = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.trim()) yield JSON.parse(line);
    }
  }
}
