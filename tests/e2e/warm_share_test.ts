/**
 * A warm VM takes a share (issue 21, goal 1; docs/serve.md, "Warm pool"): taking it points its
 * placeholder disks at the session's workspace disks (host/vm/qemu/disk_swap.ts) and mounts them.
 * Real VMs check that the guest sees exactly the project's files, that its writes are the
 * session's changes, that a second take gets disks of its own (nothing of the first), and that a
 * lower disk with delta layers mounts the same way; a one-shot served to a local client
 * (`POST /v1/oneshot`'s `startServedExec`) with a share gets it mounted on its warm VM.
 */
import assert from "node:assert/strict";
import { openContext } from "../../host/api/context.ts";
import type { SandboxEvent } from "../../host/api/events.ts";
import { runSandbox, type Sandbox } from "../../host/api/sandbox.ts";
import { parseSandboxSpec } from "../../host/api/sandbox_spec.ts";
import { prepareWarmVm, singleWarmSource } from "../../host/api/warm_pool.ts";
import { startServedExec } from "../../host/api/served_exec.ts";
import { connectControlSocket } from "../../host/api/session_connect.ts";
import { openDatabase } from "../../host/store/database.ts";
import { findImage } from "../../image/store.ts";
import { hostListing, TREE_LISTING } from "./share_sandbox.ts";

const text = (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

async function sh(cwd: string, script: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", script], cwd, stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** Run `script` in the sandbox's /workspace; its output, or a failure with its stderr. */
async function run(box: Sandbox, script: string): Promise<string> {
  const handle = box.exec({ argv: ["sh", "-c", script], cwd: "/workspace" });
  const [out, err, result] = await Promise.all([
    text(handle.stdout),
    text(handle.stderr),
    handle.result,
  ]);
  assert.equal(result.code, 0, err);
  return out;
}

/**
 * A scratch project (shared with the sandbox), a context on a database of its own and the spec
 * of a sandbox sharing the project on the user network; disposing removes it all.
 */
async function world(prefix: string) {
  const base = await Deno.makeTempDir({ prefix });
  const project = `${base}/project`;
  await Deno.mkdir(project);
  const events: SandboxEvent[] = [];
  const db = openDatabase(`${base}/agentbox.db`);
  const ctx = openContext({ db, onEvent: (e) => events.push(e) });
  const spec = parseSandboxSpec(
    { argv: ["true"], projectDir: project, share: project, netBackend: "user" },
    "the test",
  );
  return {
    project,
    ctx,
    events,
    spec,
    async [Symbol.asyncDispose]() {
      await ctx[Symbol.asyncDispose]();
      db.close();
      await Deno.remove(base, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name: "a warm VM takes a share: the project's files, its changes, disks of its own per take, " +
    "delta layers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using w = await world("agentbox-warmshare-");
    const { project, ctx, events, spec } = w;
    {
      // Enough unchanged files that a later small change becomes a delta layer.
      await sh(
        project,
        "mkdir -p src/deep && echo one > a.txt && echo deep > src/deep/d.txt && " +
          "ln -s a.txt link && chmod 600 a.txt && " +
          "for i in $(seq 200); do echo $i > src/f$i.txt; done",
      );
      const image = await findImage("default");

      /** One take of a fresh warm VM: `inside` runs in the sandbox, on the warm VM itself. */
      const take = async (inside: (box: Sandbox) => Promise<void>) => {
        const entry = await prepareWarmVm(ctx, image, "user");
        const source = singleWarmSource(entry);
        try {
          return await runSandbox(ctx, spec, async (box) => {
            assert.equal(box.vm, entry.vm, "the sandbox did not run on the warm VM");
            await inside(box);
            return { code: 0, signal: null, timedOut: false };
          }, { warm: source });
        } finally {
          await source.release();
          await entry.vm.stop();
        }
      };

      // First take: exactly the project's tree; its writes are the session's changes.
      const first = await take(async (box) => {
        assert.equal(await run(box, TREE_LISTING), await hostListing(project));
        await run(box, "echo two >> a.txt && echo new > first-only.txt && rm src/deep/d.txt");
      });
      const changed = (r: typeof first) =>
        r.changes?.entries.map((e) => `${e.status} ${e.path}`).sort();
      assert.deepEqual(changed(first), [
        "added first-only.txt",
        "deleted src/deep/d.txt",
        "modified a.txt",
      ]);
      // Nothing was applied: the project is as it was.
      assert.equal(await Deno.readTextFile(`${project}/a.txt`), "one\n");

      // The project changes a little: the next session's lower disk is the image plus a delta
      // layer. The second take sees the new tree, nothing of the first take's upper disk.
      await sh(project, "echo changed > src/f7.txt && echo later > later.txt");
      let layers: number[] | undefined;
      const second = await take(async (box) => {
        layers = box.workspace?.share.lowerLayers;
        assert.equal(await run(box, TREE_LISTING), await hostListing(project));
        assert.equal(
          await run(box, "cat src/f7.txt; test ! -e first-only.txt && echo clean"),
          "changed\nclean\n",
        );
        await run(box, "echo second > second.txt");
      });
      assert.ok(layers && layers.length > 0, `no delta layer: ${JSON.stringify(layers)}`);
      assert.deepEqual(changed(second), ["added second.txt"]);
      assert.ok(
        !events.some((e) => e.type === "warning" && /warm VM did not resume/.test(e.message)),
        JSON.stringify(events),
      );
    }
  },
});

Deno.test({
  name: "a served one-shot with a share takes a warm VM with the share mounted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using w = await world("agentbox-warmshare-served-");
    const { project, ctx, spec } = w;
    await Deno.writeTextFile(`${project}/hello.txt`, "hello\n");
    {
      const entry = await prepareWarmVm(ctx, await findImage("default"), "user");
      const source = singleWarmSource(entry);
      try {
        const { started, ended } = await startServedExec(ctx, spec, { warm: source });
        assert.equal(started.pooled, true);
        const agent = await connectControlSocket(started.controlSocket);
        let out: string;
        try {
          const handle = agent.exec({ argv: ["cat", "/workspace/hello.txt"] });
          const [stdout, stderr, result] = await Promise.all([
            text(handle.stdout),
            text(handle.stderr),
            handle.result,
          ]);
          assert.equal(result.code, 0, stderr);
          out = stdout;
        } finally {
          agent.close();
        }
        assert.equal(out, "hello\n");
        const end = await ended;
        await end.cleaned;
      } finally {
        await source.release();
        await entry.vm.stop();
      }
    }
  },
});
