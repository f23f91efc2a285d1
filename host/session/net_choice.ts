/**
 * `--net`: a policy mode, or no network interface at all.
 *
 * @module
 */

import type { NetMode } from "../config/policy.ts";

/** `--net`: a policy mode, or no network interface at all. */
export type NetChoice = NetMode | "none";

/** Every value `--net` accepts. */
export const NET_CHOICES: readonly NetChoice[] = ["none", "allowlist", "open", "learn"];
