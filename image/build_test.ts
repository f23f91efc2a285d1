import assert from "node:assert/strict";
import { GUEST_MODULES } from "./build.ts";
import { stage1Init } from "./stage1.ts";
import { stage2Files } from "./stage2.ts";
import { imagesCommand } from "../host/cli/images.ts";
import { UsageError } from "../host/cli/errors.ts";
import { ImageError } from "./errors.ts";
import { profileFor } from "./profiles.ts";
import { removeImage } from "./store.ts";

async function shellSyntaxOk(script: string): Promise<void> {
  const output = await new Deno.Command("sh", {
    args: ["-n", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
}

Deno.test("stage 1 loads modules in order and passes virtio_mmio its devices", async () => {
  const script = stage1Init(["virtio_ring", "virtio", "virtio_mmio", "virtio_blk"]);
  const loads = [...script.matchAll(/^load (\S+)(.*)$/gm)].map((m) => m[1] + m[2]);
  assert.deepEqual(loads, ["virtio_ring", "virtio", "virtio_mmio $mmio_devices", "virtio_blk"]);
  assert.match(
    script,
    /virtio_mmio\.device=\*\) mmio_devices="\$mmio_devices \$\{arg#virtio_mmio\.\}"/,
  );
  assert.match(script, /exec switch_root \/newroot \/sbin\/init/);
  await shellSyntaxOk(script);
});

Deno.test("stage 1 turns virtio_mmio.device= arguments into insmod parameters", async () => {
  // Run just the command-line loop of /init against a sample command line.
  const script = stage1Init([]);
  const loop = script.slice(script.indexOf("mmio_devices="), script.indexOf("tries=0"))
    .replace("$(cat /proc/cmdline)", "$CMDLINE");
  const output = await new Deno.Command("sh", {
    args: ["-c", `${loop}\necho "$mmio_devices"`],
    env: {
      CMDLINE: "console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12 quiet " +
        "virtio_mmio.device=512@0xfeb00c00:11 agentbox.channel=serial",
    },
    stdout: "piped",
  }).output();
  assert.equal(
    new TextDecoder().decode(output.stdout).trim(),
    "device=512@0xfeb00e00:12 device=512@0xfeb00c00:11",
  );
});

Deno.test("stage 2 scripts are valid shell and start the agent on the right channel", async () => {
  const files = stage2Files();
  await shellSyntaxOk(files["etc/agentbox/sysinit"].content);
  const agent = files["etc/agentbox/agent"].content;
  await shellSyntaxOk(agent);
  assert.match(agent, /agentbox\.channel=\*\)/);
  assert.match(agent, /agentbox\.vsock_port=\*\)/);
  assert.match(agent, /set -- --stdio/);
  assert.match(agent, /set -- --vsock "\$vsock_port"/);
  assert.match(files["etc/inittab"].content, /::respawn:\/etc\/agentbox\/agent/);
});

Deno.test("the guest gets every module the product relies on", () => {
  for (
    const name of [
      "virtio_mmio",
      "virtio_pci",
      "virtio_console",
      "virtio_blk",
      "erofs",
      "overlay",
      "vsock",
    ]
  ) {
    assert.ok(GUEST_MODULES.includes(name), name);
  }
});

Deno.test("images command: help and usage errors", async () => {
  assert.equal(await imagesCommand(["--help"]), 0);
  assert.equal(await imagesCommand(["build", "--help"]), 0);
  assert.equal(await imagesCommand(["list", "--help"]), 0);
  // Usage errors and image failures go to agentbox's one error path (exit 125 and 126).
  for (const args of [[], ["frobnicate"], ["build", "a", "b"], ["build", "--bogus"], ["rm"]]) {
    await assert.rejects(() => imagesCommand(args), UsageError, args.join(" "));
  }
  await assert.rejects(() => imagesCommand(["build", "--profile", "nope", "x"]), ImageError);
  assert.equal(await imagesCommand(["rm", "--help"]), 0);
  assert.equal(await imagesCommand(["ls", "--help"]), 0);
});

Deno.test("stage 2 scripts run on the shell they are given", () => {
  const files = stage2Files({ shell: "/opt/agentbox/busybox sh" });
  for (const script of ["etc/agentbox/sysinit", "etc/agentbox/agent"]) {
    assert.ok(files[script].content.startsWith("#!/opt/agentbox/busybox sh\n"), script);
    assert.ok(stage2Files()[script].content.startsWith("#!/bin/sh\n"), script);
  }
  assert.equal(files["etc/passwd"], undefined, "stage 2 leaves the user database alone");
});

Deno.test("profiles: named like the image unless given; unknown names are refused", () => {
  assert.equal(profileFor(undefined, "dev").name, "dev");
  assert.equal(profileFor(undefined, "default").name, "default");
  assert.equal(profileFor(undefined, "mine").name, "default");
  assert.equal(profileFor("dev", "mine").name, "dev");
  assert.throws(() => profileFor("toString", "x"), ImageError);
});

Deno.test("images rm removes an image directory and refuses unknown names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/old/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/old/manifest.json`, "{}");
    await removeImage("old", { imagesDir: dir });
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await assert.rejects(removeImage("old", { imagesDir: dir }), ImageError);
    await assert.rejects(removeImage("../etc", { imagesDir: dir }), ImageError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
