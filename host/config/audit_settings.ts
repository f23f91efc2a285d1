/**
 * The `[audit]` table of the user's configuration: where audit events go (docs/audit.md). A
 * "user only" table: a project's `.agentbox.toml` is writable by the sandbox, which must not be
 * able to redirect or silence the trail of what it does, so `[audit]` there is an error.
 *
 * ```toml
 * [audit]
 * queue = 1024                               # events waiting per sink before new ones are dropped
 * [audit.file]
 * path = "/var/log/agentbox/audit.jsonl"     # absolute
 * max_size = "10 MiB"                        # rotate beyond this
 * max_files = 5                              # files kept, the live one included
 * [audit.syslog]
 * address = "unix:/dev/log"                  # or "udp://host:514", "tcp://host:601"
 * facility = "local0"
 * [audit.otlp]
 * endpoint = "http://127.0.0.1:4318"         # POST {endpoint}/v1/logs
 * headers = { authorization = "Bearer …" }
 * ```
 *
 * @module
 */

import { isIP } from "node:net";
import { type AuditTrailSettings, NO_SINKS } from "../audit/audit_trail.ts";
import { FACILITIES, type Facility } from "../audit/syslog_format.ts";
import type { SyslogTarget } from "../audit/syslog_sink.ts";
import { configDir } from "../paths.ts";
import { ConfigError } from "./config_error.ts";
import { checkKeys, table, type Where } from "./toml_values.ts";
import { readConfigToml, wholeNumber } from "./vm_settings.ts";
import { refuseUserOnlyTables } from "./user_only_tables.ts";
import { byteSize } from "./workspace_settings.ts";

export type { AuditTrailSettings };

const KEYS = ["queue", "file", "syslog", "otlp"];
const FILE_KEYS = ["path", "max_size", "max_files"];
const SYSLOG_KEYS = ["address", "facility"];
const OTLP_KEYS = ["endpoint", "headers", "timeout_ms"];

/** Sources of {@linkcode loadAuditSettings}. */
export interface LoadAuditSettingsOptions {
  /** Default `$XDG_CONFIG_HOME/agentbox/config.toml`; a missing file is fine; `null`: none. */
  userFile?: string | null;
  /** Project directory whose `.agentbox.toml` must not have an `[audit]` table. */
  projectDir?: string;
}

/**
 * Read `[audit]` from the user's file (no table: no sinks). Throws {@linkcode ConfigError} for a
 * bad value, an unknown key, or an `[audit]` table in the project's file.
 *
 * @example
 * ```ts
 * import { loadAuditSettings } from "./audit_settings.ts";
 * const settings = await loadAuditSettings({ userFile: "/nonexistent/config.toml" });
 * console.assert(settings.file === undefined && settings.queue === 1024);
 * ```
 */
export async function loadAuditSettings(
  options: LoadAuditSettingsOptions = {},
): Promise<AuditTrailSettings> {
  if (options.projectDir !== undefined) await refuseUserOnlyTables(options.projectDir, ["audit"]);
  if (options.userFile === null) return { ...NO_SINKS };
  const file = options.userFile ?? `${configDir()}/config.toml`;
  const doc = await readConfigToml(file);
  if (doc?.values.audit === undefined) return { ...NO_SINKS };
  const where: Where = (key) => ({ file, key, line: doc.lineOf(key) });
  const audit = table(doc.values.audit, where("audit"));
  checkKeys(audit, KEYS, "audit", where);
  const settings: AuditTrailSettings = { ...NO_SINKS };
  if (audit.queue !== undefined) {
    settings.queue = wholeNumber(audit.queue, 1, 1_000_000, where("audit.queue"));
  }
  if (audit.file !== undefined) settings.file = fileSettings(audit.file, where);
  if (audit.syslog !== undefined) settings.syslog = syslogSettings(audit.syslog, where);
  if (audit.otlp !== undefined) settings.otlp = otlpSettings(audit.otlp, where);
  return settings;
}

function fileSettings(value: unknown, where: Where): NonNullable<AuditTrailSettings["file"]> {
  const t = table(value, where("audit.file"));
  checkKeys(t, FILE_KEYS, "audit.file", where);
  if (typeof t.path !== "string" || !t.path.startsWith("/") || t.path.includes("\0")) {
    throw new ConfigError(
      where("audit.file.path"),
      'must be an absolute path, e.g. "/var/log/agentbox/audit.jsonl"',
    );
  }
  const maxBytes = t.max_size === undefined
    ? undefined
    : byteSize(t.max_size, where("audit.file.max_size"));
  if (maxBytes !== undefined && maxBytes < 4096) {
    throw new ConfigError(where("audit.file.max_size"), "must be at least 4 KiB");
  }
  return {
    path: t.path,
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(t.max_files !== undefined
      ? { maxFiles: wholeNumber(t.max_files, 1, 1000, where("audit.file.max_files")) }
      : {}),
  };
}

function syslogSettings(value: unknown, where: Where): NonNullable<AuditTrailSettings["syslog"]> {
  const t = table(value, where("audit.syslog"));
  checkKeys(t, SYSLOG_KEYS, "audit.syslog", where);
  const facility = t.facility ?? "local0";
  if (typeof facility !== "string" || !Object.hasOwn(FACILITIES, facility)) {
    throw new ConfigError(
      where("audit.syslog.facility"),
      `must be one of ${Object.keys(FACILITIES).join(", ")}`,
    );
  }
  return {
    target: syslogAddress(t.address ?? "unix:/dev/log", where("audit.syslog.address")),
    facility: facility as Facility,
  };
}

/**
 * A syslog address: `unix:/PATH` (a datagram socket), `udp://HOST:PORT` or `tcp://HOST:PORT`.
 *
 * @example
 * ```ts
 * import { syslogAddress } from "./audit_settings.ts";
 * const target = syslogAddress("udp://127.0.0.1:514", { file: "c.toml", key: "k" });
 * console.assert(target.transport === "udp");
 * ```
 */
export function syslogAddress(value: unknown, loc: ReturnType<Where>): SyslogTarget {
  const bad = () =>
    new ConfigError(
      loc,
      'must be "unix:/PATH" (a datagram socket such as /dev/log), "udp://HOST:PORT" or ' +
        '"tcp://HOST:PORT"',
    );
  if (typeof value !== "string") throw bad();
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length);
    if (!path.startsWith("/") || path.includes("\0")) throw bad();
    return { transport: "unix", path };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad();
  }
  const transport = url.protocol.slice(0, -1);
  if (transport !== "udp" && transport !== "tcp") throw bad();
  const port = Number(url.port);
  if (url.hostname === "" || !Number.isInteger(port) || port < 1 || url.pathname.length > 1) {
    throw bad();
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!isIP(hostname) && !/^[a-z0-9.-]+$/i.test(hostname)) throw bad();
  return { transport, hostname, port };
}

function otlpSettings(value: unknown, where: Where): NonNullable<AuditTrailSettings["otlp"]> {
  const t = table(value, where("audit.otlp"));
  checkKeys(t, OTLP_KEYS, "audit.otlp", where);
  let url: URL | undefined;
  try {
    url = typeof t.endpoint === "string" ? new URL(t.endpoint) : undefined;
  } catch { /* reported below */ }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new ConfigError(
      where("audit.otlp.endpoint"),
      'must be an http(s) URL of an OTLP/HTTP collector, e.g. "http://127.0.0.1:4318"',
    );
  }
  const headers: Record<string, string> = {};
  if (t.headers !== undefined) {
    const h = table(t.headers, where("audit.otlp.headers"));
    for (const [name, v] of Object.entries(h)) {
      if (
        !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name) || typeof v !== "string" || /[\r\n\0]/.test(v)
      ) {
        throw new ConfigError(
          where(`audit.otlp.headers.${name}`),
          "must be a header name with a one-line string value",
        );
      }
      headers[name] = v;
    }
  }
  return {
    endpoint: t.endpoint as string,
    headers,
    ...(t.timeout_ms !== undefined
      ? { timeoutMs: wholeNumber(t.timeout_ms, 100, 600_000, where("audit.otlp.timeout_ms")) }
      : {}),
  };
}
