/**
 * Services enabled and disabled, read from the links init systems keep under `/etc`: systemd's
 * `etc/systemd/system/<target>.wants/<unit>` (what `systemctl enable` makes, and what Debian's
 * maintainer scripts make even where systemd does not run) and System V's
 * `etc/rc<level>.d/S<nn><name>` (what `update-rc.d` makes). agentbox's own images boot with
 * busybox init, which runs neither: the links say what the machine the change is exported to
 * would start.
 *
 * @module
 */

/** A service whose enablement changed. */
export interface ServiceChange {
  /** The unit (`nginx.service`) or the System V script name (`nginx`). */
  name: string;
  init: "systemd" | "sysv";
  /** systemd: the target that wants it (`multi-user.target`); sysv: the runlevels. */
  where: string[];
}

/** Services enabled and disabled. */
export interface ServiceChanges {
  enabled: ServiceChange[];
  disabled: ServiceChange[];
}

/** A unit or script name the export may pass to `systemctl`, `update-rc.d` or Ansible. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,127}$/;

const WANTS_LINK = /^etc\/systemd\/system\/([^/]+)\.(?:wants|requires)\/([^/]+)$/;
const RC_LINK = /^etc\/rc([0-6S])\.d\/S[0-9]{2}([^/]+)$/;

/**
 * The services `added` links enable and `removed` links disable (paths relative to `/`).
 *
 * @example
 * ```ts
 * import { serviceChanges } from "./services.ts";
 * const changes = serviceChanges(
 *   ["etc/systemd/system/multi-user.target.wants/demo.service", "etc/rc2.d/S01web"],
 *   [],
 * );
 * console.assert(changes.enabled.length === 2);
 * ```
 */
export function serviceChanges(added: string[], removed: string[]): ServiceChanges {
  return { enabled: collect(added), disabled: collect(removed) };
}

function collect(paths: string[]): ServiceChange[] {
  const found = new Map<string, ServiceChange>();
  for (const path of paths) {
    const wants = WANTS_LINK.exec(path);
    const rc = RC_LINK.exec(path);
    const hit = wants
      ? { name: wants[2], init: "systemd" as const, where: wants[1] }
      : rc
      ? { name: rc[2], init: "sysv" as const, where: rc[1] }
      : undefined;
    if (!hit || !SERVICE_NAME.test(hit.name)) continue;
    const key = `${hit.init}:${hit.name}`;
    const entry = found.get(key) ?? { name: hit.name, init: hit.init, where: [] };
    if (!entry.where.includes(hit.where)) entry.where.push(hit.where);
    found.set(key, entry);
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
