/**
 * The virtual machine monitors agentbox drives — a closed set shared by the VM backends
 * (host/vm/) and the settings that choose one (host/config/vm_settings.ts), so that neither
 * imports the other for it.
 *
 * @module
 */

/** A VMM agentbox can run a VM under. */
export type VmmKind = "qemu" | "cloud-hypervisor";

/**
 * Every {@linkcode VmmKind}, in the order help texts list them.
 *
 * @example
 * ```ts
 * import { VMM_KINDS } from "./vmm_kind.ts";
 * console.assert(VMM_KINDS[0] === "qemu");
 * ```
 */
export const VMM_KINDS: readonly VmmKind[] = ["qemu", "cloud-hypervisor"];
