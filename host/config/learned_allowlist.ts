/**
 * `--net learn`: turn the hosts a run reached into the smallest allowlist that lets the same run
 * pass under the default `allowlist` mode, and write it to the project's `.agentbox.toml` only
 * once someone said yes: the names were chosen by the guest, and the file widens every later
 * session's policy.
 *
 * @module
 */

import { canonicalHost } from "../net/canonical_host.ts";
import { decide, type Policy } from "./policy.ts";
import { addToProjectAllowlist } from "./project_allowlist.ts";

/** What a learn run would add to the project's allowlist, shown before anything is written. */
export interface LearnProposal {
  /** The `.agentbox.toml` that would change. */
  file: string;
  /** Canonical host names (sorted) the run reached and the allowlist lacks. */
  hosts: string[];
}

/** Says whether `proposal` may be written (the user's answer, or `--yes`). */
export type ConfirmLearned = (proposal: LearnProposal) => boolean | Promise<boolean>;

/** What learn mode did with the hosts it learned. */
export interface LearnOutcome {
  file: string;
  /** Names written to `network.allow`. */
  added: string[];
  /** Names not written because nobody confirmed them. */
  declined: string[];
}

/**
 * Write `hosts` (from {@linkcode minimalAllowlist}) to `network.allow` in the project's
 * `.agentbox.toml` if `confirm` says yes. Without `confirm` — nobody to ask and no `--yes` —
 * nothing is written and every host is reported as declined. Throws `ConfigError` when the file
 * cannot be edited.
 *
 * @example
 * ```ts
 * import { learnIntoProject } from "./learned_allowlist.ts";
 * const dir = await Deno.makeTempDir();
 * const outcome = await learnIntoProject(dir, ["a.test"], { confirm: () => false });
 * console.assert(outcome.added.length === 0 && outcome.declined[0] === "a.test");
 * ```
 */
export async function learnIntoProject(
  projectDir: string,
  hosts: string[],
  options: { confirm?: ConfirmLearned },
): Promise<LearnOutcome> {
  const file = `${projectDir}/.agentbox.toml`;
  if (hosts.length === 0) return { file, added: [], declined: [] };
  const yes = options.confirm ? await options.confirm({ file, hosts: [...hosts] }) : false;
  if (!yes) return { file, added: [], declined: [...hosts] };
  const update = await addToProjectAllowlist(projectDir, hosts);
  return { file: update.file, added: update.added, declined: [] };
}

/** A host the run reached, with the kind of access. */
export interface ObservedHost {
  host: string;
  port: number;
  kind: "connect" | "http";
}

/**
 * Exact host names (sorted, deduplicated, canonical) that `policy` in `allowlist` mode would not
 * already allow. Hosts the blocklist denies and IP literals are left out: learning never widens
 * past the blocklist and never allows an address.
 *
 * @example
 * ```ts
 * import { minimalAllowlist } from "./learned_allowlist.ts";
 * import { emptyPolicy } from "./policy.ts";
 * const hosts = minimalAllowlist([{ host: "B.test", port: 443, kind: "connect" }], emptyPolicy());
 * console.assert(hosts[0] === "b.test");
 * ```
 */
export function minimalAllowlist(observed: ObservedHost[], policy: Policy): string[] {
  const strict: Policy = { ...policy, mode: "allowlist" };
  const needed = new Set<string>();
  for (const o of observed) {
    const host = canonicalHost(o.host);
    if (host.kind !== "dns") continue;
    const decision = decide(strict, { host, port: o.port, kind: o.kind });
    if (decision.verdict !== "allow" && !decision.rule.startsWith("deny ")) needed.add(host.name);
  }
  return [...needed].sort();
}
