/**
 * What every agentbox root filesystem carries whatever it is built from: the Deno binary, the
 * bundled guest agent and the stage 2 boot files.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { ROOT_LOWER_DIR, ROOT_RW_DIR } from "../guest-agent/workspace/layout.ts";
import {
  AGENT_PATH,
  DENO_PATH,
  type GuestFile,
  stage2Files,
  type Stage2Options,
} from "./stage2.ts";

/** Host paths of the agent's pieces, and how stage 2 is written. */
export interface AgentboxFiles {
  /** Host path of the Deno binary to install as `/usr/bin/deno`. */
  deno: string;
  /** Host path of the bundled agent to install as `/opt/agentbox/agent.js`. */
  agent: string;
  stage2?: Stage2Options;
}

/**
 * Install the Deno binary, the agent bundle and the stage 2 files into the tree at `dir`,
 * replacing what is there.
 *
 * @example
 * ```ts
 * import { installAgentboxFiles } from "./agentbox_files.ts";
 * await installAgentboxFiles("/tmp/rootfs", { deno: "/usr/bin/deno", agent: "/tmp/agent.js" });
 * ```
 */
export async function installAgentboxFiles(dir: string, files: AgentboxFiles): Promise<void> {
  await installFile(files.deno, join(dir, DENO_PATH), 0o755);
  await installFile(files.agent, join(dir, AGENT_PATH), 0o644);
  await writeGuestFiles(dir, stage2Files(files.stage2));
  // Mount points stage 1 moves the root overlay's layers to (`agentbox diff --system`).
  for (const mountPoint of [ROOT_LOWER_DIR, ROOT_RW_DIR]) {
    await Deno.mkdir(join(dir, mountPoint), { recursive: true, mode: 0o700 });
  }
}

/**
 * Write `files` (paths relative to the tree's root) into the tree at `dir`, with their modes.
 *
 * @example
 * ```ts
 * import { writeGuestFiles } from "./agentbox_files.ts";
 * await writeGuestFiles("/tmp/rootfs", { "etc/hostname": { content: "agentbox\n", mode: 0o644 } });
 * ```
 */
export async function writeGuestFiles(
  dir: string,
  files: Record<string, GuestFile>,
): Promise<void> {
  for (const [path, file] of Object.entries(files)) {
    const target = join(dir, path);
    await Deno.mkdir(dirname(target), { recursive: true });
    // A symlink left by a package (e.g. /etc/resolv.conf) must be replaced, not followed.
    await Deno.remove(target).catch(() => {});
    await Deno.writeTextFile(target, file.content, { mode: file.mode });
    await Deno.chmod(target, file.mode);
  }
}

/**
 * Copy `source` to `destination` (parents created) with `mode`.
 *
 * @example
 * ```ts
 * import { installFile } from "./agentbox_files.ts";
 * await installFile("/usr/bin/deno", "/tmp/rootfs/usr/bin/deno", 0o755);
 * ```
 */
export async function installFile(
  source: string,
  destination: string,
  mode: number,
): Promise<void> {
  await Deno.mkdir(dirname(destination), { recursive: true });
  await Deno.remove(destination).catch(() => {});
  await Deno.copyFile(source, destination);
  await Deno.chmod(destination, mode);
}
