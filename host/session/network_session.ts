/**
 * The network side of one sandbox session: load the policy, record the session, start the
 * egress proxies (unless `--net none`), and when the session ends, sum up what was refused and —
 * in `learn` mode, once confirmed — write the allowlist the run needed into the project's
 * `.agentbox.toml`.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import {
  type ConfirmLearned,
  learnIntoProject,
  type LearnOutcome,
  minimalAllowlist,
  type ObservedHost,
} from "../config/learned_allowlist.ts";
import { loadPolicy } from "../config/load_config.ts";
import { decide, type Policy } from "../config/policy.ts";
import { canonicalHost } from "../net/canonical_host.ts";
import type { NetChoice } from "./net_choice.ts";
import { type Egress, type EgressOptions, startEgress } from "../egress/egress.ts";
import type { EgressLink } from "../egress/egress_link.ts";
import { type NetBackendChoice, resolveNetBackend } from "../net/net_backend.ts";
import { type RequestRecorder, storeRecorder } from "../proxy/mod.ts";
// Not tls/mod.ts: the session CA's X.509 code (~10 MiB of a session owner's heap) is loaded only
// when inspection is wanted (see below).
import {
  type GuestFile,
  type GuestTrust,
  guestTrustEnv,
  guestTrustFiles,
} from "../tls/guest_trust.ts";
import { hostTrust } from "../tls/host_trust.ts";
import type { TlsInspectionOptions } from "../tls/tls_inspection.ts";
import { inspectionWanted } from "../config/inspect_settings.ts";
import { listRequests, type RequestRecord, type RequestStart } from "../store/requests.ts";
import { createSession, endSession } from "../store/sessions.ts";
import { type NewLifecycle, reopenLifecycle } from "../store/session_lifecycle.ts";
import { addAgentCredentials } from "../config/agent_credentials.ts";
import { applyCredentials } from "../config/inspect_config.ts";
import type { AgentPreset } from "../config/agent_presets.ts";
import type { ResolvedAgent } from "../config/agent_profile.ts";

/** Options of {@linkcode startNetworkSession}. */
export interface NetworkSessionOptions {
  db: DatabaseSync;
  /** Secrets bound to hosts by the sandbox's spec (`SandboxSpec.credentials`). */
  credentials?: {
    host: string;
    port?: number;
    header: string;
    scheme?: string;
    secretEnv: string;
    guestEnv: string[];
  }[];
  /** `--net`; default: the mode the configuration sets (itself defaulting to `allowlist`). */
  net?: NetChoice;
  allow?: string[];
  deny?: string[];
  /** The project directory (recorded with the session). */
  projectDir: string;
  /**
   * The directory of the project's `.agentbox.toml` (found by `findProjectFile`), read and, in
   * learn mode, written; default `projectDir`.
   */
  configDir?: string;
  /** The program the session runs (`claude`, `make`, …), for per-tool allowlists. */
  tool?: string;
  /** The session's agent (agent_profile.ts): its allowlist and credential follow its endpoint. */
  agent?: ResolvedAgent;
  /** The agent profiles in effect (default the built-in ones; the user's `[agents.*]`). */
  agents?: Readonly<Record<string, AgentPreset>>;
  /** The user's `config.toml` (tests); default `$XDG_CONFIG_HOME/agentbox/config.toml`. */
  userConfig?: string;
  /** `--tls-inspect`: decrypt every allowed host's HTTPS (the config may also ask for it). */
  tlsInspect?: boolean;
  /** `--trust-host-ca`: give the guest the host's extra CAs (the config may also ask for it). */
  trustHostCa?: boolean;
  /** `--net-backend`; default: the configuration's `network.backend`, itself `auto`. */
  backend?: NetBackendChoice;
  /** Test seams of TLS inspection (upstream test CAs, credential sources). */
  inspection?: TlsInspectionOptions;
  /**
   * In learn mode: asked, with the hosts, before `.agentbox.toml` is widened (the user's answer,
   * or `--yes`). Absent: nothing is written; the report lists the hosts as declined.
   */
  confirmLearned?: ConfirmLearned;
  /** Graylist decisions and test seams, handed to the proxies. */
  proxy?: Pick<EgressOptions, "approve" | "resolver" | "dialer" | "onWarning">;
  /**
   * The session's id (default: random) and, for a long-lived session, its lifecycle; `reopen`:
   * the session exists (a stopped one started again), its row is reused.
   */
  session?: { id?: string; lifecycle?: NewLifecycle; reopen?: boolean };
  /**
   * The network's host side made ahead for this session (a warm VM's, egress/egress_link.ts):
   * used when the session's id is the link's and its backend the link's; else a new one is made.
   */
  egressLink?: EgressLink;
  /**
   * Told of every decided request once its row is written, before any byte goes upstream (the
   * audit trail's `egress.decision`). It must not throw and must not wait.
   */
  onDecision?: (start: RequestStart) => void;
}

/** A destination the proxy refused, with the rule that refused it. */
export interface Refusal {
  host: string;
  port: number;
  rule: string;
  count: number;
  /**
   * How to allow it, when the policy refused it (`run with --allow HOST`, or how to take it off
   * a deny list, which `--allow` cannot override); absent for refusals no setting lifts (an
   * address check, a name mismatch).
   */
  hint?: string;
}

/** What a session's network did, for the end-of-run summary. */
export interface NetworkReport {
  sessionId: string;
  /** How the VM reached the proxy: `tap`, `user`, or `none` (`--net none`). */
  backend: "tap" | "user" | "none";
  /** Requests made (an inspected tunnel is transport, not a request: see `RequestKind`). */
  requests: number;
  refused: Refusal[];
  /** In learn mode: the names written to `.agentbox.toml`, and those nobody confirmed. */
  learned?: LearnOutcome;
}

/** A started network session. */
export interface NetworkSession {
  id: string;
  policy: Policy;
  /** The proxies and the VM's network; absent with `--net none`. */
  egress?: Egress;
  /** Environment for guest commands: proxy variables, CA paths, credential placeholders. */
  guestEnv: Record<string, string>;
  /** Files to write into the guest before commands run (the inspection CA and bundle). */
  guestFiles: GuestFile[];
  /**
   * Stop the proxies, end the session and report, then remove the network's host side. Learn
   * mode writes the project file here, if `confirmLearned` says yes.
   */
  finish(options?: FinishOptions): Promise<NetworkReport>;
}

/** Options of `NetworkSession.finish`. */
export interface FinishOptions {
  /**
   * Report as soon as the proxies have stopped, and hand over the removal of the network's host
   * side (a tap, its wall, a relay key: tens of milliseconds of `ip`/`nft`) instead of awaiting
   * it: `done` settles once it is removed. The caller must keep its process alive until then.
   */
  onTeardown?: (done: Promise<void>) => void;
}

/**
 * Start a session's network. Throws `ConfigError` for an invalid configuration before anything
 * is recorded or started.
 *
 * @example
 * ```ts
 * import { startNetworkSession } from "./network_session.ts";
 * import { openDatabase } from "../store/database.ts";
 * const session = await startNetworkSession({ db: openDatabase(), projectDir: Deno.cwd() });
 * // boot with session.egress?.network, run, then:
 * console.log(await session.finish());
 * ```
 */
export async function startNetworkSession(
  options: NetworkSessionOptions,
): Promise<NetworkSession> {
  const { db, net } = options;
  const policy = await loadPolicy({
    userFile: options.userConfig,
    projectDir: options.configDir ?? options.projectDir,
    allow: options.allow,
    deny: options.deny,
    mode: net === "none" ? undefined : net,
    tlsInspect: options.tlsInspect,
    trustHostCa: options.trustHostCa,
    backend: options.backend,
    agents: options.agents,
    agent: options.agent,
  });
  // The sandbox's own secrets (an API client's), bound to their hosts like [[credentials]].
  if (options.credentials?.length) {
    applyCredentials(
      policy.inspect,
      options.credentials.map((c) => ({
        host: c.host,
        ...(c.port === undefined ? {} : { port: c.port }),
        header: c.header,
        ...(c.scheme === undefined ? {} : { scheme: c.scheme }),
        env: c.secretEnv,
        guest_env: c.guestEnv,
      })),
      (key) => ({ file: "the sandbox's credentials", key }),
      true,
    );
  }
  // Under inspection, a known agent's key is injected from the host's variable.
  if (policy.inspect.enabled) addAgentCredentials(policy.inspect, options.agent);
  const inspect = net !== "none" && inspectionWanted(policy.inspect)
    ? await (await import("../tls/tls_inspection.ts")).createTlsInspection(
      policy,
      options.inspection,
    )
    : undefined;
  const backend = net === "none" ? "user" : await resolveNetBackend(policy.backend);
  // What the guest trusts beyond its image: the session CA, the host's extra CAs, or both, over
  // the host's roots (so tunnelled hosts still verify for tools that replace their roots).
  const host = net !== "none" && (inspect || policy.trustHostCa) ? await hostTrust() : undefined;
  const hostCas = policy.trustHostCa ? host?.extras ?? [] : [];
  const trust: GuestTrust | undefined = host && (inspect || hostCas.length > 0)
    ? { roots: host.bundle, sessionCa: inspect?.ca.certPem, hostCas }
    : undefined;
  const reopen = options.session?.reopen && options.session.id !== undefined
    ? options.session.id
    : undefined;
  if (reopen !== undefined) {
    reopenLifecycle(db, reopen, options.session?.lifecycle?.ownerPid ?? null);
  }
  // A network made ahead (a warm VM's) serves only a session of its backend and its id.
  const link = net !== "none" && options.egressLink?.network.kind === backend &&
      options.egressLink.sessionId === options.session?.id
    ? options.egressLink
    : undefined;
  const session = reopen !== undefined ? { id: reopen } : createSession(db, {
    ...options.session,
    tool: options.tool,
    project: options.projectDir,
  });
  let egress: Egress | undefined;
  try {
    if (net !== "none") {
      egress = await startEgress({
        ...options.proxy,
        policy,
        recorder: decisionRecorder(storeRecorder(db, session.id), session.id, options.onDecision),
        tool: options.tool,
        inspect,
      }, { backend, sessionId: session.id, link });
    }
  } catch (error) {
    endSession(db, session.id);
    throw error;
  }
  return {
    id: session.id,
    policy,
    egress,
    guestEnv: {
      ...egress?.guestEnv,
      ...inspect?.credentials.guestEnv(),
      ...(trust ? guestTrustEnv(trust) : {}),
    },
    guestFiles: trust ? guestTrustFiles(trust) : [],
    async finish(finishOptions = {}) {
      await egress?.closeListeners();
      endSession(db, session.id);
      const rows = listRequests(db, { session: session.id });
      const report: NetworkReport = {
        sessionId: session.id,
        backend: egress?.network.kind ?? "none",
        requests: rows.filter((row) => row.kind === "request").length,
        refused: refusals(rows, policy, options.tool),
      };
      if (egress && policy.mode === "learn") {
        const hosts = minimalAllowlist(rows.filter(allowed).map(observed), policy);
        report.learned = await learnIntoProject(options.configDir ?? options.projectDir, hosts, {
          confirm: options.confirmLearned,
        });
      }
      const teardown = egress?.close() ?? Promise.resolve();
      if (finishOptions.onTeardown) finishOptions.onTeardown(teardown);
      else await teardown;
      return report;
    },
  };
}

/** `recorder`, telling `onDecision` of each row it wrote. */
function decisionRecorder(
  recorder: RequestRecorder,
  session: string,
  onDecision: NetworkSessionOptions["onDecision"],
): RequestRecorder {
  if (!onDecision) return recorder;
  return {
    ...recorder,
    begin(start) {
      const id = recorder.begin(start);
      try {
        onDecision({ ...start, session });
      } catch { /* the record is written; a listener's failure never refuses a request */ }
      return id;
    },
  };
}

function allowed(row: RequestRecord): boolean {
  return row.decision === "allow";
}

function observed(row: RequestRecord): ObservedHost {
  return { host: row.host, port: row.port, kind: row.scheme === "https" ? "connect" : "http" };
}

function refusals(rows: RequestRecord[], policy: Policy, tool?: string): Refusal[] {
  const byDestination = new Map<string, Refusal>();
  for (const row of rows) {
    if (row.decision === "allow") continue;
    const key = `${row.host}:${row.port}`;
    const seen = byDestination.get(key);
    if (seen) seen.count++;
    else {
      const refusal: Refusal = { host: row.host, port: row.port, rule: row.rule, count: 1 };
      const hint = refusalHint(row, policy, tool);
      byDestination.set(key, hint ? { ...refusal, hint } : refusal);
    }
  }
  return [...byDestination.values()];
}

/** How to allow a refused destination, as the policy says now (the row's host is canonical). */
function refusalHint(row: RequestRecord, policy: Policy, tool?: string): string | undefined {
  const kind = row.scheme === "https" ? "connect" : "http";
  return decide(policy, { host: canonicalHost(row.host), port: row.port, kind, tool }).hint;
}
