import assert from "node:assert/strict";
import { aptProgress, sourcesList } from "./chroot_apt.ts";
import { BootstrapProgress, cachedDebName } from "./debootstrap.ts";

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

Deno.test("apt status lines become progress; other lines are ignored", () => {
  assert.deepEqual(aptProgress("dlstatus:3:12.5:Retrieving file 3 of 216"), {
    label: "Retrieving file 3 of 216",
    fraction: 0.125,
  });
  assert.deepEqual(aptProgress("pmstatus:git:100:Installed git (amd64)"), {
    label: "Installed git (amd64)",
    fraction: 1,
  });
  assert.equal(aptProgress("Reading package lists..."), undefined);
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
