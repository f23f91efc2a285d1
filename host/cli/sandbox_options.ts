/**
 * The options every sandbox command (`exec`, `run`) takes, and their help lines: no validation
 * here (sandbox_plan.ts does it), so that commands that only parse flags (`exec --session`) load
 * neither the core's schemas nor the VM layer.
 *
 * @module
 */

import { MIN_MEMORY_MB, VM_DEFAULTS } from "../api/spec_vocabulary.ts";
import { NET_OPTIONS } from "./net_options.ts";
import { SHARE_OPTIONS } from "./workspace_options.ts";

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
