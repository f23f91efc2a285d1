/**
 * What one `agentbox exec` or `agentbox run` asks for: their shared options, validated into a
 * plan. Kept apart from sandbox.ts, which carries out a plan, so that commands that only parse
 * (`exec --session`) do not load the proxy, the VM layer and the workspace code.
 *
 * @module
 */

import { USER_NAME_PATTERN } from "@agentbox/protocol";
import type { NetBackendChoice } from "../net/net_backend.ts";
import type { NetChoice } from "../session/net_choice.ts";
import { VMM_KINDS, type VmmKind } from "../vm/running_vm.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { UsageError } from "./errors.ts";
import { NET_OPTIONS, netBackendChoice, netChoice } from "./net_options.ts";
import { envOption, positiveInt } from "./options.ts";
import { type AfterRun, afterRun, SHARE_OPTIONS } from "./workspace_options.ts";

/** Below this the guest kernel and the agent's Deno runtime do not fit. */
export const MIN_MEMORY_MB = 256;

/** `parseCommandArgs` specs of the options every sandbox command takes. */
export const SANDBOX_OPTIONS = {
  image: { type: "string" },
  cpus: { type: "string" },
  memory: { type: "string" },
  timeout: { type: "string" },
  env: { type: "string", multiple: true },
  workdir: { type: "string" },
  user: { type: "string" },
  vmm: { type: "string" },
  ...NET_OPTIONS,
  ...SHARE_OPTIONS,
  verbose: { type: "boolean" },
} as const;

/** Help lines of the VM and command options, before the share and network ones. */
export const SANDBOX_HELP =
  `  --image NAME      image to boot (default: default; build it with \`agentbox images build\`)
  --cpus N          virtual CPUs (default: ${VM_DEFAULTS.cpus})
  --memory MB       guest memory in MiB, at least ${MIN_MEMORY_MB} (default: ${VM_DEFAULTS.memoryMb})
  --timeout SEC     kill the command and everything it started after SEC seconds (exit 124)
  --env K=V         set an environment variable in the guest; K alone passes the host's value
  --workdir DIR     working directory inside the guest (default: /workspace with a share, else /)
  --user NAME       run the command as this guest user (default: the image's user: root in the
                    default image, agent in the dev image)
  --vmm VMM         virtual machine monitor: qemu (default; vm.vmm in config.toml) or
                    cloud-hypervisor (needs KVM and the tap network; docs/cloud-hypervisor.md)`;

/** Everything a sandbox command was asked to do, validated before anything starts. */
export interface SandboxPlan {
  argv: string[];
  env: Record<string, string>;
  workdir?: string;
  /** Guest user to run as; absent: the image's default user. */
  user?: string;
  timeoutSec?: number;
  image?: string;
  cpus: number;
  memoryMb: number;
  /** `--vmm`; absent: `vm.vmm` from the user's config, else QEMU. */
  vmm?: VmmKind;
  net?: NetChoice;
  allow?: string[];
  deny?: string[];
  tlsInspect: boolean;
  /** `--net-backend`; absent: the configuration decides (default `auto`). */
  netBackend?: NetBackendChoice;
  share?: string;
  after: AfterRun;
  /** Print one JSON report on stdout instead of the human summaries. */
  json: boolean;
  /** Ask about graylisted hosts on the terminal (else the proxy refuses them). */
  prompts: boolean;
}

/**
 * Validate the shared options of `command` into a plan. `share` is the directory shared when
 * `--share` is not given (`run` shares the current directory); `interactive` says whether a
 * person can be asked things on the terminal.
 *
 * @example
 * ```ts
 * import { sandboxPlan } from "./sandbox_plan.ts";
 * const plan = sandboxPlan("exec", {}, ["true"], { interactive: false });
 * console.assert(plan.cpus >= 1 && plan.after === "keep");
 * ```
 */
export function sandboxPlan(
  command: string,
  values: Record<string, unknown>,
  argv: string[],
  options: { interactive: boolean; share?: string; json?: boolean; prompts?: boolean },
): SandboxPlan {
  const share = (values.share as string | undefined) ?? options.share;
  return {
    argv,
    env: envOption(command, values.env),
    workdir: values.workdir as string | undefined,
    user: userOption(command, values.user),
    timeoutSec: values.timeout === undefined
      ? undefined
      : positiveInt(command, "timeout", values.timeout, 0, 7 * 24 * 3600),
    image: values.image as string | undefined,
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
    after: afterRun({ ...values, share }, options.interactive),
    json: options.json ?? false,
    prompts: options.prompts ?? options.interactive,
  };
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
