// The TypeScript SDK's smoke under Node: run by sdk_ts_test.ts as
// `node sdk_ts_node_smoke.mjs BUNDLE SOCKET URL TOKEN SANDBOX`, with the SDK built as it is
// published (`deno bundle`, sdk/ts/package.json). Prints one JSON object of what it saw.
import { createHash } from "node:crypto";
import process from "node:process";

const [bundle, socketPath, url, token, id] = process.argv.slice(2);
const { AgentboxError, Client, Sandbox } = await import(bundle);
const result = {};

const local = new Client({ socketPath });
const sandbox = await Sandbox.connect(id, { client: local });
const run = await sandbox.exec(["sh", "-c", "printf out; printf err >&2; exit 3"]);
result.exec = { exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr };

const hash = createHash("sha256");
let streamedBytes = 0;
const streamed = await sandbox.exec([
  "sh",
  "-c",
  "head -c 4194304 /dev/urandom | tee /tmp/n; sha256sum </tmp/n >&2; rm /tmp/n",
], {
  onStdout: (chunk) => {
    hash.update(chunk);
    streamedBytes += chunk.length;
  },
});
result.streamed = {
  bytes: streamedBytes,
  sha256: hash.digest("hex"),
  guestSha256: streamed.stderr.split(" ")[0],
};

const words = ["it's", "$(id)", "a\nb", "", "*", "é"];
const sh = await sandbox.sh`printf '%s|' ${words}`;
result.sh = sh.stdout;

const bytes = new Uint8Array(256).map((_, i) => i);
await sandbox.files.write("/tmp/node.bin", bytes);
result.read = Array.from(await sandbox.files.read("/tmp/node.bin"));

const events = [];
for await (const event of sandbox.execStream(["sh", "-c", "echo a; echo b >&2"])) {
  events.push(event.type);
}
result.events = events;

const pty = await sandbox.pty(["/bin/sh"], { rows: 30, cols: 100 });
let screen = "";
pty.onData((data) => screen += new TextDecoder().decode(data));
pty.write("stty size\n");
for (let i = 0; i < 600 && !screen.includes("30 100"); i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
pty.resize(33, 111);
pty.write("sleep 0.5; stty size; exit 5\n");
result.pty = { exit: await pty.wait(), screen };

const remote = new Client({ url, token });
result.tcpList = (await remote.list()).map((s) => s.id);
try {
  await new Client({ url, token: "wrong-token" }).list();
  result.wrongToken = "accepted";
} catch (error) {
  result.wrongToken = {
    isAgentboxError: error instanceof AgentboxError,
    status: error.status,
    code: error.code,
  };
}
try {
  await Sandbox.connect("no-such-sandbox", { client: local });
} catch (error) {
  result.unknown = { kind: error.kind, status: error.status };
}
console.log(JSON.stringify(result));
