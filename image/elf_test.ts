import assert from "node:assert/strict";
import { readElfLinking, readElfSection } from "./elf.ts";
import { ImageError } from "./errors.ts";

Deno.test("readElfLinking reads the loader and libraries of the running deno", async () => {
  const linking = readElfLinking(await Deno.readFile(Deno.execPath()));
  assert.match(linking.interpreter ?? "", /ld-linux-x86-64\.so\.2$/);
  assert.ok(linking.needed.includes("libc.so.6"), linking.needed.join(" "));
});

Deno.test("readElfSection finds named sections and misses others", async () => {
  const bytes = await Deno.readFile(Deno.execPath());
  assert.ok(readElfSection(bytes, ".dynstr")?.length);
  assert.equal(readElfSection(bytes, ".modinfo"), undefined);
});

Deno.test("non-ELF input is an ImageError", () => {
  assert.throws(
    () => readElfLinking(new TextEncoder().encode("#!/bin/sh\n".padEnd(64))),
    ImageError,
  );
});
