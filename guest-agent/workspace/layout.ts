/**
 * Where the shared workspace lives in the guest. The image's `/etc/agentbox/mount-workspace`,
 * run by the host through the agent, mounts it: the read-only lower image (virtio disk with serial
 * `agentbox-lower`), the writable disk holding the upper layer (serial `agentbox-upper`), and the
 * overlay of the two at `/workspace`.
 *
 * @module
 */

/** The merged, writable view the command works in. */
export const WORKSPACE_DIR = "/workspace";

/** Mount point of the read-only image of the host directory. */
export const LOWER_DIR = "/run/agentbox/workspace/lower";

/** Mount point of the writable disk; the upper and work directories live on it. */
export const UPPER_DISK_DIR = "/run/agentbox/workspace/disk";

/** The overlay's upper layer: every change the guest makes. */
export const UPPER_DIR = `${UPPER_DISK_DIR}/upper`;

/** The overlay's work directory (same file system as the upper layer). */
export const WORK_DIR = `${UPPER_DISK_DIR}/work`;

/** Virtio-blk serial numbers the host gives the two disks; the init finds them by these. */
export const DISK_SERIALS = { lower: "agentbox-lower", upper: "agentbox-upper" } as const;
