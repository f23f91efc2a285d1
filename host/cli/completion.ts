/**
 * `agentbox completion bash|zsh|fish`: a completion script for the shell, generated from the
 * command tree (command_tree.ts: the command table and the help texts), so it offers exactly the
 * commands and options the help documents. Values are completed where they are a closed set
 * (`--color`, `--net`, `--vmm`, `--net-backend`, `--profile`, `--by`) or a path (`DIR`, `FILE`).
 *
 * @module
 */

import { IMAGE_PROFILES } from "../api/images.ts";
import { NET_BACKEND_CHOICES, NET_CHOICES, VMM_KINDS } from "../api/spec_vocabulary.ts";
import { type Cli, type CommandNode, commandTree, type OptionEntry } from "./command_tree.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";
import { COLOR_CHOICES } from "./output_settings.ts";

/** The shells a script can be printed for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = typeof SHELLS[number];

/** Help text of `agentbox completion`. */
export const COMPLETION_HELP = `Print a shell completion script for agentbox.

Usage: agentbox completion bash|zsh|fish

The script completes commands, subcommands, options and the values of options that take a
known set (--color, --net, --vmm, …) or a path. install.sh installs all three; by hand:

  bash:  agentbox completion bash > ~/.local/share/bash-completion/completions/agentbox
  zsh:   agentbox completion zsh > "\${fpath[1]}/_agentbox"   (then restart zsh)
  fish:  agentbox completion fish > ~/.config/fish/completions/agentbox.fish

Options:
  -h, --help  show this help`;

/** Values of options with a closed set of them. */
const CHOICES: Record<string, readonly string[]> = {
  color: COLOR_CHOICES,
  net: NET_CHOICES,
  vmm: VMM_KINDS,
  "net-backend": NET_BACKEND_CHOICES,
  profile: IMAGE_PROFILES.map((p) => p.name),
  by: ["model", "host", "session"],
};

/** How an option's value is completed. */
type ValueKind = { kind: "none" } | { kind: "words"; words: readonly string[] } | {
  kind: "dir" | "file";
};

function valueKind(option: OptionEntry): ValueKind {
  if (Object.hasOwn(CHOICES, option.long)) return { kind: "words", words: CHOICES[option.long] };
  if (option.value === "DIR") return { kind: "dir" };
  if (option.value === "FILE") return { kind: "file" };
  return { kind: "none" };
}

/**
 * Run `agentbox completion ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { completionCommand } from "./completion.ts";
 * import { COMMANDS, main } from "../main.ts";
 * await completionCommand(["bash"], { commands: COMMANDS, run: main });
 * ```
 */
export async function completionCommand(args: string[], cli: Cli): Promise<number> {
  const { values, positionals } = parseCommandArgs("completion", args, {});
  if (values.help) {
    console.log(COMPLETION_HELP);
    return 0;
  }
  const shell = positionals[0];
  if (positionals.length !== 1 || !SHELLS.includes(shell as Shell)) {
    throw new UsageError(
      `Name one shell: bash, zsh or fish, as in \`agentbox completion bash\``,
    );
  }
  console.log(await completionScript(shell as Shell, cli));
  return 0;
}

/**
 * The completion script for `shell`.
 *
 * @example
 * ```ts ignore
 * import { completionScript } from "./completion.ts";
 * import { COMMANDS, main } from "../main.ts";
 * console.log(await completionScript("fish", { commands: COMMANDS, run: main }));
 * ```
 */
export async function completionScript(shell: Shell, cli: Cli): Promise<string> {
  const tree = await commandTree(cli);
  return { bash: bashScript, zsh: zshScript, fish: fishScript }[shell](tree.main);
}

/** Every node below `root`, with the key the scripts dispatch on ("images build"). */
function nodes(root: CommandNode): CommandNode[] {
  return root.children.flatMap((c) => [c, ...c.children]);
}

function flags(option: OptionEntry): string[] {
  return [...(option.short ? [`-${option.short}`] : []), `--${option.long}`];
}

/** Options that take a value anywhere: the scripts skip their values when finding the command. */
function valueOptions(root: CommandNode): string[] {
  const all = [root, ...nodes(root)].flatMap((n) => n.options).filter((o) => o.value);
  return [...new Set(all.flatMap(flags))].sort();
}

/** Per option name, how its value completes (the first help that lists it decides). */
function valueCases(root: CommandNode): Map<string, ValueKind> {
  const cases = new Map<string, ValueKind>();
  for (const option of [root, ...nodes(root)].flatMap((n) => n.options)) {
    if (!option.value) continue;
    for (const flag of flags(option)) if (!cases.has(flag)) cases.set(flag, valueKind(option));
  }
  return cases;
}

/** What to offer after a node: its subcommands (or fixed words; commands after `help`), options. */
function offers(node: CommandNode, root: CommandNode): string[] {
  const words = node.path.join(" ") === "help" ? root.children : node.children;
  return [...words.map((c) => c.path.at(-1)!), ...node.options.flatMap(flags)];
}

/** The `case "$prev"` arms: how each value-taking option's value completes in this shell. */
function valueArms(root: CommandNode, action: (kind: ValueKind) => string): string[] {
  return [...groupBy(valueCases(root))].map(([kind, names]) =>
    `    ${names.join("|")}) ${action(kind)}; return ;;`
  );
}

function bashScript(root: CommandNode): string {
  const valueLines = valueArms(
    root,
    (kind) =>
      kind.kind === "words"
        ? `COMPREPLY=($(compgen -W "${kind.words.join(" ")}" -- "$cur"))`
        : kind.kind === "dir"
        ? `COMPREPLY=($(compgen -d -- "$cur"))`
        : kind.kind === "file"
        ? `COMPREPLY=($(compgen -f -- "$cur"))`
        : "COMPREPLY=()",
  );
  const caseLines = [root, ...nodes(root)].map((node) =>
    `    "${node.path.join(" ")}") words="${offers(node, root).join(" ")}" ;;`
  );
  const parents = root.children.filter((c) => c.children.length > 0).map((c) => c.path[0]);
  return `# bash completion for agentbox, generated by \`agentbox completion bash\` from its help
_agentbox() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local i w key="" words=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    case "$w" in
      --) return 0 ;;
      ${valueOptions(root).join("|")}) ((i++)) ;;
      -*) ;;
      *)
        if [ -z "$key" ]; then key=$w
        elif [[ " ${
    parents.join(" ")
  } " == *" $key "* ]] && [[ "$key" != *" "* ]]; then key="$key $w"
        else return 0
        fi ;;
    esac
  done
  case "$prev" in
${valueLines.join("\n")}
  esac
  case "$key" in
${caseLines.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _agentbox agentbox`;
}

function groupBy(values: Map<string, ValueKind>): Map<ValueKind, string[]> {
  const groups = new Map<string, { kind: ValueKind; names: string[] }>();
  for (const [name, kind] of values) {
    const key = JSON.stringify(kind);
    const group = groups.get(key) ?? { kind, names: [] };
    group.names.push(name);
    groups.set(key, group);
  }
  return new Map([...groups.values()].map((g) => [g.kind, g.names]));
}

/** `text` inside zsh single quotes, with `:` escaped for `_describe`. */
function zshItem(name: string, summary: string): string {
  const text = `${name.replaceAll(":", "\\:")}:${summary}`;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function zshScript(root: CommandNode): string {
  const valueLines = valueArms(
    root,
    (kind) =>
      kind.kind === "words"
        ? `compadd -- ${kind.words.join(" ")}`
        : kind.kind === "dir"
        ? "_files -/"
        : kind.kind === "file"
        ? "_files"
        : "_message value",
  );
  const caseLines = [root, ...nodes(root)].map((node) => {
    const words = node.path.join(" ") === "help" ? root.children : node.children;
    const items = [
      ...words.map((c) => zshItem(c.path.at(-1)!, c.summary)),
      ...node.options.flatMap((o) => flags(o).map((f) => zshItem(f, o.summary))),
    ];
    return `    "${node.path.join(" ")}") items=(${items.join(" ")}) ;;`;
  });
  const parents = root.children.filter((c) => c.children.length > 0).map((c) => c.path[0]);
  return `#compdef agentbox
# zsh completion for agentbox, generated by \`agentbox completion zsh\` from its help
_agentbox() {
  local i w key="" prev=\${words[CURRENT-1]}
  local -a items
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    case "$w" in
      --) _normal; return ;;
      ${valueOptions(root).join("|")}) ((i++)) ;;
      -*) ;;
      *)
        if [[ -z "$key" ]]; then key=$w
        elif [[ " ${parents.join(" ")} " == *" $key "* && "$key" != *" "* ]]; then key="$key $w"
        else _files; return
        fi ;;
    esac
  done
  case "$prev" in
${valueLines.join("\n")}
  esac
  case "$key" in
${caseLines.join("\n")}
  esac
  _describe -t agentbox 'agentbox' items
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _agentbox "$@"
else
  compdef _agentbox agentbox
fi`;
}

/** `text` as a fish single-quoted string. */
function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

function fishScript(root: CommandNode): string {
  const lines = [
    "# fish completion for agentbox, generated by `agentbox completion fish` from its help",
    "complete -c agentbox -f",
  ];
  const names = root.children.map((c) => c.path[0]);
  const option = (condition: string, o: OptionEntry) => {
    const kind = o.value ? valueKind(o) : { kind: "none" as const };
    const value = !o.value
      ? ""
      : kind.kind === "words"
      ? ` -xa ${fishQuote(kind.words.join(" "))}`
      : kind.kind === "dir"
      ? ` -xa '(__fish_complete_directories)'`
      : kind.kind === "file"
      ? " -rF"
      : " -x";
    const short = o.short ? ` -s ${o.short}` : "";
    return `complete -c agentbox -n ${fishQuote(condition)}${short} -l ${o.long}${value} -d ${
      fishQuote(o.summary)
    }`;
  };
  const top = "__fish_use_subcommand";
  for (const c of root.children) {
    lines.push(`complete -c agentbox -n ${top} -a ${c.path[0]} -d ${fishQuote(c.summary)}`);
  }
  for (const o of root.options) lines.push(option(top, o));
  for (const c of root.children) {
    const seen = `__fish_seen_subcommand_from ${c.path[0]}`;
    const subs = c.children.map((s) => s.path[1]);
    const before = subs.length > 0
      ? `${seen}; and not __fish_seen_subcommand_from ${subs.join(" ")}`
      : seen;
    for (const s of c.children) {
      lines.push(
        `complete -c agentbox -n ${fishQuote(before)} -a ${s.path[1]} -d ${fishQuote(s.summary)}`,
      );
    }
    if (c.path[0] === "help") {
      lines.push(`complete -c agentbox -n ${fishQuote(seen)} -a ${fishQuote(names.join(" "))}`);
    }
    for (const o of c.options) lines.push(option(before, o));
    for (const s of c.children) {
      for (const o of s.options) {
        lines.push(option(`${seen}; and __fish_seen_subcommand_from ${s.path[1]}`, o));
      }
    }
  }
  return lines.join("\n");
}
