/**
 * `agentbox cp` and port forwards against a real detached session (QEMU), driven as a user would:
 * subprocesses with private XDG directories, a real busybox `httpd` in the guest, a host client.
 */
import assert from "node:assert/strict";
import { agentbox, sha256 } from "../helpers.ts";
import { sandbox } from "./session_sandbox.ts";

Deno.test("cp: a directory both ways, a guest symlink not followed, odd names", async () => {
  await using s = await sandbox();
  const started = await s.cli(["run", "--detach", "--name", "box"]);
  assert.equal(started.code, 0, started.stderr);

  // In: a host tree with odd names and a link, into the guest (anywhere) and the workspace.
  const src = `${s.project}/indir`;
  await Deno.mkdir(`${src}/sub`, { recursive: true });
  const files: Record<string, string> = {
    "a.txt": "alpha\n",
    "-dash": "leading dash\n",
    "ünï cödé ✓": "unicode\n",
    "new\nline": "newline\n",
    "sub/run.sh": "#!/bin/sh\necho ran\n",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${src}/${name}`, text);
  }
  await Deno.chmod(`${src}/sub/run.sh`, 0o755);
  await Deno.symlink("/etc/hostname", `${src}/link`);
  const copyIn = await s.cli(["cp", "indir", "box:/tmp/"]);
  assert.equal(copyIn.code, 0, copyIn.stderr);
  const listed = await s.cli([
    "exec",
    "--session",
    "box",
    "--",
    "sh",
    "-c",
    "cd /tmp/indir && for f in a.txt -dash 'ünï cödé ✓' 'new\nline' sub/run.sh; do " +
    'printf "%s\\n" "$(cat -- "$f")"; done; readlink link; sub/run.sh; ' +
    `printf 'new\\nline' | xargs -0 cat`,
  ]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(
    listed.stdout,
    "alpha\nleading dash\nunicode\n" + "newline\n" + "#!/bin/sh\necho ran\n" +
      "/etc/hostname\nran\nnewline\n",
  );
  // A leading dash after --, into the workspace by a relative guest path.
  await Deno.writeTextFile(`${s.project}/-lead`, "dash file\n");
  const dash = await s.cli(["cp", "--", "-lead", "box:copied.txt"]);
  assert.equal(dash.code, 0, dash.stderr);
  const cat = await s.cli(["exec", "--session", "box", "--", "cat", "/workspace/copied.txt"]);
  assert.equal(cat.stdout, "dash file\n", cat.stderr);

  // Out: a guest tree with a link to a host-sensitive place, a link to a directory, odd names,
  // a setuid file and a big file.
  const make = await s.cli([
    "exec",
    "--session",
    "box",
    "--",
    "sh",
    "-c",
    "set -e; mkdir -p /tmp/out/deep/er; cd /tmp/out; echo top > top.txt; " +
    "ln -s /etc/shadow shadow-link; ln -s / root-link; echo u > 'ünï ✓'; echo d > -dash; " +
    "printf 'x' > \"$(printf 'bad\\nname')\"; echo s > suid; chmod 4755 suid; " +
    "head -c 3000000 /dev/urandom > deep/er/big.bin; sha256sum deep/er/big.bin",
  ]);
  assert.equal(make.code, 0, make.stderr);
  const guestSum = make.stdout.split(" ")[0];
  const out = await s.cli(["cp", "box:/tmp/out", "fromguest"]);
  // One entry (the newline name) is skipped, as apply would: exit 1, the name listed escaped.
  assert.equal(out.code, 1, out.stderr);
  assert.match(out.stderr, /skipped fromguest\/bad\\x0aname: control character in name/);
  const dest = `${s.project}/fromguest`;
  assert.equal(await Deno.readLink(`${dest}/shadow-link`), "/etc/shadow");
  assert.equal(await Deno.readLink(`${dest}/root-link`), "/");
  assert.ok((await Deno.lstat(`${dest}/root-link`)).isSymlink);
  assert.equal(await Deno.readTextFile(`${dest}/ünï ✓`), "u\n");
  assert.equal(await Deno.readTextFile(`${dest}/-dash`), "d\n");
  assert.equal((await Deno.stat(`${dest}/suid`)).mode! & 0o7777, 0o755 & ~Deno.umask());
  assert.equal(await sha256(await Deno.readFile(`${dest}/deep/er/big.bin`)), guestSum);
  // Copying into a directory that has one by that name is refused; nothing half-made remains.
  await Deno.mkdir(`${s.project}/out`);
  const again = await s.cli(["cp", "box:/tmp/out", "."]);
  assert.equal(again.code, 125, again.stderr);
  assert.match(again.stderr, /out is a directory on the host: copy into it, or remove it first/);
  assert.deepEqual([...Deno.readDirSync(`${s.project}/out`)], []);
  const names = [...Deno.readDirSync(s.project)].map((e) => e.name);
  assert.ok(!names.some((n) => n.startsWith(".agentbox-cp-")), names.join(" "));
  // A missing guest path: one line, no file made.
  const missing = await s.cli(["cp", "box:/nope", "nope"]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Cannot copy \/nope/);
  assert.ok(!names.includes("nope"));
  // Bad use: both sides local.
  assert.equal((await s.cli(["cp", "a", "b"])).code, 125);

  assert.equal((await s.cli(["stop", "box"])).code, 0);
});

Deno.test("ports: run --detach -p and port, 100 concurrent requests, the forward dies with the session", async () => {
  await using s = await sandbox();
  const started = await s.cli([
    "run",
    "--detach",
    "--name",
    "web",
    "-p",
    "127.0.0.1:0:8080",
    "--no-share",
  ]);
  assert.equal(started.code, 0, started.stderr);
  // A real server in the guest, with ten files of different sizes and their sums.
  const serve = await s.cli([
    "exec",
    "--session",
    "web",
    "--",
    "sh",
    "-c",
    "set -e; mkdir -p /srv; cd /srv; for i in 0 1 2 3 4 5 6 7 8 9; do " +
    "head -c $((i * 40000 + 100)) /dev/urandom > f$i; done; sha256sum f*; " +
    "busybox httpd -p 127.0.0.1:8080 -h /srv",
  ]);
  assert.equal(serve.code, 0, serve.stderr);
  const sums = new Map(
    serve.stdout.trim().split("\n").map((line) => line.split(/\s+/).reverse() as [string, string]),
  );
  assert.equal(sums.size, 10);

  // The -p forward, as `port` reports it; asking again gives the same one.
  const port = await s.cli(["port", "web", "8080"]);
  assert.equal(port.code, 0, port.stderr);
  const address = port.stdout.trim();
  assert.match(address, /^127\.0\.0\.1:\d+$/);
  assert.equal((await s.cli(["port", "web", "8080"])).stdout.trim(), address);

  const results = await Promise.all(
    Array.from({ length: 100 }, async (_, n) => {
      const name = `f${n % 10}`;
      const response = await fetch(`http://${address}/${name}`);
      assert.equal(response.status, 200);
      return [await sha256(await response.bytes()), sums.get(name)];
    }),
  );
  for (const [got, want] of results) assert.equal(got, want);

  // A second forward on a port of our choosing (0: any free one) reaches the same server.
  const second = await s.cli(["port", "web", "8080", "127.0.0.1:0"]);
  assert.equal(second.code, 0, second.stderr);
  const other = second.stdout.trim();
  assert.notEqual(other, address);
  const body = await (await fetch(`http://${other}/f3`)).bytes();
  assert.equal(await sha256(body), sums.get("f3"));
  // A port the host cannot use: refused with one line.
  const [, taken] = address.split(":");
  const clash = await s.cli(["port", "web", "8080", taken]);
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, /in use/);
  assert.equal((await s.cli(["run", "-p", "8080"])).code, 125);

  const stop = await s.cli(["stop", "web"]);
  assert.equal(stop.code, 0, stop.stderr);
  for (const where of [address, other]) {
    const [hostname, portText] = where.split(":");
    await assert.rejects(
      Deno.connect({ hostname, port: Number(portText) }),
      Deno.errors.ConnectionRefused,
      where,
    );
  }
});

Deno.test("ports: a one-shot run -p forwards while its command runs, and not after", async () => {
  await using s = await sandbox();
  // The guest's server answers once, then the command waits to be told to end.
  const child = agentbox([
    "run",
    "--no-share",
    "--net",
    "none",
    "-p",
    "0:8080",
    "--",
    "sh",
    "-c",
    "mkdir -p /srv && echo one-shot > /srv/index.html && busybox httpd -p 127.0.0.1:8080 " +
    "-h /srv && sleep 600",
  ], { env: s.env, cwd: s.project, stdin: "null" });
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let address: string | undefined;
  while (address === undefined) {
    const { value, done } = await stderr.read();
    assert.ok(!done, `run ended before forwarding: ${seen}`);
    seen += value;
    address = /forwarding (127\.0\.0\.1:\d+) to guest port 8080/.exec(seen)?.[1];
  }
  // httpd may still be starting: a refused connection is closed at once, so retry briefly.
  let body = "";
  for (let i = 0; i < 100 && body !== "one-shot\n"; i++) {
    body = await fetch(`http://${address}/index.html`).then((r) => r.text(), () => "");
    if (body !== "one-shot\n") await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal(body, "one-shot\n");
  // Ending the run (as Ctrl-C or a SIGTERM would) ends the VM, and the forward with it.
  child.kill("SIGTERM");
  await child.status;
  await stderr.cancel().catch(() => {});
  await child.stdout.cancel().catch(() => {});
  const [hostname, port] = address.split(":");
  await assert.rejects(
    Deno.connect({ hostname, port: Number(port) }),
    Deno.errors.ConnectionRefused,
  );
});
