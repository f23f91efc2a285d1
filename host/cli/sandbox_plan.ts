/**
 * What one `agentbox exec` or `agentbox run` asks for: their shared options, validated into a
 * plan — the core's sandbox spec (host/api/sandbox_spec.ts) plus what only the CLI decides (what
 * to do with the changes, JSON output, prompts).
 *
 * @module
 */

import { resolve } from "node:path";
import { USER_NAME_PATTERN } from "@agentbox/protocol";
import {
  IMAGE_NAME_PATTERN,
  MAX_TIMEOUT_SEC,
  parseSandboxSpec,
  type SandboxSpec,
} from "../api/sandbox_spec.ts";
import { MIN_MEMORY_MB, VM_DEFAULTS, VMM_KINDS, type VmmKind } from "../api/spec_vocabulary.ts";
import { UsageError } from "./errors.ts";
import { netBackendChoice, netChoice } from "./net_options.ts";
import { envOption, positiveInt } from "./options.ts";
import { type AfterRun, afterRun } from "./workspace_options.ts";

/** Everything a sandbox command was asked to do, validated before anything starts. */
export interface SandboxPlan {
  /** The sandbox itself: what the core is asked for. */
  spec: SandboxSpec;
  /** What to do with the changes when the command ends. */
  after: AfterRun;
  /** Print one JSON report on stdout instead of the human summaries. */
  json: boolean;
  /** Ask about graylisted hosts on the terminal (else the proxy refuses them). */
  prompts: boolean;
  /** `--yes`: `--net learn` writes the learned hosts without asking. */
  learnYes: boolean;
}

/**
 * Validate the shared options of `command` into a plan. `share` is the directory shared when
 * `--share` is not given (`run` shares the current directory); `cwd` is the directory the user
 * works in (relative paths are resolved against it; it is the project when nothing is shared);
 * `interactive` says whether a person can be asked things on the terminal.
 *
 * @example
 * ```ts
 * import { sandboxPlan } from "./sandbox_plan.ts";
 * const plan = sandboxPlan("exec", {}, ["true"], { interactive: false, cwd: "/src/app" });
 * console.assert(plan.spec.cpus >= 1 && plan.after === "keep");
 * ```
 */
export function sandboxPlan(
  command: string,
  values: Record<string, unknown>,
  argv: string[],
  options: { interactive: boolean; cwd: string; share?: string; json?: boolean; prompts?: boolean },
): SandboxPlan {
  const given = (values.share as string | undefined) ?? options.share;
  const share = given === undefined ? undefined : resolve(options.cwd, given);
  const spec = parseSandboxSpec({
    argv,
    env: envOption(command, values.env),
    workdir: values.workdir as string | undefined,
    user: userOption(command, values.user),
    timeoutSec: values.timeout === undefined
      ? undefined
      : positiveInt(command, "timeout", values.timeout, 0, MAX_TIMEOUT_SEC),
    image: imageOption(command, values.image),
    cpus: positiveInt(command, "cpus", values.cpus, VM_DEFAULTS.cpus, 64),
    memoryMb: positiveInt(
      command,
      "memory",
      values.memory,
      VM_DEFAULTS.memoryMb,
      1024 * 1024,
      MIN_MEMORY_MB,
    ),
    vmm: vmmOption(command, values.vmm),
    net: netChoice(values.net),
    allow: values.allow as string[] | undefined,
    deny: values.deny as string[] | undefined,
    tlsInspect: !!values["tls-inspect"],
    netBackend: netBackendChoice(values["net-backend"]),
    share,
    projectDir: share ?? options.cwd,
  }, `the options of \`agentbox ${command}\``);
  return {
    spec,
    after: afterRun({ ...values, share }, options.interactive),
    json: options.json ?? false,
    prompts: options.prompts ?? options.interactive,
    learnYes: !!values.yes,
  };
}

function imageOption(command: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !IMAGE_NAME_PATTERN.test(value)) {
    throw new UsageError(
      `Invalid --image ${JSON.stringify(String(value).slice(0, 80))}: an image name is up to 64 ` +
        `lower-case letters, digits, ".", "_" or "-": see \`agentbox ${command} --help\``,
    );
  }
  return value;
}

function vmmOption(command: string, value: unknown): VmmKind | undefined {
  if (value === undefined) return undefined;
  if (!VMM_KINDS.includes(value as VmmKind)) {
    throw new UsageError(
      `Invalid --vmm ${JSON.stringify(value)}: use ${VMM_KINDS.join(" or ")}: ` +
        `see \`agentbox ${command} --help\``,
    );
  }
  return value as VmmKind;
}

function userOption(command: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !USER_NAME_PATTERN.test(value)) {
    throw new UsageError(`${command}: --user wants a user name such as agent or root`);
  }
  return value;
}
