import assert from "node:assert/strict";
import { fileSink } from "./file_sink.ts";
import { sealEvent } from "./seal_event.ts";
import { AuditEventSchema } from "./audit_event.ts";

const event = (n: number) =>
  sealEvent({
    type: "exec.started",
    session: { id: `s${n}` },
    exec: { id: `e${n}`, argv: ["true"] },
  }, "a");

async function sizes(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const entry of Deno.readDir(dir)) {
    out.set(entry.name, (await Deno.stat(`${dir}/${entry.name}`)).size);
  }
  return out;
}

Deno.test("the JSON-lines file rotates by size and keeps at most max_files files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/audit.jsonl`;
    const lineBytes = JSON.stringify(event(0)).length + 1;
    const sink = fileSink({ path, maxBytes: lineBytes * 10, maxFiles: 3 });
    for (let i = 0; i < 100; i += 5) {
      await sink.deliver([0, 1, 2, 3, 4].map((k) => event(i + k)));
    }
    await sink.close();
    const files = await sizes(dir);
    assert.deepEqual([...files.keys()].sort(), ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]);
    for (const [name, size] of files) assert.ok(size <= lineBytes * 10, `${name}: ${size}`);
    // The newest events are in the live file, the ones before in .1, then .2, each line whole.
    const read = async (name: string) =>
      (await Deno.readTextFile(`${dir}/${name}`)).trimEnd().split("\n").map((l) =>
        AuditEventSchema.parse(JSON.parse(l)).session.id
      );
    const all = [
      ...await read("audit.jsonl.2"),
      ...await read("audit.jsonl.1"),
      ...await read("audit.jsonl"),
    ];
    // A contiguous run of the newest events, ending with the last one (lines differ in length,
    // so each file holds nine or ten).
    const first = 100 - all.length;
    assert.ok(all.length >= 27 && all.length <= 30, `${all.length} events kept`);
    assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => `s${first + i}`));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("max_files = 1 starts the file afresh instead of keeping an old one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/audit.jsonl`;
    const lineBytes = JSON.stringify(event(0)).length + 1;
    const sink = fileSink({ path, maxBytes: lineBytes * 2, maxFiles: 1 });
    for (let i = 0; i < 7; i++) await sink.deliver([event(i)]);
    await sink.close();
    assert.deepEqual([...(await sizes(dir)).keys()], ["audit.jsonl"]);
    assert.equal((await Deno.readTextFile(path)).trimEnd().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an existing file is appended to, its size counted toward rotation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/audit.jsonl`;
    await Deno.writeTextFile(path, JSON.stringify(event(0)) + "\n");
    const lineBytes = JSON.stringify(event(0)).length + 1;
    const sink = fileSink({ path, maxBytes: lineBytes * 2, maxFiles: 2 });
    await sink.deliver([event(1), event(2)]);
    await sink.close();
    assert.equal((await Deno.readTextFile(`${path}.1`)).trimEnd().split("\n").length, 2);
    assert.equal((await Deno.readTextFile(path)).trimEnd().split("\n").length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
