/**
 * `agentbox diff SESSION --system`: the rendering of a session's system diff — the summary
 * (packages, users and groups, services), the `/etc` diffs and the file list as text, or one JSON
 * document. Everything shown came from the guest and is escaped. (diff.ts hands over here.)
 *
 * @module
 */

import {
  SYSTEM_DIFF_JSON_VERSION,
  systemDiff,
  type SystemDiffReport,
} from "../api/system_changes.ts";
import { escapeControls, jsonSafe, printable } from "../terminal_text.ts";

/** Options of {@linkcode systemDiffCommand}. */
export interface SystemDiffCommandOptions {
  json: boolean;
  /** `--name-only`: the changed paths only. */
  nameOnly: boolean;
  /** `--stat`: the summary without the `/etc` diffs. */
  stat: boolean;
  exclude: string[];
}

/** Print the system diff of `session` (a full id). */
export async function systemDiffCommand(
  session: string,
  options: SystemDiffCommandOptions,
): Promise<number> {
  const report = await systemDiff(session, { exclude: options.exclude });
  const text = options.json
    ? renderSystemJson(report)
    : options.nameOnly
    ? report.summary.files.map((f) => `/${printable(f.path)}${f.type === "dir" ? "/" : ""}`)
      .join("\n")
    : renderSystemText(report, { diffs: !options.stat });
  if (text !== "") console.log(text);
  return 0;
}

/**
 * The JSON document of `diff --system --json` (shape in docs/system-diff.md): the summary as is,
 * paths relative to `/` written absolute, with version and session.
 *
 * @example
 * ```ts ignore
 * import { renderSystemJson } from "./system_diff.ts";
 * console.log(renderSystemJson(report));
 * ```
 */
export function renderSystemJson(report: SystemDiffReport): string {
  const { summary } = report;
  const abs = <T extends { path: string }>(e: T) => ({ ...e, path: `/${e.path}` });
  return jsonSafe(JSON.stringify({
    version: SYSTEM_DIFF_JSON_VERSION,
    session: report.session,
    packages: summary.packages,
    users: { added: summary.accounts.usersAdded, removed: summary.accounts.usersRemoved },
    groups: {
      added: summary.accounts.groupsAdded,
      removed: summary.accounts.groupsRemoved,
      membership: summary.accounts.memberships,
    },
    services: summary.services,
    etc: summary.etc.map(abs),
    files: summary.files.map(abs),
    excluded: summary.excluded,
  }));
}

/**
 * The text form: a summary block, then the `/etc` diffs (unless `diffs` is false), then the
 * files that are not a package's, each with its risk.
 *
 * @example
 * ```ts ignore
 * import { renderSystemText } from "./system_diff.ts";
 * console.log(renderSystemText(report, { diffs: true }));
 * ```
 */
export function renderSystemText(report: SystemDiffReport, options: { diffs: boolean }): string {
  const { packages, accounts, services, etc, files } = report.summary;
  const out: string[] = [];
  const line = (text: string) => out.push(escapeControls(text));
  const section = (title: string, items: string[]) => {
    if (items.length === 0) return;
    out.push(`${title}:`);
    for (const item of items) line(`  ${item}`);
  };
  section("Packages installed", packages.installed.map((p) => `${p.name} ${p.version}`));
  section("Packages upgraded", packages.upgraded.map((p) => `${p.name} ${p.from} -> ${p.version}`));
  section("Packages removed", packages.removed.map((p) => `${p.name} ${p.version}`));
  section(
    "Users added",
    accounts.usersAdded.map((u) => `${u.name} (uid ${u.uid}, home ${u.home}, shell ${u.shell})`),
  );
  section("Users removed", accounts.usersRemoved.map((u) => u.name));
  section("Groups added", accounts.groupsAdded.map((g) => `${g.name} (gid ${g.gid})`));
  section("Groups removed", accounts.groupsRemoved.map((g) => g.name));
  section(
    "Group members",
    accounts.memberships.map((m) =>
      `${m.name}: ${[...m.added.map((a) => `+${a}`), ...m.removed.map((r) => `-${r}`)].join(" ")}`
    ),
  );
  section(
    "Services enabled",
    services.enabled.map((s) => `${s.name} (${s.init}: ${s.where.join(", ")})`),
  );
  section(
    "Services disabled",
    services.disabled.map((s) => `${s.name} (${s.init}: ${s.where.join(", ")})`),
  );
  const own = files.filter((f) => !f.package);
  const fromPackages = files.length - own.length;
  section(
    "Files changed",
    own.map((f) => {
      const mark = { added: "A", modified: "M", deleted: "D" }[f.change];
      const extra = f.type === "symlink" ? ` -> ${printable(f.target ?? "")}` : "";
      const risk = f.risk ? `  [high-risk: ${f.risk}]` : "";
      return `${mark} /${printable(f.path)}${f.type === "dir" ? "/" : ""}${extra}${risk}`;
    }),
  );
  if (fromPackages) out.push(`(${fromPackages} more files belong to the packages above)`);
  if (options.diffs) {
    for (const diff of etc) {
      if (diff.lines.length === 0 && !diff.omitted) continue;
      out.push("");
      line(`--- ${diff.change === "added" ? "/dev/null" : `a/${printable(diff.path)}`}`);
      line(`+++ ${diff.change === "deleted" ? "/dev/null" : `b/${printable(diff.path)}`}`);
      if (diff.omitted) line(`(no diff: ${diff.omitted})`);
      for (const l of diff.lines) line(l);
    }
  }
  return out.length ? out.join("\n") : "No system changes.";
}
