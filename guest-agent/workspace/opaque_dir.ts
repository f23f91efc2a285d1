/**
 * Whether an overlay upper directory is opaque (it hides everything its lower twin holds), read
 * from the `trusted.overlay.opaque` extended attribute through libc's `lgetxattr`: Deno has no
 * xattr API. Where the attribute cannot be read at all (no libc, no FFI permission), the answer
 * is `undefined` and the caller falls back to comparing listings.
 *
 * @module
 */

const ATTRIBUTE = new TextEncoder().encode("trusted.overlay.opaque\0");

type Libc = { symbols: { lgetxattr(...args: unknown[]): number | bigint } };
let libc: Libc | null | undefined;

function open(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
    }) as unknown as Libc;
  } catch {
    libc = null;
  }
  return libc;
}

/**
 * `true`/`false` for an upper directory at `path`, `undefined` when xattrs cannot be read here.
 *
 * @example
 * ```ts
 * import { isOpaqueDir } from "./opaque_dir.ts";
 * console.log(isOpaqueDir("/tmp")); // false (or undefined without FFI)
 * ```
 */
export function isOpaqueDir(path: string): boolean | undefined {
  const lib = open();
  if (!lib) return undefined;
  const value = new Uint8Array(4);
  const length = Number(
    lib.symbols.lgetxattr(new TextEncoder().encode(`${path}\0`), ATTRIBUTE, value, 4n),
  );
  // Absent (ENODATA) or unreadable: not opaque. Overlayfs writes the single byte "y".
  return length === 1 && value[0] === 0x79;
}
