/**
 * `changes.start`: scan the workspace overlay's upper layer and send every change on fd 1 of the
 * stream as a changes stream (protocol/changes_stream.ts), then `changes.done`.
 *
 * @module
 */

import type { ChangesStart, StreamPort } from "@agentbox/protocol";
import { encodeChangeEntry, ProtocolError } from "@agentbox/protocol";
import { LOWER_DIR, UPPER_DIR, WORKSPACE_DIR } from "../workspace/layout.ts";
import { type OverlayDirs, scanOverlay } from "../workspace/scan_overlay.ts";
import { BatchWriter, sendContent } from "./entry_writer.ts";

const DEFAULT_DIRS: OverlayDirs = { upper: UPPER_DIR, lower: LOWER_DIR, merged: WORKSPACE_DIR };

/**
 * Send the changes of the overlay at `dirs` (default: the shared workspace). Throws
 * `no_workspace` synchronously-ish (before anything is sent) when there is none.
 */
export async function sendChanges(
  conn: StreamPort,
  start: ChangesStart,
  dirs: OverlayDirs = DEFAULT_DIRS,
): Promise<void> {
  if (!(await isDirectory(dirs.upper))) {
    throw new ProtocolError("no_workspace", "No workspace is shared with this VM");
  }
  const out = new BatchWriter(conn.transmit(start.stream, 1).getWriter());
  let entries = 0;
  try {
    for await (const { record, contentPath } of scanOverlay(dirs)) {
      await out.add(encodeChangeEntry(record));
      entries++;
      if (record.type === "file") await sendContent(out, contentPath!, record.size);
    }
    await out.close();
  } catch (error) {
    await out.abort(error).catch(() => {});
    throw error;
  }
  conn.forget(start.stream);
  await conn.send({ type: "changes.done", stream: start.stream, entries });
}

async function isDirectory(path: string): Promise<boolean> {
  return await Deno.stat(path).then((i) => i.isDirectory, () => false);
}
