/**
 * A writer for "newc" cpio archives, the format the kernel unpacks as an initramfs. Written here
 * rather than driving `cpio` so that device nodes and owners need no root and the archive is
 * byte-for-byte reproducible (every mtime is 0).
 *
 * @module
 */

/** One archive member. Directories must precede their contents. */
export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; data: Uint8Array; mode?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

/**
 * Encode `entries` (paths relative, no leading `/`) as a newc archive, owned by root.
 *
 * @example
 * ```ts
 * import { writeCpio } from "./cpio.ts";
 * const archive = writeCpio([
 *   { path: "dev", type: "dir" },
 *   { path: "dev/console", type: "char", major: 5, minor: 1 },
 *   { path: "init", type: "file", data: new TextEncoder().encode("#!/bin/sh\n"), mode: 0o755 },
 * ]);
 * ```
 */
export function writeCpio(entries: CpioEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let ino = 1;
  const member = (path: string, mode: number, data: Uint8Array, rdev = [0, 0]) => {
    const name = encoder.encode(`${path}\0`);
    const fields = [ino++, mode, 0, 0, mode & S_IFDIR ? 2 : 1, 0, data.length, 0, 0, ...rdev];
    const header = encoder.encode(`070701${fields.map(hex8).join("")}${hex8(name.length)}00000000`);
    parts.push(header, name, new Uint8Array(pad4(header.length + name.length)));
    parts.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const entry of entries) {
    switch (entry.type) {
      case "dir":
        member(entry.path, S_IFDIR | (entry.mode ?? 0o755), new Uint8Array());
        break;
      case "file":
        member(entry.path, S_IFREG | (entry.mode ?? 0o644), entry.data);
        break;
      case "symlink":
        member(entry.path, S_IFLNK | 0o777, encoder.encode(entry.target));
        break;
      case "char":
        member(entry.path, S_IFCHR | (entry.mode ?? 0o600), new Uint8Array(), [
          entry.major,
          entry.minor,
        ]);
        break;
    }
  }
  member("TRAILER!!!", 0, new Uint8Array());
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}
