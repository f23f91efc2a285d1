/**
 * Every message of the agentbox wire protocol, and the validator that turns an untrusted decoded
 * CBOR value into one of them. This module is the protocol's specification; `docs/protocol.md`
 * explains it with transcripts.
 *
 * Compatibility rules (as QMP's): receivers ignore unknown keys, a field never changes meaning,
 * peers branch on `code`, never on `message`.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import type { ProtocolErrorCode } from "./errors.ts";

/** Protocol version spoken by this build. A peer with another major version is refused. */
export const PROTOCOL_VERSION = 1;

/** Stream file descriptors: 0 = stdin (host → agent), 1 = stdout, 2 = stderr (agent → host). */
export type Fd = 0 | 1 | 2;

/** First message on a connection, sent by the agent as soon as its end is open, then by the host. */
export interface Hello {
  type: "hello";
  version: number;
  role: "agent" | "host";
  /** Operations this side implements, e.g. `exec`, `exec.signal`, `exec.timeout`. */
  capabilities: string[];
  /** Free-form name and version of the software, for logs. */
  software: string;
  /**
   * Host only: the host's wall clock, milliseconds since the epoch. The agent sets the guest's
   * clock from it: a VM restored from a snapshot wakes with the time of the snapshot.
   */
  time?: number;
  /**
   * Host only: up to {@linkcode MAX_HELLO_ENTROPY} random bytes the agent mixes into the guest
   * kernel's random pool and reseeds it with, so that VMs restored from one snapshot diverge.
   */
  entropy?: Uint8Array;
}

/** Most bytes of `entropy` a hello may carry. */
export const MAX_HELLO_ENTROPY = 64;

/** Host → agent: start a process; `stream` is a new id chosen by the host. */
export interface ExecStart {
  type: "exec.start";
  stream: number;
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  /** When false the process gets an empty stdin and no `stream.data` with fd 0 may follow. */
  stdin: boolean;
  /** Kill the whole process group after this many milliseconds. */
  timeoutMs?: number;
  /**
   * Run the command on a new pseudo-terminal of this size (capability `exec.pty`). Its stdin,
   * stdout and stderr are then the terminal: output comes on fd 1 only (fd 2 ends at once), input
   * goes to fd 0, and the terminal's line discipline turns Ctrl-C into SIGINT and so on.
   */
  pty?: PtySpec;
  /**
   * Run the command as this user of the guest's `/etc/passwd` (capability `exec.user`): its uid
   * and primary gid, no supplementary groups, and `HOME`, `USER` and `LOGNAME` from its entry
   * unless `env` sets them. A name matching {@linkcode USER_NAME_PATTERN}. Absent: the agent's
   * own user (root).
   */
  user?: string;
}

/** What a user name in `exec.start` must look like: a portable POSIX login name, e.g. `agent`. */
export const USER_NAME_PATTERN: RegExp = /^[a-z_][a-z0-9_-]{0,31}$/;

/** The terminal an `exec.start` asks for: window size and the `TERM` the command sees. */
export interface PtySpec {
  /** Rows, 1..{@linkcode MAX_TERMINAL_SIZE}. */
  rows: number;
  /** Columns, 1..{@linkcode MAX_TERMINAL_SIZE}. */
  cols: number;
  /** `TERM` for the command, unless `env` sets one: 1..64 of `A-Za-z0-9._+-`, e.g. `xterm-256color`. */
  term: string;
}

/** Largest number of rows or columns a terminal may have. */
export const MAX_TERMINAL_SIZE = 4096;

/** Agent → host: the process is running. */
export interface ExecStarted {
  type: "exec.started";
  stream: number;
  pid: number;
}

/** Bytes of stdin (host → agent) or stdout/stderr (agent → host); counted against the window. */
export interface StreamData {
  type: "stream.data";
  stream: number;
  fd: Fd;
  data: Uint8Array;
}

/** End of one fd of a stream (EOF). */
export interface StreamEnd {
  type: "stream.end";
  stream: number;
  fd: Fd;
}

/** The receiver consumed `bytes` of `fd`: the sender may send that many more. */
export interface StreamCredit {
  type: "stream.credit";
  stream: number;
  fd: Fd;
  bytes: number;
}

/** Host → agent: deliver a signal to the process group. */
export interface ExecSignal {
  type: "exec.signal";
  stream: number;
  signal: Deno.Signal;
}

/** Host → agent: the terminal of a `pty` exec changed size (capability `exec.pty`). */
export interface ExecResize {
  type: "exec.resize";
  stream: number;
  rows: number;
  cols: number;
}

/** Agent → host: the process ended; sent after `stream.end` of fds 1 and 2. Ends the stream. */
export interface ExecExit {
  type: "exec.exit";
  stream: number;
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: Deno.Signal | null;
  timedOut: boolean;
}

/**
 * Host → agent: send the workspace's changes (the overlay's upper layer) on fd 1 of `stream`, as
 * a changes stream (docs/protocol.md): for each entry a 4-byte big-endian length and a CBOR
 * record, followed, for a file, by exactly `size` bytes of content.
 */
export interface ChangesStart {
  type: "changes.start";
  stream: number;
  /**
   * What to scan (capability `changes.system`): `workspace` (the default) the shared workspace's
   * overlay; `system` the root filesystem's overlay (paths relative to `/`), leaving out
   * `exclude`; `system-base` the entries named in `paths` as the image (the root overlay's lower
   * layer) has them — files with their content, directories, symlinks; names it lacks are left
   * out.
   */
  scope?: ChangesScope;
  /** `system`: relative paths left out of the scan with everything under them. */
  exclude?: string[];
  /** `system-base`: the relative paths to report. */
  paths?: string[];
}

/** What a `changes.start` scans. */
export type ChangesScope = "workspace" | "system" | "system-base";

/** Every {@linkcode ChangesScope}. */
export const CHANGES_SCOPES: readonly ChangesScope[] = ["workspace", "system", "system-base"];

/** Agent → host: the changes stream is complete; sent after `stream.end` of fd 1. Ends the stream. */
export interface ChangesDone {
  type: "changes.done";
  stream: number;
  /** Entries sent, so that the host can tell a complete stream from a cut one. */
  entries: number;
}

/**
 * Client → session owner (a session's control socket only; an agent refuses it): save the
 * session's VM and disks into `dir`, an empty directory on the host, and let the VM run on. The
 * owner answers `session.snapshot.done`, or `error` on `stream` (`snapshot_failed`, or
 * `unknown_type` from an owner that cannot snapshot).
 */
export interface SessionSnapshot {
  type: "session.snapshot";
  stream: number;
  dir: string;
}

/** Session owner → client: the snapshot asked for on `stream` is saved. Ends the stream. */
export interface SessionSnapshotDone {
  type: "session.snapshot.done";
  stream: number;
}

/** What a `session.collect` collects: the shared workspace, or the root filesystem. */
export type CollectScope = "workspace" | "system";

/**
 * Client → session owner (a session's control socket only): collect the running session's
 * changes now — the workspace's (`agentbox diff S` on a running session) or the root
 * filesystem's (`diff --system`) — and store them as its changeset, replacing the previous
 * collection, while its commands run on. Answered with `session.collect.done`, or `error` on
 * `stream` (`collect_failed`, or `unknown_type` from an owner that cannot).
 */
export interface SessionCollect {
  type: "session.collect";
  stream: number;
  scope: CollectScope;
}

/** Session owner → client: the collection asked for on `stream` is stored, `entries` records. */
export interface SessionCollectDone {
  type: "session.collect.done";
  stream: number;
  entries: number;
}

/**
 * Client → session owner (a session's control socket only; an agent refuses it): attach to the
 * session's command, the one `run --detach -- CMD` started on a pseudo-terminal. The owner answers
 * as for an `exec.start` with a terminal: `exec.started` (the command's pid), then on fd 1 the
 * last output it kept (up to 1 MiB of scrollback) and everything the command prints from then on,
 * `stream.end` of fd 2 at once, and `exec.exit` when the command ends (at once, after the
 * scrollback, when it has already ended). Unless `readOnly`, `stream.data` on fd 0 is typed into
 * the command's terminal; `exec.resize` resizes it (the last client to resize wins). Detaching is
 * hanging up, or `error` on the stream: the command runs on. Refused with `no_command` when the
 * session has no such command.
 */
export interface SessionAttach {
  type: "session.attach";
  stream: number;
  /** Watch only: the owner ignores this client's input. */
  readOnly: boolean;
  /** The client's terminal size, applied to the command's terminal unless `readOnly`. */
  rows?: number;
  cols?: number;
}

/**
 * Client → session owner: stop the session gracefully. The owner sends SIGTERM to every command
 * of the session (its own and every client's), waits up to `graceMs` for them to end, sends
 * SIGKILL to what is left, collects the workspace's changes and exits. There is no answer: the
 * client waits for the owner to end.
 */
export interface SessionStop {
  type: "session.stop";
  stream: number;
  /** How long the commands get between SIGTERM and SIGKILL, at most {@linkcode MAX_STOP_GRACE_MS}. */
  graceMs: number;
}

/** Longest grace period a `session.stop` may ask for (one hour). */
export const MAX_STOP_GRACE_MS = 3_600_000;

/**
 * Host → agent: send the guest path `path` (absolute) as a files stream on fd 1 of `stream`
 * (capability `files`): the changes stream's framing (protocol/changes_stream.ts), one record a
 * file, directory or symbolic link, the first record naming `path` itself by its last component and
 * every later one a path below it. Symbolic links are sent as links, never followed. Answered with
 * `files.done`, or `error` (`files_failed`) on the stream.
 */
export interface FilesRead {
  type: "files.read";
  stream: number;
  path: string;
}

/**
 * Host → agent: write the files stream the host sends on fd 0 of `stream` (records as in
 * {@linkcode FilesRead}) to the guest path `path` (absolute): into it when it is a directory,
 * as it otherwise (capability `files`). New files and directories belong to `user` (a name of
 * the guest's `/etc/passwd`) when given, else root. Answered with `files.done`, or `error`
 * (`files_failed`) on the stream.
 */
export interface FilesWrite {
  type: "files.write";
  stream: number;
  path: string;
  user?: string;
}

/** Agent → host: a `files.read` or `files.write` is complete, with `entries` records. Ends the stream. */
export interface FilesDone {
  type: "files.done";
  stream: number;
  entries: number;
}

/**
 * Host → agent: open a TCP connection to `port` on the guest's loopback (127.0.0.1) for
 * `stream` (capability `port`). Answered with `port.opened`, or `error` (`connect_failed`). Then
 * fd 0 carries the host's bytes to the guest's server, fd 1 the server's bytes back; `stream.end`
 * of fd 0 half-closes the connection. When both directions ended, or the connection failed, the
 * agent sends `port.closed`. The host's `error` on the stream resets the connection.
 */
export interface PortOpen {
  type: "port.open";
  stream: number;
  port: number;
}

/** Agent → host: the connection of a `port.open` is established. */
export interface PortOpened {
  type: "port.opened";
  stream: number;
}

/** Agent → host: the connection of a `port.open` is closed (after `stream.end` of fd 1). Ends the stream. */
export interface PortClosed {
  type: "port.closed";
  stream: number;
}

/**
 * Client → session owner (control sockets only): forward connections to a host port into
 * `guestPort` of the session's guest. `hostname` (an IP address) and `hostPort` (0: any free
 * port) say where the owner listens; both absent: the forward of `guestPort` that exists, or a new
 * one on 127.0.0.1. Answered with `session.forward.done`, or `error` (`forward_failed`).
 */
export interface SessionForward {
  type: "session.forward";
  stream: number;
  guestPort: number;
  hostname?: string;
  hostPort?: number;
}

/** Session owner → client: the forward asked for on `stream` listens at `hostname`:`hostPort`. */
export interface SessionForwardDone {
  type: "session.forward.done";
  stream: number;
  hostname: string;
  hostPort: number;
}

/** Either side: a refusal. With `stream` it ends that stream; without, the connection. */
export interface ErrorMessage {
  type: "error";
  stream?: number;
  code: ProtocolErrorCode;
  message: string;
}

/** Any protocol message. */
export type Message =
  | Hello
  | ExecStart
  | ExecStarted
  | StreamData
  | StreamEnd
  | StreamCredit
  | ExecSignal
  | ExecResize
  | ExecExit
  | ChangesStart
  | ChangesDone
  | SessionSnapshot
  | SessionSnapshotDone
  | SessionCollect
  | SessionCollectDone
  | SessionAttach
  | SessionStop
  | FilesRead
  | FilesWrite
  | FilesDone
  | PortOpen
  | PortOpened
  | PortClosed
  | SessionForward
  | SessionForwardDone
  | ErrorMessage;

/** Signals a host may forward. Anything else is refused. */
export const FORWARDABLE_SIGNALS: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGKILL",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
  "SIGCONT",
  "SIGSTOP",
  "SIGPIPE",
];

const ERROR_CODES: readonly ProtocolErrorCode[] = [
  "frame_too_large",
  "bad_frame",
  "bad_message",
  "unknown_type",
  "unknown_stream",
  "stream_exists",
  "flow_violation",
  "version_mismatch",
  "too_many_streams",
  "spawn_failed",
  "no_workspace",
  "no_root_overlay",
  "snapshot_failed",
  "collect_failed",
  "no_command",
  "files_failed",
  "connect_failed",
  "forward_failed",
  "closed",
  "timed_out",
  "internal",
];

const MAX_STRING = 64 * 1024;
const MAX_LIST = 4096;

type Fields = Record<string, unknown>;

function fail(message: string): never {
  throw new ProtocolError("bad_message", message);
}

function field(obj: Fields, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function str(obj: Fields, key: string): string {
  const v = field(obj, key);
  if (typeof v !== "string" || v.length > MAX_STRING) fail(`Field "${key}" must be a string`);
  return v;
}

function uint(obj: Fields, key: string, max = 0xffff_ffff): number {
  const v = field(obj, key);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    fail(`Field "${key}" must be an integer in 0..${max}`);
  }
  return v;
}

function bool(obj: Fields, key: string): boolean {
  const v = field(obj, key);
  if (typeof v !== "boolean") fail(`Field "${key}" must be a boolean`);
  return v;
}

function strList(obj: Fields, key: string): string[] {
  const v = field(obj, key);
  if (!Array.isArray(v) || v.length > MAX_LIST || v.some((s) => typeof s !== "string")) {
    fail(`Field "${key}" must be a list of strings`);
  }
  return v as string[];
}

function fd(obj: Fields): Fd {
  const v = uint(obj, "fd", 2);
  return v as Fd;
}

function signal(obj: Fields, key: string): Deno.Signal {
  const v = str(obj, key);
  if (!FORWARDABLE_SIGNALS.includes(v as Deno.Signal)) fail(`Signal "${v}" is not allowed`);
  return v as Deno.Signal;
}

function exitSignal(obj: Fields): Deno.Signal | null {
  const v = field(obj, "signal");
  if (v === null || v === undefined) return null;
  if (typeof v !== "string" || !/^SIG[A-Z0-9]{1,10}$/.test(v)) fail(`Field "signal" is invalid`);
  return v as Deno.Signal;
}

function env(obj: Fields): Record<string, string> {
  const v = field(obj, "env");
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`Field "env" must be a map`);
  const out: Record<string, string> = {};
  const entries = Object.entries(v as Fields);
  if (entries.length > MAX_LIST) fail(`Field "env" has too many entries`);
  for (const [k, value] of entries) {
    if (typeof value !== "string" || k.length === 0 || k.includes("=") || k.includes("\0")) {
      fail(`Environment entry "${k}" is invalid`);
    }
    out[k] = value;
  }
  return out;
}

function terminalSize(obj: Fields, key: string): number {
  const v = uint(obj, key, MAX_TERMINAL_SIZE);
  if (v === 0) fail(`Field "${key}" must be at least 1`);
  return v;
}

function pty(obj: Fields): PtySpec | undefined {
  const v = field(obj, "pty");
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`Field "pty" must be a map`);
  const spec = v as Fields;
  const term = str(spec, "term");
  if (!/^[A-Za-z0-9._+-]{1,64}$/.test(term)) fail(`Field "term" is not a terminal name`);
  return { rows: terminalSize(spec, "rows"), cols: terminalSize(spec, "cols"), term };
}

function userName(obj: Fields): string | undefined {
  if (field(obj, "user") === undefined) return undefined;
  const v = str(obj, "user");
  if (!USER_NAME_PATTERN.test(v)) fail(`Field "user" is not a user name`);
  return v;
}

function bytes(obj: Fields, key: string): Uint8Array {
  const v = field(obj, key);
  if (!(v instanceof Uint8Array)) fail(`Field "${key}" must be a byte string`);
  return v;
}

function optionalHelloFacts(o: Fields): Pick<Hello, "time" | "entropy"> {
  const facts: Pick<Hello, "time" | "entropy"> = {};
  if (field(o, "time") !== undefined) facts.time = uint(o, "time", Number.MAX_SAFE_INTEGER);
  if (field(o, "entropy") !== undefined) {
    const entropy = bytes(o, "entropy");
    if (entropy.length > MAX_HELLO_ENTROPY) {
      fail(`Field "entropy" must be at most ${MAX_HELLO_ENTROPY} bytes`);
    }
    facts.entropy = entropy;
  }
  return facts;
}

/** Longest guest path a `files.*` message may name, in bytes (Linux's `PATH_MAX` less its NUL). */
export const MAX_GUEST_PATH_BYTES = 4095;

function guestPath(obj: Fields): string {
  const v = str(obj, "path");
  if (
    !v.startsWith("/") || v.includes("\0") ||
    new TextEncoder().encode(v).length > MAX_GUEST_PATH_BYTES
  ) {
    fail(`Field "path" must be an absolute path of at most ${MAX_GUEST_PATH_BYTES} bytes`);
  }
  return v;
}

function tcpPort(obj: Fields, key: string, min = 1): number {
  const v = uint(obj, key, 65535);
  if (v < min) fail(`Field "${key}" must be a port number in ${min}..65535`);
  return v;
}

/** What an address a forward listens on must look like: an IPv4 or IPv6 literal. */
const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]{2,45})$/;

function hostAddress(obj: Fields, key: string): string {
  const v = str(obj, key);
  if (!IP_LITERAL.test(v)) fail(`Field "${key}" must be an IP address`);
  return v;
}

const PARSERS: Record<Message["type"], (o: Fields) => Message> = {
  "hello": (o) => {
    const role = str(o, "role");
    if (role !== "agent" && role !== "host") fail(`Field "role" must be "agent" or "host"`);
    return {
      type: "hello",
      version: uint(o, "version"),
      role,
      capabilities: strList(o, "capabilities"),
      software: str(o, "software"),
      ...optionalHelloFacts(o),
    };
  },
  "exec.start": (o) => {
    const argv = strList(o, "argv");
    if (argv.length === 0) fail(`Field "argv" must not be empty`);
    const cwd = field(o, "cwd") === undefined ? undefined : str(o, "cwd");
    const timeoutMs = field(o, "timeoutMs") === undefined ? undefined : uint(o, "timeoutMs");
    return {
      type: "exec.start",
      stream: uint(o, "stream"),
      argv,
      env: env(o),
      cwd,
      stdin: bool(o, "stdin"),
      timeoutMs,
      pty: pty(o),
      user: userName(o),
    };
  },
  "exec.started": (o) => ({ type: "exec.started", stream: uint(o, "stream"), pid: uint(o, "pid") }),
  "stream.data": (o) => ({
    type: "stream.data",
    stream: uint(o, "stream"),
    fd: fd(o),
    data: bytes(o, "data"),
  }),
  "stream.end": (o) => ({ type: "stream.end", stream: uint(o, "stream"), fd: fd(o) }),
  "stream.credit": (o) => ({
    type: "stream.credit",
    stream: uint(o, "stream"),
    fd: fd(o),
    bytes: uint(o, "bytes"),
  }),
  "exec.signal": (o) => ({
    type: "exec.signal",
    stream: uint(o, "stream"),
    signal: signal(o, "signal"),
  }),
  "exec.resize": (o) => ({
    type: "exec.resize",
    stream: uint(o, "stream"),
    rows: terminalSize(o, "rows"),
    cols: terminalSize(o, "cols"),
  }),
  "exec.exit": (o) => {
    const code = field(o, "code");
    if (
      code !== null &&
      (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 255)
    ) {
      fail(`Field "code" must be null or an integer in 0..255`);
    }
    return {
      type: "exec.exit",
      stream: uint(o, "stream"),
      code: code as number | null,
      signal: exitSignal(o),
      timedOut: bool(o, "timedOut"),
    };
  },
  "changes.start": (o) => {
    const message: ChangesStart = { type: "changes.start", stream: uint(o, "stream") };
    const scope = field(o, "scope");
    if (scope !== undefined) {
      if (!CHANGES_SCOPES.includes(scope as ChangesScope)) fail(`Field "scope" is not a scope`);
      message.scope = scope as ChangesScope;
    }
    if (field(o, "exclude") !== undefined) message.exclude = strList(o, "exclude");
    if (field(o, "paths") !== undefined) message.paths = strList(o, "paths");
    return message;
  },
  "changes.done": (o) => ({
    type: "changes.done",
    stream: uint(o, "stream"),
    entries: uint(o, "entries"),
  }),
  "session.snapshot": (o) => {
    const dir = str(o, "dir");
    if (!dir.startsWith("/") || dir.includes("\0")) fail(`Field "dir" must be an absolute path`);
    return { type: "session.snapshot", stream: uint(o, "stream"), dir };
  },
  "session.snapshot.done": (o) => ({ type: "session.snapshot.done", stream: uint(o, "stream") }),
  "session.collect": (o) => {
    const scope = field(o, "scope");
    if (scope !== "workspace" && scope !== "system") {
      throw new ProtocolError("bad_message", "session.collect: scope must be workspace or system");
    }
    return { type: "session.collect", stream: uint(o, "stream"), scope };
  },
  "session.collect.done": (o) => ({
    type: "session.collect.done",
    stream: uint(o, "stream"),
    entries: uint(o, "entries"),
  }),
  "session.attach": (o) => {
    const sized = field(o, "rows") !== undefined || field(o, "cols") !== undefined;
    return {
      type: "session.attach",
      stream: uint(o, "stream"),
      readOnly: bool(o, "readOnly"),
      ...(sized ? { rows: terminalSize(o, "rows"), cols: terminalSize(o, "cols") } : {}),
    };
  },
  "session.stop": (o) => ({
    type: "session.stop",
    stream: uint(o, "stream"),
    graceMs: uint(o, "graceMs", MAX_STOP_GRACE_MS),
  }),
  "files.read": (o) => ({ type: "files.read", stream: uint(o, "stream"), path: guestPath(o) }),
  "files.write": (o) => ({
    type: "files.write",
    stream: uint(o, "stream"),
    path: guestPath(o),
    user: userName(o),
  }),
  "files.done": (o) => ({
    type: "files.done",
    stream: uint(o, "stream"),
    entries: uint(o, "entries"),
  }),
  "port.open": (o) => ({ type: "port.open", stream: uint(o, "stream"), port: tcpPort(o, "port") }),
  "port.opened": (o) => ({ type: "port.opened", stream: uint(o, "stream") }),
  "port.closed": (o) => ({ type: "port.closed", stream: uint(o, "stream") }),
  "session.forward": (o) => ({
    type: "session.forward",
    stream: uint(o, "stream"),
    guestPort: tcpPort(o, "guestPort"),
    hostname: field(o, "hostname") === undefined ? undefined : hostAddress(o, "hostname"),
    hostPort: field(o, "hostPort") === undefined ? undefined : tcpPort(o, "hostPort", 0),
  }),
  "session.forward.done": (o) => ({
    type: "session.forward.done",
    stream: uint(o, "stream"),
    hostname: hostAddress(o, "hostname"),
    hostPort: tcpPort(o, "hostPort"),
  }),
  "error": (o) => {
    const code = str(o, "code");
    return {
      type: "error",
      stream: field(o, "stream") === undefined ? undefined : uint(o, "stream"),
      code: ERROR_CODES.includes(code as ProtocolErrorCode)
        ? code as ProtocolErrorCode
        : "internal",
      message: str(o, "message").slice(0, 1024),
    };
  },
};

/**
 * Validate an untrusted decoded value and return it as a typed {@linkcode Message}.
 * Unknown keys are dropped; an unknown `type` throws `unknown_type`, anything else malformed
 * throws `bad_message`.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@agentbox/protocol";
 * const msg = parseMessage({ type: "stream.end", stream: 3, fd: 1, extra: "ignored" });
 * console.assert(msg.type === "stream.end");
 * ```
 */
export function parseMessage(value: unknown): Message {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("A message must be a map");
  }
  const type = field(value as Fields, "type");
  if (typeof type !== "string" || !Object.hasOwn(PARSERS, type)) {
    // Only a string is quoted: JSON.stringify throws on the BigInt a CBOR bignum decodes to.
    const shown = typeof type === "string" ? JSON.stringify(type) : `of type ${typeof type}`;
    throw new ProtocolError("unknown_type", `Unknown message type ${shown}`.slice(0, 200));
  }
  return PARSERS[type as Message["type"]](value as Fields);
}
