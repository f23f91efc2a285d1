/**
 * Shared pieces of the integration tests: reading streams, hashing, running the CLI.
 *
 * @module
 */

/** Repository root. */
export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Read a whole stream into one buffer. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Hex SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hex SHA-256 of a stream, computed as it flows (nothing buffered beyond one chunk). */
export async function streamDigest(
  stream: ReadableStream<Uint8Array>,
): Promise<{ sha256: string; bytes: number }> {
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** Random bytes (crypto.getRandomValues fills at most 64 KiB per call). */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(out.subarray(offset, Math.min(size, offset + 65536)));
  }
  return out;
}

/** Spawn the CLI from source, as `agentbox ARGS`. */
export function agentbox(
  args: string[],
  options: {
    env?: Record<string, string>;
    stdin?: "piped" | "null";
    cwd?: string;
    /** Another checkout to run agentbox from (benchmarks comparing two versions). */
    checkout?: string;
    /** Run it in this network namespace (`ip netns exec`), e.g. one of {@linkcode namespacePair}. */
    namespace?: string;
  } = {},
): Deno.ChildProcess {
  const root = options.checkout ?? REPO;
  const inNamespace = options.namespace
    ? ["netns", "exec", options.namespace, Deno.execPath()]
    : [];
  return new Deno.Command(options.namespace ? "ip" : Deno.execPath(), {
    args: [
      ...inNamespace,
      "run",
      "--allow-all",
      "--quiet",
      `--config=${root}/deno.json`,
      `${root}/host/main.ts`,
      ...args,
    ],
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Pids of live processes whose command line contains `needle`. */
export function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmdline.includes(needle) && !cmdline.includes("/proc/")) pids.push(+entry.name);
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Poll `predicate` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return await predicate();
}

/**
 * The nftables ruleset and network devices of network namespace `namespace` (default: the one
 * this process is in), as text to compare before and after a tap network.
 */
export async function networkState(namespace?: string): Promise<string> {
  const inNamespace = namespace ? ["ip", "netns", "exec", namespace] : [];
  const run = async (argv: string[]) => {
    const [cmd, ...args] = [...inNamespace, ...argv];
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    if (!out.success) throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  };
  return `${await run(["nft", "list", "ruleset"])}\n${await run(["ip", "-br", "link"])}`;
}

/**
 * Two network namespaces made for a test, `host` and `peer`, joined by a veth link:
 * 198.51.100.1/24 and 2001:db8::1/64 in `host`, .2 and ::2 in `peer` (documentation ranges, so
 * nothing can leave the machine). Removed when the test process ends. Rejects with the reason
 * when they cannot be made (not root, no `ip`).
 */
export async function namespacePair(): Promise<{ host: string; peer: string }> {
  if (Deno.uid() !== 0) throw new Error("needs root (network namespaces)");
  const suffix = crypto.randomUUID().slice(0, 6);
  const host = `abnh${suffix}`;
  const peer = `abnp${suffix}`;
  const ip = async (...args: string[]) => {
    const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
    if (!out.success) {
      throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await ip("netns", "add", host);
  globalThis.addEventListener("unload", () => {
    for (const ns of [host, peer]) {
      new Deno.Command("ip", { args: ["netns", "delete", ns], stderr: "null" }).outputSync();
    }
  });
  await ip("netns", "add", peer);
  await ip("-n", host, "link", "add", "vh", "type", "veth", "peer", "vp", "netns", peer);
  for (const [ns, dev, last] of [[host, "vh", "1"], [peer, "vp", "2"]]) {
    await ip("-n", ns, "link", "set", "lo", "up");
    await ip("-n", ns, "addr", "add", `198.51.100.${last}/24`, "dev", dev);
    await ip("-n", ns, "addr", "add", `2001:db8::${last}/64`, "dev", dev, "nodad");
    await ip("-n", ns, "link", "set", dev, "up");
  }
  return { host, peer };
}

/**
 * {@linkcode namespacePair} whose `host` namespace resolves `names` to the peer (198.51.100.2)
 * through its own /etc/hosts: `ip netns exec` mounts `/etc/netns/HOST/hosts` over /etc/hosts.
 * That file (and /etc/netns, if this made it and nobody else put anything there) is removed when
 * the test process ends. Rejects with the reason when the namespaces cannot be made.
 */
export async function namespacePairResolving(
  names: readonly string[],
): Promise<{ host: string; peer: string }> {
  const pair = await namespacePair();
  const etc = `/etc/netns/${pair.host}`;
  const hadNetns = await Deno.stat("/etc/netns").then(() => true, () => false);
  await Deno.mkdir(etc, { recursive: true });
  globalThis.addEventListener("unload", () => {
    Deno.removeSync(etc, { recursive: true });
    if (!hadNetns) {
      try {
        Deno.removeSync("/etc/netns"); // not recursive: someone else's files stay
      } catch {
        // Someone else's namespace files: theirs to remove.
      }
    }
  });
  const lines = names.map((name) => `198.51.100.2 ${name}`).join("\n");
  await Deno.writeTextFile(`${etc}/hosts`, `127.0.0.1 localhost\n${lines}\n`);
  return pair;
}
