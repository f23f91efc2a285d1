/**
 * What `agentbox diff --system` leaves out: the directories that hold no machine state (the
 * workspace, temporary and virtual file systems, caches, logs), caches and journals that change on
 * their own, and the files agentbox itself writes into every guest. Two parts: prefixes the guest
 * never scans (so their content is never sent), and globs the host drops afterwards. The user adds
 * globs with `--exclude`; docs/system-diff.md lists both parts.
 *
 * @module
 */

import {
  GUEST_CA_BUNDLE,
  GUEST_CA_FILE,
  GUEST_EXTRA_CA_FILE,
  GUEST_HOST_CA_FILE,
  GUEST_TRUST_STORE,
} from "../tls/guest_trust.ts";
import { compileGlob } from "../workspace/path_glob.ts";

/**
 * Directories (relative to `/`) the guest leaves out of the scan with everything under them: the
 * shared workspace (it has its own diff), memory and virtual file systems, caches, logs and apt's
 * downloaded package lists.
 */
export const GUEST_SKIPPED_DIRS: readonly string[] = [
  "workspace",
  "tmp",
  "proc",
  "sys",
  "dev",
  "run",
  "var/tmp",
  "var/cache",
  "var/log",
  "var/lib/apt/lists",
  "root/.cache",
  "root/.npm",
];

/**
 * Globs (relative to `/`; a glob naming a directory covers what is below it) dropped on the host:
 * per-user caches, byte-code caches, the dynamic linker's cache, dpkg's backups and lock files,
 * the account tools' backups (`etc/passwd-`…), shell histories, and agentbox's own inspection CA.
 */
export const DEFAULT_SYSTEM_EXCLUDES: readonly string[] = [
  ...GUEST_SKIPPED_DIRS,
  "home/*/.cache",
  "home/*/.npm",
  "**/__pycache__",
  "etc/ld.so.cache",
  "var/lib/dpkg/*-old",
  "var/lib/dpkg/lock",
  "var/lib/dpkg/lock-frontend",
  "var/lib/dpkg/triggers/Lock",
  // The account tools' backups of the previous version (useradd, groupadd, vipw…).
  "etc/passwd-",
  "etc/group-",
  "etc/shadow-",
  "etc/gshadow-",
  "etc/subuid-",
  "etc/subgid-",
  "var/lib/apt/lists",
  "root/.bash_history",
  "home/*/.bash_history",
  "root/.wget-hsts",
  "root/.lesshst",
  // What agentbox itself writes into the guest's trust (TLS inspection, --trust-host-ca).
  GUEST_CA_FILE.slice(1),
  GUEST_HOST_CA_FILE.slice(1),
  GUEST_EXTRA_CA_FILE.slice(1),
  GUEST_CA_BUNDLE.slice(1),
  GUEST_TRUST_STORE.slice(1),
];

/**
 * A predicate for "is `path` (relative to `/`) left out": it or one of its directories matches
 * a default exclude or one of `extra`. Throws `GlobError` (usage) for a bad glob.
 *
 * @example
 * ```ts
 * import { systemExcluder } from "./system_excludes.ts";
 * const excluded = systemExcluder(["opt/scratch"]);
 * console.assert(excluded("var/log/dpkg.log") && excluded("opt/scratch/a"));
 * console.assert(!excluded("etc/nginx/nginx.conf"));
 * ```
 */
export function systemExcluder(extra: readonly string[] = []): (path: string) => boolean {
  const patterns = [...DEFAULT_SYSTEM_EXCLUDES, ...extra.map((g) => g.replace(/^\/+/, ""))]
    .map((glob) => compileGlob(glob));
  return (path) => {
    const parts = path.split("/");
    for (let n = parts.length; n > 0; n--) {
      const prefix = parts.slice(0, n).join("/");
      if (patterns.some((pattern) => pattern.test(prefix))) return true;
    }
    return false;
  };
}
