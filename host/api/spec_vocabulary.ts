/**
 * The words a sandbox spec is written in — VM sizes and defaults, network choices, session
 * names — for front ends that turn flags or fields into a spec. Apart from `sandbox_spec.ts` so
 * that a flag table loads no validator (zod) and no image code: `exec --session` parses the same
 * flags and must start fast.
 *
 * @module
 */

export { NET_BACKEND_CHOICES, type NetBackendChoice } from "../net/net_backend.ts";
export { isValidName, NAME_RULE } from "../session/names.ts";
export { NET_CHOICES, type NetChoice } from "../session/net_choice.ts";
export { VMM_KINDS, type VmmKind } from "../vm/running_vm.ts";
export { MIN_MEMORY_MB, VM_DEFAULTS } from "../vm/spec.ts";
