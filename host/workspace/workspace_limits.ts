/**
 * How much of the host's disk a session's workspace may take, and the defaults. The workspace
 * enforces them; `[workspace]` in the user's config.toml sets them (host/config/workspace_settings.ts).
 *
 * @module
 */

/** How much of the host's disk a session's workspace may take. */
export interface WorkspaceLimits {
  /** Most content bytes (announced sizes) in one changeset. */
  maxChangesBytes: number;
  /** Free bytes of the state file system agentbox leaves alone. */
  stateReserveBytes: number;
}

/** The defaults: 8 GiB of changes, 1 GiB kept free. */
export const DEFAULT_WORKSPACE_LIMITS: Readonly<WorkspaceLimits> = {
  maxChangesBytes: 8 * 1024 ** 3,
  stateReserveBytes: 1024 ** 3,
};
