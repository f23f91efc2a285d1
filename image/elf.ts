/**
 * Just enough of ELF64 (little-endian, x86_64) to read what the image build needs: a binary's
 * dynamic loader and `DT_NEEDED` libraries, and a named section (a kernel module's `.modinfo`).
 *
 * @module
 */

import { ImageError } from "./errors.ts";

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

/** What the dynamic loader needs to run a binary. */
export interface ElfLinking {
  /** `PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`; absent for static binaries. */
  interpreter?: string;
  /** `DT_NEEDED` sonames in file order. */
  needed: string[];
}

interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

function header(bytes: Uint8Array): DataView {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = bytes.length >= 64 && bytes[0] === 0x7f && bytes[1] === 0x45 &&
    bytes[2] === 0x4c && bytes[3] === 0x46;
  if (!magic) throw new ImageError("Not an ELF file");
  if (bytes[4] !== 2 || bytes[5] !== 1) {
    throw new ImageError("Not a little-endian 64-bit ELF file");
  }
  return view;
}

function segments(view: DataView): Segment[] {
  const phoff = Number(view.getBigUint64(0x20, true));
  const size = view.getUint16(0x36, true);
  const count = view.getUint16(0x38, true);
  const result: Segment[] = [];
  for (let i = 0; i < count; i++) {
    const at = phoff + i * size;
    result.push({
      type: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 8, true)),
      vaddr: Number(view.getBigUint64(at + 16, true)),
      filesz: Number(view.getBigUint64(at + 32, true)),
    });
  }
  return result;
}

function cString(bytes: Uint8Array, offset: number): string {
  let end = offset;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(offset, end));
}

/**
 * Read the loader and needed libraries of an ELF executable or shared library.
 *
 * @example
 * ```ts
 * import { readElfLinking } from "./elf.ts";
 * const { interpreter, needed } = readElfLinking(await Deno.readFile("/usr/bin/curl"));
 * console.log(interpreter, needed); // "/lib64/ld-linux-x86-64.so.2", ["libcurl.so.4", …]
 * ```
 */
export function readElfLinking(bytes: Uint8Array): ElfLinking {
  const view = header(bytes);
  const all = segments(view);
  const interp = all.find((s) => s.type === PT_INTERP);
  const dynamic = all.find((s) => s.type === PT_DYNAMIC);
  const result: ElfLinking = { needed: [] };
  if (interp) result.interpreter = cString(bytes, interp.offset);
  if (!dynamic) return result;

  const neededOffsets: number[] = [];
  let strtab: number | undefined;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
    const tag = view.getBigInt64(at, true);
    const value = Number(view.getBigUint64(at + 8, true));
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) neededOffsets.push(value);
    if (tag === DT_STRTAB) strtab = value;
  }
  if (neededOffsets.length === 0) return result;
  if (strtab === undefined) throw new ImageError("ELF file has DT_NEEDED but no DT_STRTAB");
  // DT_STRTAB is a virtual address: map it to a file offset through the load segments.
  const load = all.find((s) =>
    s.type === PT_LOAD && strtab! >= s.vaddr && strtab! < s.vaddr + s.filesz
  );
  if (!load) throw new ImageError("ELF DT_STRTAB is outside every load segment");
  const base = strtab - load.vaddr + load.offset;
  result.needed = neededOffsets.map((offset) => cString(bytes, base + offset));
  return result;
}

/**
 * The bytes of the section called `name`, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { readElfSection } from "./elf.ts";
 * const modinfo = readElfSection(await Deno.readFile("virtio_mmio.ko"), ".modinfo");
 * ```
 */
export function readElfSection(bytes: Uint8Array, name: string): Uint8Array | undefined {
  const view = header(bytes);
  const shoff = Number(view.getBigUint64(0x28, true));
  const size = view.getUint16(0x3a, true);
  const count = view.getUint16(0x3c, true);
  const names = view.getUint16(0x3e, true);
  const section = (i: number) => {
    const at = shoff + i * size;
    return {
      name: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
    };
  };
  if (count === 0 || names >= count) return undefined;
  const strings = section(names);
  for (let i = 0; i < count; i++) {
    const s = section(i);
    if (cString(bytes, strings.offset + s.name) === name) {
      return bytes.subarray(s.offset, s.offset + s.size);
    }
  }
  return undefined;
}
