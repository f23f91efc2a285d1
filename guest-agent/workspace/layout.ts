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

/**
 * The read-only view of the host directory the session started from: the lower image itself, or,
 * when the lower disk carries delta layers over an older image (host/workspace/share_layers.ts), a
 * read-only overlay of them all. The scan compares the upper layer with it.
 */
export const LOWER_DIR = "/run/agentbox/workspace/lower";

/** Mount points of the lower disk's layers when it has deltas: `<LAYERS_DIR>/<n>`, 0 the oldest. */
export const LAYERS_DIR = "/run/agentbox/workspace/layers";

/** Mount point of the writable disk; the upper and work directories live on it. */
export const UPPER_DISK_DIR = "/run/agentbox/workspace/disk";

/** The overlay's upper layer: every change the guest makes. */
export const UPPER_DIR = `${UPPER_DISK_DIR}/upper`;

/** The overlay's work directory (same file system as the upper layer). */
export const WORK_DIR = `${UPPER_DISK_DIR}/work`;

/** Virtio-blk serial numbers the host gives the two disks; the init finds them by these. */
export const DISK_SERIALS = { lower: "agentbox-lower", upper: "agentbox-upper" } as const;

/**
 * The root filesystem's own overlay (made by stage 1, image/stage1.ts): the image's read-only
 * erofs and the tmpfs holding the upper layer, moved here before `switch_root` so that the agent
 * can read them for `agentbox diff --system`. Both directories are in every image.
 */
export const ROOT_LOWER_DIR = "/opt/agentbox/root/lower";

/** Mount point of the tmpfs holding the root overlay's upper and work directories. */
export const ROOT_RW_DIR = "/opt/agentbox/root/rw";

/** The root overlay's upper layer: every change the guest made outside the workspace. */
export const ROOT_UPPER_DIR = `${ROOT_RW_DIR}/upper`;
