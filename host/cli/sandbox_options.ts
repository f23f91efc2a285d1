/**
 * The options every sandbox command (`exec`, `run`) takes, and their help lines: no validation
 * here (sandbox_plan.ts does it), so that commands that only parse flags (`exec --session`) load
 * neither the core's schemas nor the VM layer.
 *
 * @module
 */

import { MIN_MEMORY_MB, VM_DEFAULTS } from "../api/spec_vocabulary.ts";
import { UsageError } from "./errors.ts";
import { NET_OPTIONS } from "./net_options.ts";
import { SHARE_OPTIONS } from "./share_options.ts";

/** `parseCommandArgs` specs of the options every sandbox command takes. */
export const SANDBOX_OPTIONS = {
  image: { type: "string" },
  cpus: { type: "string" },
  memory: { type: "string" },
  timeout: { type: "string" },
  env: { type: "string", multiple: true, short: "e" },
  "env-file": { type: "string", multiple: true },
  workdir: { type: "string", short: "w" },
  user: { type: "string", short: "u" },
  interactive: { type: "boolean", short: "i" },
  tty: { type: "boolean", short: "t" },
  vmm: { type: "string" },
  ...NET_OPTIONS,
  ...SHARE_OPTIONS,
} as const;

/**
 * Refuse `-t/--tty` when stdin is no terminal (there is nothing to wire to the guest's).
 *
 * @example
 * ```ts
 * import { checkTty } from "./sandbox_options.ts";
 * checkTty({}, false); // no -t: nothing to check
 * ```
 */
export function checkTty(values: Record<string, unknown>, onTerminal: boolean): void {
  if (values.tty && !onTerminal) {
    throw new UsageError("-t/--tty needs stdin to be a terminal: drop -t, or run on one");
  }
}

/** Help lines of the VM and command options, before the share and network ones. */
export const SANDBOX_HELP =
  `  --image NAME      image to boot (default: default; build it with \`agentbox images build\`)
  --cpus N          virtual CPUs (default: ${VM_DEFAULTS.cpus})
  --memory MB       guest memory in MiB, at least ${MIN_MEMORY_MB} (default: ${VM_DEFAULTS.memoryMb})
  --timeout SEC     kill the command and everything it started after SEC seconds (exit 124)
  -e, --env K=V     set an environment variable in the guest; K alone passes the host's value
  --env-file FILE   read NAME=VALUE lines (or NAME alone) from FILE, as docker does; -e wins
  -w, --workdir DIR working directory inside the guest (default: /workspace with a share, else /)
  -u, --user NAME   run the command as this guest user (default: the image's user: root in the
                    default image, agent in the dev image)
  -i, --interactive forward stdin to the command even when it is a terminal (a pipe always is)
  -t, --tty         run the command on a terminal in the guest, wired to this one (needs stdin
                    to be a terminal; \`agentbox run\` does this by default)
  --vmm VMM         virtual machine monitor: qemu (default; vm.vmm in config.toml) or
                    cloud-hypervisor (needs KVM and the tap network; docs/cloud-hypervisor.md)`;
