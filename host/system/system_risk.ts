/**
 * Which system paths deserve a second look before they are exported (high-risk: what runs code
 * as root or decides who gets in — the system's counterpart of the workspace's
 * high_risk_paths.ts), and which are secrets that are never copied into an export at all.
 * Globs are relative to `/` in path_glob.ts's syntax, matched without regard to letter case
 * against the path and each of its directories.
 *
 * @module
 */

import type { HighRiskPath } from "../workspace/high_risk_paths.ts";
import { compileGlob } from "../workspace/path_glob.ts";

/** System paths whose change is high-risk, and why. */
export const SYSTEM_HIGH_RISK_PATHS: readonly HighRiskPath[] = [
  { glob: "etc/sudoers", reason: "grants root", source: "sudo" },
  { glob: "etc/sudoers.d", reason: "grants root", source: "sudo" },
  { glob: "etc/ssh", reason: "decides who logs in", source: "OpenSSH" },
  { glob: "**/.ssh", reason: "decides who logs in", source: "OpenSSH" },
  { glob: "etc/pam.d", reason: "decides who logs in", source: "PAM" },
  { glob: "etc/security", reason: "decides who logs in", source: "PAM" },
  { glob: "etc/passwd", reason: "the user database", source: "shadow" },
  { glob: "etc/group", reason: "the group database", source: "shadow" },
  { glob: "etc/cron*", reason: "runs commands as root on a schedule", source: "cron" },
  { glob: "var/spool/cron", reason: "runs commands on a schedule", source: "cron" },
  { glob: "etc/systemd", reason: "starts programs as root", source: "systemd" },
  { glob: "etc/init.d", reason: "starts programs as root", source: "System V init" },
  { glob: "etc/rc?.d", reason: "starts programs as root", source: "System V init" },
  { glob: "etc/inittab", reason: "starts programs as root", source: "init" },
  { glob: "etc/profile", reason: "runs in every login shell", source: "shells" },
  { glob: "etc/profile.d", reason: "runs in every login shell", source: "shells" },
  { glob: "etc/bash.bashrc", reason: "runs in every bash", source: "bash" },
  { glob: "etc/environment", reason: "every login's environment", source: "PAM" },
  { glob: "etc/ld.so.preload", reason: "loaded into every program", source: "glibc" },
  { glob: "etc/ld.so.conf*", reason: "where every program finds its libraries", source: "glibc" },
  { glob: "etc/apt", reason: "what apt installs and trusts", source: "apt" },
  { glob: "usr/share/keyrings", reason: "what apt trusts", source: "apt" },
  { glob: "etc/ssl", reason: "which certificates are trusted", source: "OpenSSL" },
  {
    glob: "usr/local/share/ca-certificates",
    reason: "which certificates are trusted",
    source: "ca-certificates",
  },
  { glob: "etc/hosts", reason: "where names resolve", source: "glibc" },
  { glob: "etc/resolv.conf", reason: "where names resolve", source: "glibc" },
  { glob: "etc/nsswitch.conf", reason: "where names and users come from", source: "glibc" },
  { glob: "etc/polkit-1", reason: "grants privileges", source: "polkit" },
  { glob: "etc/modprobe.d", reason: "kernel module options", source: "kmod" },
  { glob: "etc/sysctl.conf", reason: "kernel settings", source: "procps" },
  { glob: "etc/sysctl.d", reason: "kernel settings", source: "procps" },
];

/**
 * Secrets: never copied into an export (a TODO takes their place) and high-risk in a diff.
 * Keys, certificates with their keys, shadow files, tokens, credentials.
 */
export const SENSITIVE_PATHS: readonly string[] = [
  "etc/shadow",
  "etc/shadow-",
  "etc/gshadow",
  "etc/gshadow-",
  "etc/ssl/private",
  "etc/ssh/ssh_host_*_key",
  "**/*.pem",
  "**/*.key",
  "**/*.p12",
  "**/*.pfx",
  "**/id_rsa*",
  "**/id_dsa*",
  "**/id_ecdsa*",
  "**/id_ed25519*",
  "**/*token*",
  "**/*secret*",
  "**/*credential*",
  "**/*password*",
  "**/.netrc",
  "**/.git-credentials",
  "**/.pgpass",
  "**/.npmrc",
  "**/.pypirc",
  "**/.docker/config.json",
  "**/.aws/credentials",
  "**/.kube/config",
];

const riskPatterns = SYSTEM_HIGH_RISK_PATHS.map((e) => ({ ...e, pattern: compileGlob(e.glob) }));
const sensitivePatterns = SENSITIVE_PATHS.map((glob) => compileGlob(glob));

function prefixes(path: string): string[] {
  const parts = path.toLowerCase().split("/");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("/"));
}

/**
 * Whether `path` (relative to `/`) is a secret, never to be copied into an export.
 *
 * @example
 * ```ts
 * import { isSensitive } from "./system_risk.ts";
 * console.assert(isSensitive("etc/shadow") && isSensitive("etc/nginx/tls/site.pem"));
 * console.assert(!isSensitive("etc/nginx/nginx.conf"));
 * ```
 */
export function isSensitive(path: string): boolean {
  return prefixes(path).some((p) => sensitivePatterns.some((pattern) => pattern.test(p)));
}

/**
 * Why a change to `path` (relative to `/`) is high-risk, or `undefined`. Secrets always are.
 *
 * @example
 * ```ts
 * import { systemRiskReason } from "./system_risk.ts";
 * console.assert(systemRiskReason("etc/sudoers.d/agent") === "grants root");
 * console.assert(systemRiskReason("etc/demo.conf") === undefined);
 * ```
 */
export function systemRiskReason(path: string): string | undefined {
  for (const p of prefixes(path)) {
    const entry = riskPatterns.find(({ pattern }) => pattern.test(p));
    if (entry) return entry.reason;
  }
  return isSensitive(path) ? "a secret: never copied into an export" : undefined;
}
