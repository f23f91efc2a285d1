import assert from "node:assert/strict";
import { runtimeDir, RuntimeDirError } from "./paths.ts";
import { cachedProbeAccel } from "./vm/qemu/accel_cache.ts";

/** The attacker: another local user. */
const OTHER_UID = 65534;

/** Run `body` with the XDG variables set as given (unset when `undefined`), then restore. */
async function withEnv(vars: Record<string, string | undefined>, body: () => Promise<void> | void) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  };
  set(vars);
  try {
    await body();
  } finally {
    set(saved);
  }
}

/** Run a shell script as the other user (setpriv, no groups): what a second local user can do. */
async function asOtherUser(script: string): Promise<void> {
  const out = await new Deno.Command("setpriv", {
    args: [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, "--clear-groups", "sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A runtime directory of the other user's, made as logind makes /run/user/<uid>. */
async function otherUsersRuntimeDir(parent: string): Promise<string> {
  const dir = `${parent}/run-user`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await Deno.chown(dir, OTHER_UID, OTHER_UID);
  return dir;
}

const requiresRoot = { ignore: Deno.uid() !== 0 }; // setpriv to another uid needs root

Deno.test(
  "runtime dir: another user's XDG_RUNTIME_DIR (su, sudo -E) is passed over",
  requiresRoot,
  async () => {
    const scratch = await Deno.makeTempDir();
    await Deno.chmod(scratch, 0o755);
    const state = await Deno.makeTempDir();
    try {
      // Another user's runtime dir, as `su` leaves it in the environment, with files planted.
      const theirs = await otherUsersRuntimeDir(scratch);
      await asOtherUser(
        `mkdir -m 777 ${theirs}/agentbox && echo planted > ${theirs}/agentbox/accel.json`,
      );
      await withEnv({ XDG_RUNTIME_DIR: theirs, XDG_STATE_HOME: state }, () => {
        const dir = runtimeDir();
        assert.ok(!dir.startsWith(theirs), dir);
        const info = Deno.lstatSync(dir);
        assert.equal(info.uid, Deno.uid());
        assert.equal(info.mode! & 0o777, 0o700);
      });
    } finally {
      await Deno.remove(scratch, { recursive: true });
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test("runtime dir: without XDG_RUNTIME_DIR, never a predictable name in /tmp", async () => {
  const state = await Deno.makeTempDir();
  try {
    await withEnv({ XDG_RUNTIME_DIR: undefined, XDG_STATE_HOME: state }, () => {
      const dir = runtimeDir();
      assert.ok(!dir.startsWith("/tmp/agentbox-"), dir);
      const uid = Deno.uid();
      const runUser = `/run/user/${uid}/agentbox`;
      assert.ok(dir === runUser || dir === `${state}/agentbox/run`, dir);
      assert.equal(Deno.lstatSync(dir).mode! & 0o777, 0o700);
    });
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test(
  "runtime dir: a directory made by another user or open to others is refused",
  requiresRoot,
  async () => {
    const state = await Deno.makeTempDir();
    await Deno.chmod(state, 0o755);
    const run = `${state}/agentbox/run`;
    try {
      await withEnv({ XDG_RUNTIME_DIR: undefined, XDG_STATE_HOME: state }, async () => {
        // Where /run/user/<uid> exists the state directory is not the fallback: nothing to test.
        if (exists(`/run/user/${Deno.uid()}`)) return;
        await Deno.mkdir(`${state}/agentbox`, { mode: 0o755 });
        // Squatted: the other user's directory, planted with a plan.
        await Deno.mkdir(run, { mode: 0o700 });
        await Deno.chown(run, OTHER_UID, OTHER_UID);
        await asOtherUser(`mkdir -p ${run}/sessions/x && echo '{}' > ${run}/sessions/x/plan.json`);
        assert.throws(
          () => runtimeDir(),
          (e: Error) =>
            e instanceof RuntimeDirError && /belongs to uid 65534/.test(e.message) &&
            e.message.includes(run),
        );
        await Deno.remove(run, { recursive: true });
        // A link to somewhere else.
        await Deno.symlink(state, run);
        assert.throws(() => runtimeDir(), /is a symbolic link/);
        await Deno.remove(run);
        // Ours, but others could have written in it.
        await Deno.mkdir(run);
        await Deno.chmod(run, 0o777);
        assert.throws(() => runtimeDir(), /mode is 0777/);
        await Deno.remove(run);
        // A parent another user owns could have its child swapped.
        await Deno.chown(`${state}/agentbox`, OTHER_UID, OTHER_UID);
        assert.throws(() => runtimeDir(), /agentbox belongs to uid 65534/);
        await Deno.chown(`${state}/agentbox`, Deno.uid(), Deno.gid());
        // Positive control: the same path made by agentbox is used.
        assert.equal(runtimeDir(), run);
      });
    } finally {
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test(
  "runtime dir: a KVM-probe cache planted by another user is never read",
  requiresRoot,
  async () => {
    const scratch = await Deno.makeTempDir();
    await Deno.chmod(scratch, 0o755);
    const state = await Deno.makeTempDir();
    const ours = await Deno.makeTempDir();
    try {
      // A valid cache entry (the key is public: boot id, /dev/kvm and QEMU's inode and times).
      const valid = `${ours}/accel.json`;
      await cachedProbeAccel("qemu-system-x86_64", {
        cacheFile: valid,
        probe: () => Promise.resolve({ kind: "kvm" }),
      });
      const theirs = await otherUsersRuntimeDir(scratch);
      await asOtherUser(`mkdir -m 700 ${theirs}/agentbox`);
      await Deno.copyFile(valid, `${theirs}/agentbox/accel.json`);
      await Deno.chown(`${theirs}/agentbox/accel.json`, OTHER_UID, OTHER_UID);
      await withEnv({ XDG_RUNTIME_DIR: theirs, XDG_STATE_HOME: state }, async () => {
        let probed = 0;
        const accel = await cachedProbeAccel("qemu-system-x86_64", {
          probe: () => {
            probed++;
            return Promise.resolve({ kind: "tcg", reason: "probed" });
          },
        });
        assert.deepEqual(accel, { kind: "tcg", reason: "probed" });
        assert.equal(probed, 1);
      });
    } finally {
      for (const dir of [scratch, state, ours]) await Deno.remove(dir, { recursive: true });
    }
  },
);
