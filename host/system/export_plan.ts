/**
 * What `agentbox export` reproduces of a system summary, as a list of steps in the order a
 * machine needs them (packages, groups, users, directories, files, links, removals), plus the
 * TODOs it will not do by itself: secrets (never copied), high-risk paths not selected, entries
 * it cannot represent. A pure plan: the Ansible and shell renderers turn it into text, and only
 * values that passed a strict pattern (package names and versions, account names, paths without
 * control characters) reach them.
 *
 * @module
 */

import { PACKAGE_NAME, PACKAGE_VERSION } from "./dpkg_status.ts";
import type { SystemFileChange, SystemSummary } from "./system_summary.ts";
import { ACCOUNT_NAME } from "./user_db.ts";

/** One step of an export. Paths are absolute. */
export type ExportStep =
  | { kind: "package"; name: string; version: string }
  | { kind: "package-removed"; name: string }
  | { kind: "group"; name: string; gid: number }
  | { kind: "group-removed"; name: string }
  | {
    kind: "user";
    name: string;
    uid: number;
    group: string;
    groups: string[];
    home: string;
    shell: string;
    comment: string;
  }
  | { kind: "user-removed"; name: string }
  | { kind: "directory"; path: string; mode: number; owner: string; group: string }
  | {
    kind: "file";
    path: string;
    mode: number;
    owner: string;
    group: string;
    sha256: string;
    size: number;
  }
  | { kind: "link"; path: string; target: string; service?: string }
  | { kind: "absent"; path: string; service?: string }
  | { kind: "todo"; path?: string; reason: string };

/** What to take into the export. */
export interface ExportSelection {
  /** Files to take (paths relative to `/` or absolute); none given: all. */
  selected: (path: string) => boolean;
  /** Take high-risk files too (else they become TODOs). */
  allowHighRisk: boolean;
  /** Leave out whole kinds of change. */
  skip: ReadonlySet<ExportKind>;
}

/** Kinds of change `--skip` can leave out. */
export type ExportKind = "packages" | "users" | "files" | "services";

/** Every {@linkcode ExportKind}. */
export const EXPORT_KINDS: readonly ExportKind[] = ["packages", "users", "files", "services"];

/** Names for ids, from the passwd and group files after the session. */
export interface AccountNames {
  users: Map<number, string>;
  groups: Map<number, string>;
}

/** The export: its steps and what was held back. */
export interface ExportPlan {
  steps: ExportStep[];
  /** High-risk files left out because they were not allowed (each is also a TODO step). */
  heldBack: string[];
}

/** Changes the package manager or the account steps reproduce: never copied as files. */
const MANAGED = [
  /^var\/lib\/dpkg(\/|$)/,
  /^var\/lib\/apt(\/|$)/,
  /^var\/lib\/systemd\/deb-systemd-helper-/,
  /^etc\/(passwd|group|shadow|gshadow|subuid|subgid)-?$/,
  /^etc\/\.pwd\.lock$/,
];

const SERVICE_LINK = /^etc\/(?:systemd\/system\/[^/]+\.(?:wants|requires)|rc[0-6S]\.d)\/[^/]+$/;

/**
 * The export plan of `summary` under `selection`.
 *
 * @example
 * ```ts ignore
 * import { exportPlan } from "./export_plan.ts";
 * const plan = exportPlan(summary, names, { selected: () => true, allowHighRisk: false, skip: new Set() });
 * ```
 */
export function exportPlan(
  summary: SystemSummary,
  names: AccountNames,
  selection: ExportSelection,
): ExportPlan {
  const steps: ExportStep[] = [];
  const todos: ExportStep[] = [];
  const heldBack: string[] = [];
  const skip = selection.skip;

  if (!skip.has("packages")) {
    const { installed, upgraded, removed } = summary.packages;
    for (const pkg of [...installed, ...upgraded]) {
      if (PACKAGE_NAME.test(pkg.name) && PACKAGE_VERSION.test(pkg.version)) {
        steps.push({ kind: "package", name: pkg.name, version: pkg.version });
      }
    }
    for (const pkg of removed) steps.push({ kind: "package-removed", name: pkg.name });
  }

  if (!skip.has("users")) {
    const { groupsAdded, usersAdded, usersRemoved, groupsRemoved, memberships } = summary.accounts;
    for (const g of groupsAdded) steps.push({ kind: "group", name: g.name, gid: g.gid });
    for (const u of usersAdded) {
      const groups = [...summary.accounts.groupsAdded, ...[]]
        .filter((g) => g.members.includes(u.name)).map((g) => g.name);
      for (const m of memberships) if (m.added.includes(u.name)) groups.push(m.name);
      steps.push({
        kind: "user",
        name: u.name,
        uid: u.uid,
        group: names.groups.get(u.gid) ?? String(u.gid),
        groups: groups.filter((g) => ACCOUNT_NAME.test(g)),
        home: u.home,
        shell: u.shell,
        comment: u.gecos,
      });
    }
    for (const u of usersRemoved) steps.push({ kind: "user-removed", name: u.name });
    for (const g of groupsRemoved) steps.push({ kind: "group-removed", name: g.name });
  }

  const fileSteps: ExportStep[] = [];
  for (const file of summary.files) {
    const serviceLink = SERVICE_LINK.test(file.path);
    if (serviceLink ? skip.has("services") : skip.has("files")) continue;
    if (!selection.selected(file.path)) continue;
    const path = `/${file.path}`;
    if (file.sensitive) {
      todos.push({ kind: "todo", path, reason: "a secret: put it in place yourself" });
      continue;
    }
    if (MANAGED.some((re) => re.test(file.path))) continue;
    // A package's own files come with the package; its configuration may have been edited.
    if (file.package && !file.path.startsWith("etc/")) continue;
    // A directory runs nothing: only what is put in it is held back.
    const risky = file.risk && !serviceLink && file.type !== "dir";
    if (risky && !selection.allowHighRisk) {
      heldBack.push(path);
      todos.push({ kind: "todo", path, reason: `high-risk (${file.risk}): not selected` });
      continue;
    }
    const step = fileStep(file, path, names, serviceLink);
    if (step.kind === "todo") todos.push(step);
    else fileSteps.push(step);
  }
  const order: ExportStep["kind"][] = ["directory", "file", "link", "absent"];
  fileSteps.sort((a, b) => {
    const k = order.indexOf(a.kind) - order.indexOf(b.kind);
    if (k !== 0) return k;
    const pa = (a as { path: string }).path, pb = (b as { path: string }).path;
    // Removals deepest first; everything else parents first.
    return a.kind === "absent" ? (pa < pb ? 1 : -1) : (pa < pb ? -1 : 1);
  });
  return { steps: [...steps, ...fileSteps, ...todos], heldBack };
}

function fileStep(
  file: SystemFileChange,
  path: string,
  names: AccountNames,
  serviceLink: boolean,
): ExportStep {
  const service = serviceLink
    ? file.path.split("/").at(-1)!.replace(/^[SK][0-9]{2}/, "")
    : undefined;
  if (file.change === "deleted") return { kind: "absent", path, ...(service ? { service } : {}) };
  const owner = names.users.get(file.uid ?? 0) ?? String(file.uid ?? 0);
  const group = names.groups.get(file.gid ?? 0) ?? String(file.gid ?? 0);
  switch (file.type) {
    case "dir":
      return { kind: "directory", path, mode: file.mode ?? 0o755, owner, group };
    case "file":
      return {
        kind: "file",
        path,
        mode: file.mode ?? 0o644,
        owner,
        group,
        sha256: file.sha256!,
        size: file.size!,
      };
    case "symlink":
      // deno-lint-ignore no-control-regex
      if (/[\u0000-\u001f\u007f]/.test(file.target!)) {
        return { kind: "todo", path, reason: "a symlink whose target has control characters" };
      }
      return { kind: "link", path, target: file.target!, ...(service ? { service } : {}) };
    default:
      return { kind: "todo", path, reason: `cannot be reproduced: ${file.detail ?? file.type}` };
  }
}
