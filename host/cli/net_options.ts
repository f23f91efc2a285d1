/**
 * The network options every sandbox command shares (`--net`, `--allow`, `--deny`), the graylist
 * prompt on a terminal, and the end-of-run network summary.
 *
 * @module
 */

import type { ConfirmLearned } from "../config/learned_allowlist.ts";
import {
  NET_BACKEND_CHOICES,
  NET_CHOICES,
  type NetBackendChoice,
  type NetChoice,
} from "../api/spec_vocabulary.ts";
import type { NetworkReport } from "../session/network_session.ts";
import { stdinLines, type TerminalAsker, terminalAsker } from "./approval_prompt.ts";
import { UsageError } from "./errors.ts";
import { escapeControls } from "../terminal_text.ts";
import { terminalOutput } from "./output_gate.ts";

/** `parseCommandArgs` specs of the network options. */
export const NET_OPTIONS = {
  net: { type: "string" },
  allow: { type: "string", multiple: true },
  deny: { type: "string", multiple: true },
  "tls-inspect": { type: "boolean" },
  "trust-host-ca": { type: "boolean" },
  "net-backend": { type: "string" },
  yes: { type: "boolean" },
} as const;

/** Help lines of the network options. */
export const NET_HELP =
  `  --net MODE        network: allowlist (default: the policy decides), open (any public host,
                    logged), learn (like open, then add the hosts used to .agentbox.toml),
                    none (no network interface)
  --yes             with --net learn: write the learned hosts to .agentbox.toml without asking
                    (on a terminal agentbox shows them and asks; elsewhere, without --yes, they
                    are only reported)
  --allow HOST      also allow HOST (exact, or *.suffix); repeatable
  --deny HOST       refuse HOST whatever else allows it; repeatable
  --tls-inspect     decrypt HTTPS to allowed hosts with a per-session CA the guest trusts, so
                    method/path rules, host rewrites, credential injection and AI token counts
                    apply (docs/proxy.md, "TLS inspection")
  --trust-host-ca   give the guest the CAs the host trusts beyond the public ones (e.g. a
                    corporate TLS proxy's), so HTTPS through it works without --tls-inspect;
                    the guest learns which CAs the host trusts (docs/security.md)
  --net-backend B   how the VM's traffic reaches the proxy: tap (a tap device behind an
                    nftables wall; root), user (QEMU user networking; rootless), auto
                    (default: tap where possible)`;

/** Validate `--net`. */
export function netChoice(value: unknown): NetChoice | undefined {
  if (value === undefined) return undefined;
  if (!NET_CHOICES.includes(value as NetChoice)) {
    throw new UsageError(`Invalid --net ${JSON.stringify(value)}: use ${NET_CHOICES.join(", ")}`);
  }
  return value as NetChoice;
}

/** Validate `--net-backend` (or the option named `flag` that takes the same values). */
export function netBackendChoice(
  value: unknown,
  flag = "--net-backend",
): NetBackendChoice | undefined {
  if (value === undefined) return undefined;
  if (!NET_BACKEND_CHOICES.includes(value as NetBackendChoice)) {
    throw new UsageError(
      `Invalid ${flag} ${JSON.stringify(value)}: use ${NET_BACKEND_CHOICES.join(", ")}`,
    );
  }
  return value as NetBackendChoice;
}

/**
 * Written before a question: CAN ends any escape or control string the guest's output left open
 * (which would swallow the question), SGR 0 undoes colours and concealed text, and the question
 * starts on a line of its own.
 */
const TERMINAL_RESET = "\x18\x1b[0m\r\n";

/**
 * Ask about graylisted hosts on the terminal when a person is there (as well as through the
 * approval queue, where `agentbox approve` can answer too); `undefined` otherwise, and the proxy
 * denies. The command's output (piped_io.ts) waits while a question is open.
 */
export function interactiveAsker(): TerminalAsker | undefined {
  if (!Deno.stdin.isTerminal() || !Deno.stderr.isTerminal()) return undefined;
  const encoder = new TextEncoder();
  const write = async (text: string) => {
    const bytes = encoder.encode(text);
    for (let n = 0; n < bytes.length;) n += await Deno.stderr.write(bytes.subarray(n));
  };
  return terminalAsker({
    readLine: stdinLines(),
    write,
    async pause() {
      const resume = await terminalOutput.hold();
      try {
        await write(TERMINAL_RESET);
      } catch (error) {
        resume();
        throw error;
      }
      return resume;
    },
  }, {});
}

/**
 * How `--net learn` gets its yes before it widens `.agentbox.toml`: `--yes` says it up front;
 * otherwise a person at the terminal is shown the hosts and asked; with nobody to ask (a pipe,
 * `--json`, a detached session) the result is `undefined` and nothing is written. Pass it to
 * `startNetworkSession` as `confirmLearned`.
 *
 * @example
 * ```ts
 * import { learnConfirmer } from "./net_options.ts";
 * const confirm = learnConfirmer({ yes: true, json: false });
 * console.assert(confirm?.({ file: "/p/.agentbox.toml", hosts: ["a.test"] }) === true);
 * ```
 */
export function learnConfirmer(
  options: { yes: boolean; json: boolean },
  terminal: LearnTerminal = {
    present: Deno.stdin.isTerminal() && Deno.stderr.isTerminal(),
    show: (text) => console.error(text),
    ask: confirm,
  },
): ConfirmLearned | undefined {
  if (options.yes) return () => true;
  if (options.json || !terminal.present) return undefined;
  return ({ file, hosts }) => {
    // Canonical names: ASCII letters, digits, `-`, `.` and `_` only; nothing that drives a terminal.
    terminal.show(
      `agentbox: the run reached ${hosts.length} host(s) that ${file} does not allow:\n` +
        hosts.map((h) => `  ${h}`).join("\n"),
    );
    return terminal.ask(
      `Add them to network.allow in ${file}? Every later session will allow them.`,
    );
  };
}

/** Where {@linkcode learnConfirmer} asks: the user's terminal, or a test's stand-in. */
export interface LearnTerminal {
  /** Whether a person can answer (stdin and stderr are terminals). */
  present: boolean;
  show(text: string): void;
  ask(question: string): boolean;
}

/**
 * The end-of-run lines about refused destinations: each with its rule and, when a setting lifts
 * it, how (a host on a deny list is not allowed by `--allow`, so its hint says so).
 *
 * @example
 * ```ts
 * import { formatRefusals } from "./net_options.ts";
 * console.log(formatRefusals([{
 *   host: "evil.test", port: 443, rule: 'deny "evil.test" (--deny in command line)', count: 1,
 *   hint: "run without --deny evil.test (the deny list wins over --allow)",
 * }], "0f3c2a9e"));
 * ```
 */
export function formatRefusals(refused: NetworkReport["refused"], session: string): string {
  const list = refused.map((r) =>
    `  ${r.host}:${r.port} (${r.count}x) refused by ${r.rule}${
      r.hint ? `; to allow it, ${r.hint}` : ""
    }`
  );
  return escapeControls(
    `agentbox: the proxy refused ${refused.length} destination(s):\n${list.join("\n")}\n` +
      `  details: agentbox requests ${session}`,
    { keep: "\n" },
  );
}

/** The end-of-run lines about the network: what was refused and how to allow it; what was learned. */
export function printNetworkReport(report: NetworkReport): void {
  const short = report.sessionId.slice(0, 8);
  if (report.refused.length > 0) {
    console.error(formatRefusals(report.refused, short));
  }
  if (report.learned) {
    const { file, added, declined } = report.learned;
    if (added.length > 0) {
      console.error(
        `agentbox: learned ${added.length} host(s), added to network.allow in ${file}: ${
          added.join(", ")
        }`,
      );
    } else if (declined.length > 0) {
      console.error(
        `agentbox: learned ${declined.length} host(s), not written to ${file}: ${
          declined.join(", ")
        }\n  to allow them, run again with --net learn --yes, or add them to network.allow`,
      );
    } else {
      console.error(
        `agentbox: learned nothing new: ${file} already allows every host this run used`,
      );
    }
  }
}
