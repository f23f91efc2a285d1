import assert from "node:assert/strict";
import {
  imageNodeVersion,
  nodeVersionWarning,
  parseNodeVersion,
  requestedNode,
} from "./node_version.ts";

Deno.test("node version: .nvmrc and .node-version forms", () => {
  assert.deepEqual(parseNodeVersion(".nvmrc", "20\n"), { file: ".nvmrc", spec: "20", major: 20 });
  assert.equal(parseNodeVersion(".nvmrc", "v20.11.1").major, 20);
  assert.equal(parseNodeVersion(".node-version", "22.3.0\r\n").major, 22);
  assert.equal(parseNodeVersion(".nvmrc", "18.x").major, 18);
  assert.equal(parseNodeVersion(".nvmrc", "# pinned\n\nlts/Iron # the LTS\n").major, 20);
  assert.deepEqual(parseNodeVersion(".nvmrc", "lts/*"), { file: ".nvmrc", spec: "lts/*" });
  assert.deepEqual(parseNodeVersion(".nvmrc", "node"), { file: ".nvmrc", spec: "node" });
  // The project's text reaches the terminal only as a plain word.
  assert.deepEqual(parseNodeVersion(".nvmrc", "\x1b]0;pwned\x07"), { file: ".nvmrc" });
  assert.deepEqual(parseNodeVersion(".nvmrc", ""), { file: ".nvmrc" });
});

Deno.test("node version: the image's node from its Debian package", () => {
  const pkg = (name: string, version: string) => ({ name, version, sha256: "" });
  assert.equal(
    imageNodeVersion({ packages: [pkg("nodejs", "18.20.4+dfsg-1~deb12u3")] }),
    "18.20.4",
  );
  assert.equal(imageNodeVersion({ packages: [pkg("nodejs", "1:20.1.0-1")] }), "20.1.0");
  assert.equal(imageNodeVersion({ packages: [pkg("busybox", "1:1.35.0-4")] }), undefined);
});

Deno.test("node version: a warning only when the majors differ, naming how to get it", () => {
  assert.equal(
    nodeVersionWarning({ file: ".nvmrc", spec: "18", major: 18 }, "dev", "18.20.4"),
    undefined,
  );
  const other = nodeVersionWarning(
    { file: ".nvmrc", spec: "v20.11.1", major: 20 },
    "dev",
    "18.20.4",
  );
  assert.match(other!, /^\.nvmrc asks for Node 20; the dev image's node is 18\.20\.4/);
  assert.match(other!, /npx -y node@20/);
  const alias = nodeVersionWarning({ file: ".nvmrc", spec: "lts/*" }, "dev", "18.20.4");
  assert.match(alias!, /Node "lts\/\*" \(agentbox cannot tell which version that is\)/);
  const none = nodeVersionWarning(
    { file: ".node-version", spec: "20", major: 20 },
    "default",
    undefined,
  );
  assert.match(none!, /the default image has no node/);
  assert.doesNotMatch(nodeVersionWarning({ file: ".nvmrc" }, "dev", "18.20.4")!, /undefined/);
});

Deno.test("node version: read from the project directory, .nvmrc first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-node-version-" });
  try {
    assert.equal(await requestedNode(dir), undefined);
    await Deno.writeTextFile(`${dir}/.node-version`, "22.1.0\n");
    assert.deepEqual(await requestedNode(dir), {
      file: ".node-version",
      spec: "22.1.0",
      major: 22,
    });
    await Deno.writeTextFile(`${dir}/.nvmrc`, `20${" ".repeat(10_000)}\n`);
    assert.deepEqual(await requestedNode(dir), { file: ".nvmrc", spec: "20", major: 20 });
    await Deno.remove(`${dir}/.nvmrc`);
    await Deno.mkdir(`${dir}/.nvmrc`);
    assert.equal((await requestedNode(dir))?.file, ".node-version", "a directory is not read");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
