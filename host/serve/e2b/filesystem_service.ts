/**
 * envd's `filesystem.Filesystem` service over the core's guest filesystem operations
 * (host/api/guest_fs.ts): `Stat`, `ListDir`, `MakeDir`, `Move`, `Remove`. Watching (`WatchDir`
 * and the watcher calls) is not served: Connect answers Unimplemented, which the SDK raises as
 * its `SandboxError`.
 *
 * @module
 */

import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { ApiContext } from "../../api/context.ts";
import {
  type GuestEntry,
  listGuestDir,
  makeGuestDir,
  moveGuestPath,
  removeGuestPath,
  statGuestPath,
} from "../../api/guest_fs.ts";
import { connectError } from "./http_errors.ts";
import { sandboxOf } from "./sandbox_context.ts";

/** envd's `FileType`. */
const FILE_TYPE: Record<GuestEntry["type"], number> = { file: 1, dir: 2, symlink: 3, other: 0 };

/** The deepest listing a client may ask for. */
const MAX_DEPTH = 32;

/** The filesystem service's methods, keyed as Connect's `ServiceImpl` names them. */
export function filesystemService(ctx: ApiContext) {
  const call = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (error) {
      throw connectError(error);
    }
  };
  return {
    stat: (request: { path: string }, hc: HandlerContext) =>
      call(async () => ({
        entry: entryInfo(await statGuestPath(ctx, sandboxOf(hc).id, request.path)),
      })),

    listDir: (request: { path: string; depth: number }, hc: HandlerContext) => {
      const depth = request.depth || 1;
      if (depth < 1 || depth > MAX_DEPTH) {
        throw new ConnectError(`depth must be 1 to ${MAX_DEPTH}`, Code.InvalidArgument);
      }
      return call(async () => ({
        entries: (await listGuestDir(ctx, sandboxOf(hc).id, request.path, { depth })).map(
          entryInfo,
        ),
      }));
    },

    makeDir: (request: { path: string }, hc: HandlerContext) =>
      call(async () => {
        const id = sandboxOf(hc).id;
        const existing = await statGuestPath(ctx, id, request.path).catch(() => undefined);
        if (existing) {
          throw new ConnectError(`${request.path} already exists`, Code.AlreadyExists);
        }
        await makeGuestDir(ctx, id, request.path);
        return { entry: entryInfo(await statGuestPath(ctx, id, request.path)) };
      }),

    move: (request: { source: string; destination: string }, hc: HandlerContext) =>
      call(async () => {
        const id = sandboxOf(hc).id;
        await moveGuestPath(ctx, id, request.source, request.destination);
        return { entry: entryInfo(await statGuestPath(ctx, id, request.destination)) };
      }),

    remove: (request: { path: string }, hc: HandlerContext) =>
      call(async () => {
        await removeGuestPath(ctx, sandboxOf(hc).id, request.path);
        return {};
      }),
  };
}

/** A guest entry as envd's `EntryInfo`. */
function entryInfo(entry: GuestEntry) {
  const mode = entry.mode & 0o7777;
  return {
    name: entry.name,
    type: FILE_TYPE[entry.type],
    path: entry.path,
    size: BigInt(entry.size),
    mode,
    permissions: permissions(entry.type, mode),
    owner: "",
    group: "",
    modifiedTime: {
      seconds: BigInt(Math.floor(entry.mtimeMs / 1000)),
      nanos: Math.floor((entry.mtimeMs % 1000) * 1e6),
    },
    symlinkTarget: entry.target,
  };
}

/** Go's `FileMode.String()` of a type and permission bits, as envd reports it. */
export function permissions(type: GuestEntry["type"], mode: number): string {
  const letter = type === "dir" ? "d" : type === "symlink" ? "L" : "-";
  const rwx = "rwxrwxrwx";
  let text = "";
  for (let i = 0; i < 9; i++) text += mode & (1 << (8 - i)) ? rwx[i] : "-";
  return letter + text;
}
