/**
 * The shapes the server answers with (docs/api.md), as the SDK returns them.
 *
 * @module
 */

/** A sandbox as the server shows it. */
export interface SandboxInfo {
  id: string;
  name: string | null;
  /** `running`, `stopped`, … */
  state: string;
  labels: Record<string, string>;
  /** The client (token name, or `local:USER`) that made it. */
  createdBy: string | null;
  project: string | null;
  guestAddress: string | null;
  changes: "pending" | "applied" | "none";
  startedAt: number;
  endedAt: number | null;
  /** When its deadline stops it (ms since the epoch), or null. */
  expiresAt: number | null;
}

/** What `Sandbox.create` takes: the same spec as `agentbox run`, or a snapshot to restore. */
export interface CreateOptions {
  /** A name to find it by (else only its id). */
  name?: string;
  /** The image (default: the default image). */
  image?: string;
  /** Restore this snapshot instead of booting; only `name` and `timeoutSec` go with it. */
  snapshot?: string;
  /** An absolute host directory shown at /workspace. */
  share?: string;
  /** Where `.agentbox.toml` is read (default: the share). */
  projectDir?: string;
  /** The network policy. */
  net?: "none" | "allowlist" | "open" | "learn";
  /** Domains the guest may reach. */
  allow?: string[];
  /** Domains it may not. */
  deny?: string[];
  tlsInspect?: boolean;
  env?: Record<string, string>;
  user?: string;
  workdir?: string;
  cpus?: number;
  memoryMb?: number;
  /** Stop the sandbox this many seconds after it started. */
  timeoutSec?: number;
  labels?: Record<string, string>;
  /**
   * Seconds a graylisted destination waits for an answer (`client.approvals()`) before it is
   * denied (default 30; 0 refuses graylisted hosts at once).
   */
  approvalTimeoutSec?: number;
  /**
   * Secrets the proxy adds to HTTPS requests to their host (inspected); the guest sees only a
   * placeholder in `guestEnv`. Never stored on disk.
   */
  secrets?: Secret[];
}

/** A secret bound to a host: the proxy writes it into that host's requests, never the guest. */
export interface Secret {
  host: string;
  port?: number;
  /** The header it goes in (default: Authorization). */
  header?: string;
  /** e.g. "Bearer". */
  scheme?: string;
  value: string;
  /** Guest variables that receive a placeholder. */
  guestEnv?: string[];
}

/** A guest path, as files.list and files.stat give it. */
export interface GuestEntry {
  name: string;
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  mode: number;
  mtimeMs: number;
  target?: string;
}

/** One changed path of a sandbox's workspace. */
export interface Change {
  path: string;
  /** `added`, `modified`, `deleted`, … */
  status: string;
  applied: boolean;
  binary: boolean;
  hostChanged: boolean;
  [more: string]: unknown;
}

/** The workspace changes of a sandbox. */
export interface Changes {
  project: string;
  entries: Change[];
  hiddenIgnored: number;
  hiddenByPath: number;
  applied: number;
}

/** Options of `apply`. */
export interface ApplyOptions {
  /** Project-relative paths or globs to apply (default: all). */
  paths?: string[];
  dryRun?: boolean;
  force?: boolean;
  allowSymlinks?: boolean;
  exactModes?: boolean;
  allowHighRisk?: boolean;
}

/** What an apply did. */
export interface ApplySummary {
  status: string;
  resumed: boolean;
  changeset: string;
  counts: {
    applied: number;
    unchanged: number;
    skipped: number;
    conflict: number;
    refused: number;
  };
  outcomes: { path: string; result: string; [more: string]: unknown }[];
}

/** How a command ended. */
export interface ExitStatus {
  /** The exit code, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it (`SIGKILL`, …), or null. */
  signal: string | null;
  /** Whether its timeoutSec ran out. */
  timedOut: boolean;
}

/** A graylisted destination waiting for a human's answer (or, listed with `all`, answered). */
export interface Approval {
  id: number;
  session: string;
  sessionName: string | null;
  host: string;
  port: number;
  rule: string;
  /** When it was asked (ms since the epoch). */
  askedAt: number;
  /** No answer by then denies it (ms since the epoch). */
  deadline: number;
  state: "pending" | "decided" | "expired";
  decision: "once" | "session" | "always" | "deny" | "timeout" | null;
  /** The client that answered (token name, or `local:USER`). */
  decidedBy: string | null;
  decidedAt: number | null;
  note: string | null;
}

/** What an apply submitted for review will do, once accepted. */
export interface ReviewOptions {
  /** Project-relative paths or globs to apply (default: all). */
  paths?: string[];
  force?: boolean;
  allowSymlinks?: boolean;
  exactModes?: boolean;
  allowHighRisk?: boolean;
}

/** An apply held until an approver accepts or rejects it. */
export interface Review {
  id: number;
  session: string;
  sessionName: string | null;
  project: string;
  changeset: string;
  request: ReviewOptions;
  planned: { path: string; action?: string; highRisk?: string }[];
  submittedBy: string;
  submittedAt: number;
  state: "pending" | "accepted" | "rejected";
  decidedBy: string | null;
  decidedAt: number | null;
  result:
    | { status: string; counts: Record<string, number>; changeset: string }
    | { error: { code: string; message: string } }
    | null;
}
