/**
 * How the guest's memory is shared between the file systems that live in it and the agent. The
 * root overlay's upper layer, `/tmp`, `/run` and `/dev/shm` are tmpfs: what a command writes there
 * is memory the kernel can neither swap (there is no swap) nor reclaim by killing a process. Left
 * at tmpfs's default (half the memory each) they add up to twice the memory, and a guest that
 * filled them starved the agent: the kernel killed it and the host lost the session. So together
 * they get at most the memory less a reserve, kept for the agent, the kernel and the page cache
 * the agent's code runs from; what a command allocates itself is the OOM killer's to take back
 * (commands run at `oom_score_adj` +500, the agent at -1000: image/stage2.ts,
 * guest-agent/handlers/exec.ts).
 *
 * @module
 */

/** The smallest reserve, in KiB: the agent (about 50 MiB resident), its code, the kernel. */
export const MIN_RESERVE_KIB = 256 * 1024;

/** The reserve is at least this fraction of the memory. */
export const RESERVE_DIVISOR = 4;

/** Each tmpfs's share of what the reserve leaves, in percent (they add up to 100). */
export const TMPFS_SHARES = { root: 50, tmp: 40, run: 5, shm: 5 } as const;

/**
 * Shell lines (busybox `sh`) that set `$tmpfs_kib` to the budget of all tmpfs together, from
 * `/proc/meminfo`; {@linkcode tmpfsSize} then gives one mount's `size=` value.
 *
 * @example
 * ```ts
 * import { TMPFS_BUDGET_SCRIPT, tmpfsSize } from "./guest_memory.ts";
 * const script = `${TMPFS_BUDGET_SCRIPT}\nmount -t tmpfs -o size=${tmpfsSize("tmp")} tmpfs /tmp`;
 * ```
 */
export const TMPFS_BUDGET_SCRIPT = `mem_kib=0
while read -r key value unit; do
  if [ "$key" = MemTotal: ]; then mem_kib=$value; break; fi
done </proc/meminfo
reserve_kib=$((mem_kib / ${RESERVE_DIVISOR}))
[ "$reserve_kib" -ge ${MIN_RESERVE_KIB} ] || reserve_kib=${MIN_RESERVE_KIB}
tmpfs_kib=$((mem_kib - reserve_kib))
[ "$tmpfs_kib" -ge 65536 ] || tmpfs_kib=65536`;

/** The `size=` option of tmpfs `which`, for a script that ran {@linkcode TMPFS_BUDGET_SCRIPT}. */
export function tmpfsSize(which: keyof typeof TMPFS_SHARES): string {
  return `$((tmpfs_kib * ${TMPFS_SHARES[which]} / 100))k`;
}
