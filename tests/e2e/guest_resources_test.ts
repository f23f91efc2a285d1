/**
 * A guest that tries to exhaust the host or itself, driven through the CLI with real VMs: the
 * guest writes a sparse file far larger than the changeset quota, fills the state file system's
 * free space, makes a directory tree deeper than the host's path limit, and fills its own memory
 * and root file system. The host must refuse cleanly, keep the disk for inspection, never go
 * below its reserve, apply what fits, and keep the session answering.
 */
import assert from "node:assert/strict";
import { statfsSync } from "node:fs";
import { agentbox, waitFor } from "../helpers.ts";
import { decoder, sandbox } from "./session_sandbox.ts";

/** A project and private XDG directories; `config` is the user's config.toml. */
async function world(config = "") {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "agentbox-resources-" }));
  const env = {
    XDG_RUNTIME_DIR: `${root}/run`,
    XDG_STATE_HOME: `${root}/state`,
    XDG_CACHE_HOME: `${root}/cache`,
    XDG_CONFIG_HOME: `${root}/config`,
  };
  await Deno.mkdir(`${root}/config/agentbox`, { recursive: true });
  await Deno.writeTextFile(`${root}/config/agentbox/config.toml`, config);
  const project = `${root}/p`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(`${project}/hello.txt`, "hello\n");
  return {
    root,
    env,
    project,
    /** Run `agentbox ARGS` in the project; resolves with its status and output. */
    async cli(args: string[]) {
      const out = await agentbox(args, { env, cwd: project }).output();
      return {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
    },
    /** The one session's workspace state directory. */
    sessionWorkspace(): string {
      const sessions = `${env.XDG_STATE_HOME}/agentbox/sessions`;
      const ids = [...Deno.readDirSync(sessions)].map((e) => e.name);
      assert.equal(ids.length, 1, ids.join(" "));
      return `${sessions}/${ids[0]}/workspace`;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("quota: a sparse file announced over workspace.max_changes is refused, the disk kept, nothing stored", async () => {
  await using w = await world('[workspace]\nmax_changes = "64 MiB"\n');
  // 1 GiB apparent, no data: today's host stored a gigabyte of zeros for it.
  const run = await w.cli([
    "exec",
    "--share",
    w.project,
    "--",
    "sh",
    "-c",
    "truncate -s 1G sparse.img && echo kept > small.txt",
  ]);
  assert.equal(run.code, 126, run.stderr);
  assert.match(run.stderr, /exceed the 64 MiB quota \(workspace\.max_changes\).*sparse\.img/);
  const workspace = w.sessionWorkspace();
  assert.match(run.stderr, new RegExp(`workspace disk is kept: ${workspace}/upper\\.ext4`));
  // The upper disk stays for inspection; no changeset, whole or partial, was kept.
  assert.deepEqual(names(workspace), ["baseline.json", "upper.ext4"]);
  assert.deepEqual(names(w.project), ["hello.txt"]);
});

Deno.test("sparse: a sparse file within the quota is stored and applied sparse", async () => {
  await using w = await world();
  const run = await w.cli([
    "exec",
    "--share",
    w.project,
    "--apply",
    "--",
    "sh",
    "-c",
    // 64 MiB apparent: a few bytes of data at the start and in the middle.
    "truncate -s 64M sparse.img && printf start | dd of=sparse.img conv=notrunc 2>/dev/null && " +
    "printf middle | dd of=sparse.img bs=1 seek=33554435 conv=notrunc 2>/dev/null",
  ]);
  assert.equal(run.code, 0, run.stderr);
  const blobs = `${w.sessionWorkspace()}/changes/blobs`;
  const [blob] = names(blobs);
  const stored = Deno.statSync(`${blobs}/${blob}`);
  const applied = Deno.statSync(`${w.project}/sparse.img`);
  for (const info of [stored, applied]) {
    assert.equal(info.size, 64 * 1024 * 1024);
    assert.ok(info.blocks! * 512 <= 1024 * 1024, `${info.blocks! * 512} bytes allocated`);
  }
  const bytes = await Deno.readFile(`${w.project}/sparse.img`);
  assert.equal(decoder.decode(bytes.subarray(0, 5)), "start");
  assert.equal(decoder.decode(bytes.subarray(33554435, 33554441)), "middle");
});

/** Mount a tmpfs of `mib` MiB at `dir` for the state directory (root only). */
async function smallStateFs(dir: string, mib: number): Promise<() => Promise<void>> {
  await Deno.mkdir(dir, { recursive: true });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${mib}m,mode=0700`, "tmpfs", dir],
  }).output();
  assert.ok(mount.success, decoder.decode(mount.stderr));
  return async () => {
    await new Deno.Command("umount", { args: ["-l", dir] }).output();
  };
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** The lowest free space seen on `dir`'s file system while `work` runs (polled every 10 ms). */
async function lowestFree<T>(dir: string, work: () => Promise<T>): Promise<[T, number]> {
  let lowest = freeBytes(dir);
  const timer = setInterval(() => lowest = Math.min(lowest, freeBytes(dir)), 10);
  try {
    return [await work(), lowest];
  } finally {
    clearInterval(timer);
    lowest = Math.min(lowest, freeBytes(dir));
  }
}

const MIB = 1024 * 1024;
const isRoot = Deno.uid() === 0;

Deno.test({
  name: "reserve: the state file system never goes below workspace.state_reserve",
  ignore: !isRoot,
  async fn() {
    await using w = await world('[workspace]\nstate_reserve = "64 MiB"\n');
    const state = w.env.XDG_STATE_HOME;
    const unmount = await smallStateFs(state, 320);
    try {
      // 1. The guest writes more than the state file system holds: its disk is sized so that
      //    it fills before the host's reserve is touched (today: the host file system filled
      //    up and the VM stopped on a write error).
      const [first, lowest] = await lowestFree(state, () =>
        w.cli([
          "exec",
          "--timeout",
          "240",
          "--share",
          w.project,
          "--",
          "sh",
          "-c",
          "head -c 400000000 /dev/urandom > big.bin; echo status $?; sync",
        ]));
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /status 1/); // ENOSPC in the guest
      assert.ok(lowest >= 64 * MIB, `free space went down to ${lowest / MIB} MiB`);

      // 2. Something else takes the state's space while the session runs: collecting would eat
      //    into the reserve, so it is refused; the disk is kept and nothing else is left.
      await Deno.remove(`${state}/agentbox/sessions`, { recursive: true });
      const child = agentbox([
        "exec",
        "--share",
        w.project,
        "--",
        "sh",
        "-c",
        "head -c 40000000 /dev/urandom > data.bin && sync && echo ready && sleep 15",
      ], { env: w.env, cwd: w.project });
      const reader = child.stdout.getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await reader.read();
        assert.ok(!done, "the command ended before it was ready");
        seen += decoder.decode(value);
      }
      // Leave 10 MiB above the reserve: the 40 MB of changes do not fit.
      const filler = `${state}/filler`;
      await Deno.writeFile(filler, new Uint8Array(freeBytes(state) - 74 * MIB).fill(1));
      const before = freeBytes(state);
      const [status, lowestDuring] = await lowestFree(state, async () => {
        const [status, stderr] = await Promise.all([
          child.status,
          new Response(child.stderr).text(),
          reader.cancel(),
        ]);
        return [status.code, stderr] as const;
      });
      assert.equal(status[0], 126, status[1]);
      assert.match(
        status[1],
        /less free space than the 64 MiB reserve \(workspace\.state_reserve\)/,
      );
      assert.ok(lowestDuring >= 64 * MIB, `free space went down to ${lowestDuring / MIB} MiB`);
      const workspace = w.sessionWorkspace();
      assert.deepEqual(names(workspace), ["baseline.json", "upper.ext4"]);
      // The host file system is as it was before the collection.
      assert.ok(Math.abs(freeBytes(state) - before) < 2 * MIB, `${before} -> ${freeBytes(state)}`);
      await Deno.remove(filler);
    } finally {
      await unmount();
    }
  },
});

Deno.test("long paths: a tree deeper than the host's limits applies what fits and refuses the rest one by one", async () => {
  await using w = await world();
  const rootBytes = new TextEncoder().encode(w.project).length;
  const pad = "n".repeat(196);
  // Directories of 200-byte names, one file in each, as deep as the guest's shell goes (its
  // `cd` stops at its own path limit, past the 4096 bytes the host takes).
  const script = `echo fine > ok.txt
i=0
while [ $i -lt 24 ]; do
  n=$(printf '%03d' $i)-${pad}
  mkdir "$n" && cd "$n" && echo "depth $i" > f.txt || break
  i=$((i + 1))
done
echo "deepest $i"`;
  const run = await w.cli(["exec", "--share", w.project, "--apply", "--", "sh", "-c", script]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(await Deno.readTextFile(`${w.project}/ok.txt`), "fine\n");
  let path = "";
  let applied = 0;
  let refused = 0;
  for (let depth = 0; depth < 24; depth++) {
    path += `${path ? "/" : ""}${String(depth).padStart(3, "0")}-${pad}`;
    // What an apply needs: the whole host path, and room for a temporary name next to it.
    const fits = rootBytes + 1 + path.length + 1 + 64 <= 4095;
    const file = `${w.project}/${path}/f.txt`;
    if (fits) {
      assert.equal(await Deno.readTextFile(file), `depth ${depth}\n`, `depth ${depth}`);
      applied++;
    } else {
      refused++;
    }
  }
  assert.ok(applied >= 15 && refused >= 3, `${applied} applied, ${refused} refused`);
  // The guest made a directory past 4096 bytes (depth 20: 4220 bytes; its shell could not
  // enter it).
  assert.ok(Number(/deepest (\d+)/.exec(run.stdout)?.[1]) >= 20, run.stdout);
  // Each refusal is reported with its reason: the first file too long for the host's path, the
  // first directory over 4096 bytes (the guest does not look below it).
  const reasons = run.stderr.split("\n").filter((l) => l.startsWith("agentbox: refused "));
  assert.ok(reasons.length >= 2, run.stderr.slice(-3000));
  assert.ok(
    reasons.every((l) => /too long for the host|over the 4096-byte limit/.test(l)),
    reasons.join("\n"),
  );
});

Deno.test("exhaustion: a guest that fills its memory and root file system leaves the session answering, three times over", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "hog"]);
  assert.equal(started.code, 0, started.stderr);
  // Fill every tmpfs (/, /tmp, /dev/shm), then hold them full while awk doubles a string until
  // the kernel kills it.
  const fill = "cat /dev/zero > /fill-root 2>/dev/null; cat /dev/zero > /tmp/fill 2>/dev/null; " +
    "cat /dev/zero > /dev/shm/fill 2>/dev/null; " +
    'awk \'BEGIN { s = "x"; while (1) s = s s }\'; echo "hog ended $?"';
  for (let round = 1; round <= 3; round++) {
    const startedAt = Date.now();
    const hog = await s.cli(["exec", "--session", "hog", "--", "sh", "-c", fill]);
    const seconds = (Date.now() - startedAt) / 1000;
    // The command ends (the OOM killer took awk, exit 137), not the agent: no lost channel.
    assert.equal(hog.code, 0, `round ${round}: ${hog.stderr}`);
    assert.match(hog.stdout, /hog ended 137/, `round ${round}`);
    assert.ok(seconds < 240, `round ${round} took ${seconds} s`);
    const alive = await s.cli([
      "exec",
      "--session",
      "hog",
      "--",
      "sh",
      "-c",
      "rm -f /fill-root /tmp/fill /dev/shm/fill; echo alive",
    ]);
    assert.deepEqual([alive.code, alive.stdout], [0, "alive\n"], `round ${round}: ${alive.stderr}`);
    assert.deepEqual((await s.ps()).map((e) => e.state), ["running"], `round ${round}`);
  }
  const stop = await s.cli(["stop", "hog"]);
  assert.equal(stop.code, 0, stop.stderr);
  assert.deepEqual((await s.ps()).map((e) => e.state), ["stopped"]);
  assert.ok(await waitFor(() => s.qemus().length === 0, 5000), "QEMU outlived stop");
});
