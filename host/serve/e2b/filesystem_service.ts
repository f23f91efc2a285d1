/**
 * envd's `filesystem.Filesystem` service over the core's guest filesystem operations
 * (host/api/guest_fs.ts): `Stat`, `ListDir`, `MakeDir`, `Move`, `Remove`. Watching (`WatchDir`
 * and the watcher calls) is not served: Connect answers Unimplemented, which the SDK raises as
 * its `SandboxError`.
 *
 * @module
 */

import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type GuestEntry,
  listGuestDir,
  makeGuestDir,
  moveGuestPath,
  removeGuestPath,
  statGuestPath,
} from "../../api/guest_fs.ts";
import { connectError } from "./http_errors.ts";
import { userOf } from "./process_service.ts";
import { sandboxOf } from "./sandbox_context.ts";

/** envd's `FileType`. */
const FILE_TYPE: Record<GuestEntry["type"], number> = { file: 1, dir: 2, symlink: 3, other: 0 };

/** The deepest listing a client may ask for. */
const MAX_DEPTH = 32;

/** The filesystem service's methods, keyed as Connect's `ServiceImpl` names them. */
export function filesystemService() {
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
        entry: entryInfo(await statGuestPath(sandboxOf(hc).id, request.path, as(hc))),
      })),

    listDir: (request: { path: string; depth: number }, hc: HandlerContext) => {
      const depth = request.depth || 1;
      if (depth < 1 || depth > MAX_DEPTH) {
        throw new ConnectError(`depth must be 1 to ${MAX_DEPTH}`, Code.InvalidArgument);
      }
      return call(async () => ({
        entries: (await listGuestDir(sandboxOf(hc).id, request.path, { ...as(hc), depth }))
          .map(entryInfo),
      }));
    },

    makeDir: (request: { path: string }, hc: HandlerContext) =>
      call(async () => {
        const id = sandboxOf(hc).id;
        if (!await makeGuestDir(id, request.path, as(hc))) {
          throw new ConnectError(`${request.path} already exists`, Code.AlreadyExists);
        }
        return { entry: entryInfo(await statGuestPath(id, request.path, as(hc))) };
      }),

    move: (request: { source: string; destination: string }, hc: HandlerContext) =>
      call(async () => {
        const id = sandboxOf(hc).id;
        await moveGuestPath(id, request.source, request.destination, as(hc));
        return { entry: entryInfo(await statGuestPath(id, request.destination, as(hc))) };
      }),

    remove: (request: { path: string }, hc: HandlerContext) =>
      call(async () => {
        await removeGuestPath(sandboxOf(hc).id, request.path, as(hc));
        return {};
      }),
  };
}

/** The user a request runs its command as. */
function as(hc: HandlerContext): { user?: string } {
  return { user: userOf(hc) };
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
