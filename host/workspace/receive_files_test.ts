/**
 * Copying files through the real agent (in-process, on a unix socket; the "guest" is a scratch
 * directory of this host): a host tree into the guest and back out, byte-exact, links as links;
 * odd names; and hostile files streams — a link then a path through it, a path outside the copy,
 * a cut stream, a wrong entry count — which keep nothing they should not.
 */

import assert from "node:assert/strict";
import { encodeChangeEntry } from "@agentbox/protocol";
import { startAgent } from "../channel/testing/in_process_agent.ts";
import { AgentError } from "../channel/agent_client.ts";
import { receiveFiles } from "./receive_files.ts";
import { sendFiles } from "./send_files.ts";

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    for (const name of names.sort()) {
      const path = `${dir}/${name}`;
      const key = rel ? `${rel}/${name}` : name;
      const info = await Deno.lstat(path);
      if (info.isSymlink) out[key] = `-> ${await Deno.readLink(path)}`;
      else if (info.isDirectory) {
        out[key] = `dir ${(info.mode! & 0o777).toString(8)}`;
        await walk(path, key);
      } else out[key] = `${(info.mode! & 0o777).toString(8)} ${await Deno.readTextFile(path)}`;
    }
  };
  await walk(root, "");
  return out;
}

Deno.test("files: a tree into the guest and back, links as links, odd names", async () => {
  await using agent = await startAgent();
  const host = await Deno.makeTempDir();
  const guest = await Deno.makeTempDir();
  const back = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${host}/proj/sub`, { recursive: true });
    await Deno.writeTextFile(`${host}/proj/a.txt`, "alpha");
    await Deno.writeTextFile(`${host}/proj/sub/run.sh`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${host}/proj/-dash`, "dash");
    await Deno.writeTextFile(`${host}/proj/ünï cödé ✓`, "unicode");
    await Deno.writeTextFile(`${host}/proj/new\nline`, "newline");
    await Deno.writeTextFile(`${host}/proj/empty`, "");
    await Deno.symlink("/etc/passwd", `${host}/proj/link`);

    // In: into an existing directory, under the source's name.
    const { data, sent } = sendFiles(`${host}/proj`);
    const written = await agent.client.writeFiles(guest, data);
    assert.equal(written, 9);
    assert.equal(sent.entries, 9);
    const inGuest = await tree(guest);
    assert.equal(inGuest["proj/new\nline"], "644 newline");
    assert.equal(inGuest["proj/link"], "-> /etc/passwd");
    assert.equal(inGuest["proj/sub/run.sh"], "755 #!/bin/sh\n");
    assert.equal(inGuest["proj/-dash"], "644 dash");
    assert.equal(inGuest["proj/ünï cödé ✓"], "644 unicode");

    // Out: to a new name; the newline name is skipped as apply would, the rest arrives.
    const out = agent.client.readFiles(`${guest}/proj`);
    const report = await receiveFiles(out.data, { dir: back, name: "copy" }, {
      announced: out.entries,
      umask: 0o022,
    });
    assert.equal(report.path, `${back}/copy`);
    assert.deepEqual(report.skipped.map((s) => s.path), ["copy/new\\x0aline"]);
    assert.match(report.skipped[0].reason, /control character/);
    const onHost = await tree(back);
    assert.deepEqual(onHost, {
      "copy": "dir 755",
      "copy/-dash": "644 dash",
      "copy/a.txt": "644 alpha",
      "copy/empty": "644 ",
      "copy/link": "-> /etc/passwd",
      "copy/sub": "dir 755",
      "copy/sub/run.sh": "755 #!/bin/sh\n",
      "copy/ünï cödé ✓": "644 unicode",
    });
    // A single file onto an existing file replaces it (by rename, not through a link).
    await Deno.writeTextFile(`${back}/target`, "old");
    const one = agent.client.readFiles(`${guest}/proj/a.txt`);
    const single = await receiveFiles(one.data, { dir: back, name: "target" }, {
      announced: one.entries,
    });
    assert.equal(single.files, 1);
    assert.equal(await Deno.readTextFile(`${back}/target`), "alpha");
    // Onto an existing directory: refused, nothing left behind.
    const again = agent.client.readFiles(`${guest}/proj`);
    await assert.rejects(
      receiveFiles(again.data, { dir: back, name: "copy" }, { announced: again.entries }),
      /is a directory on the host/,
    );
    await again.entries.catch(() => {});
    assert.deepEqual([...Deno.readDirSync(back)].map((e) => e.name).sort(), ["copy", "target"]);

    // A guest path that does not exist is the agent's refusal.
    const missing = agent.client.readFiles(`${guest}/nope`);
    await assert.rejects(
      missing.entries,
      (e) => e instanceof AgentError && e.code === "files_failed",
    );
  } finally {
    for (const dir of [host, guest, back]) await Deno.remove(dir, { recursive: true });
  }
});

function stream(...pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces);
}

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("files: a hostile stream never writes through a link it sent", async () => {
  const back = await Deno.makeTempDir();
  const victim = await Deno.makeTempDir();
  try {
    const report = await receiveFiles(
      stream(
        encodeChangeEntry({ path: "x", type: "dir", mode: 0o755 }),
        encodeChangeEntry({ path: "x/link", type: "symlink", target: victim }),
        encodeChangeEntry({ path: "x/link/pwned", type: "file", mode: 0o644, size: 5 }),
        bytes("owned"),
        encodeChangeEntry({ path: "x/ok", type: "file", mode: 0o4755, size: 2 }),
        bytes("ok"),
      ),
      { dir: back },
      { announced: Promise.resolve(4), umask: 0o022 },
    );
    assert.deepEqual([...Deno.readDirSync(victim)], []);
    assert.equal(report.skippedCount, 1);
    assert.match(report.skipped[0].reason, /symlink on the host/);
    // Setuid never crosses; the execute bit does.
    assert.equal((await Deno.lstat(`${back}/x/ok`)).mode! & 0o7777, 0o755);
  } finally {
    await Deno.remove(back, { recursive: true });
    await Deno.remove(victim, { recursive: true });
  }
});

Deno.test("files: a bad stream keeps nothing", async () => {
  const back = await Deno.makeTempDir();
  try {
    const cases: [string, ReadableStream<Uint8Array>, number][] = [
      [
        "outside",
        stream(
          encodeChangeEntry({ path: "x", type: "dir", mode: 0o755 }),
          encodeChangeEntry({ path: "y/z", type: "file", mode: 0o644, size: 0 }),
        ),
        2,
      ],
      [
        "cut",
        stream(
          encodeChangeEntry({ path: "x", type: "file", mode: 0o644, size: 10 }),
          bytes("short"),
        ),
        1,
      ],
      ["count", stream(encodeChangeEntry({ path: "x", type: "dir", mode: 0o755 })), 7],
      ["absolute", stream(encodeChangeEntry({ path: "/etc", type: "dir", mode: 0o755 })), 1],
      ["traversal", stream(encodeChangeEntry({ path: "..", type: "dir", mode: 0o755 })), 1],
    ];
    for (const [what, data, announced] of cases) {
      await assert.rejects(
        receiveFiles(data, { dir: back }, { announced: Promise.resolve(announced) }),
        (e: Error) => e.name === "ChangesetError",
        what,
      );
      assert.deepEqual([...Deno.readDirSync(back)], [], what);
    }
    await assert.rejects(
      receiveFiles(
        stream(encodeChangeEntry({ path: "big", type: "file", mode: 0o644, size: 1 << 20 })),
        { dir: back },
        { maxBytes: 1000 },
      ),
      /over 1000 bytes/,
    );
    assert.deepEqual([...Deno.readDirSync(back)], []);
  } finally {
    await Deno.remove(back, { recursive: true });
  }
});
