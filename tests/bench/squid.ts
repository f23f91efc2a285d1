/**
 * Squid as a reference forward proxy for tests/bench/proxy.ts: started by the bench on a loopback
 * port with its own configuration in a temporary directory (pid file, logs, no disk cache), in
 * the foreground (`squid -N`), so the process the bench measures is Squid itself. It only accepts
 * clients from 127.0.0.1, only forwards to 127.0.0.1 on the bench's upstream ports, and asks DNS
 * (if ever) only of 127.0.0.1: no bench traffic can leave the machine.
 *
 * Not run on its own; see tests/bench/proxy.ts.
 *
 * @module
 */

/** The command that installs Squid on Debian, for the message when it is missing. */
export const SQUID_INSTALL = "apt-get install -y --no-install-recommends squid";

/** A running Squid. */
export interface Squid {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** The squid binary, or undefined when it is not installed. */
export async function findSquid(): Promise<string | undefined> {
  for (const candidate of ["squid", "/usr/sbin/squid"]) {
    try {
      const out = await new Deno.Command(candidate, {
        args: ["-v"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return candidate;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return undefined;
}

/**
 * Start `binary` on a free loopback port, allowed to reach 127.0.0.1 on `upstreamPorts` only.
 * `dir` receives the configuration, pid file and logs.
 */
export async function startSquid(
  binary: string,
  options: { dir: string; upstreamPorts: number[] },
): Promise<Squid> {
  const { dir } = options;
  const port = freePort();
  // Squid started as root drops to the `proxy` user, which must be able to write its files.
  if (Deno.uid() === 0) {
    const id = await new Deno.Command("id", { args: ["-u", "proxy"] }).output();
    const gid = await new Deno.Command("id", { args: ["-g", "proxy"] }).output();
    const text = (b: Uint8Array) => Number(new TextDecoder().decode(b).trim());
    if (id.success && gid.success) await Deno.chown(dir, text(id.stdout), text(gid.stdout));
  }
  const conf = `${dir}/squid.conf`;
  await Deno.writeTextFile(
    conf,
    [
      `http_port 127.0.0.1:${port}`,
      `visible_hostname agentbox-bench`,
      `acl bench_src src 127.0.0.1/32`,
      `acl bench_dst dst 127.0.0.1/32`,
      `acl bench_ports port ${options.upstreamPorts.join(" ")}`,
      `http_access deny !bench_src`,
      `http_access deny !bench_dst`,
      `http_access deny !bench_ports`,
      `http_access allow bench_src`,
      `http_access deny all`,
      `cache deny all`,
      `cache_mem 8 MB`,
      `pid_filename ${dir}/squid.pid`,
      `cache_log ${dir}/cache.log`,
      // agentbox records every request in SQLite; Squid's access log is the fair counterpart.
      `access_log stdio:${dir}/access.log`,
      `coredump_dir ${dir}`,
      `netdb_filename none`,
      `pinger_enable off`,
      `icp_port 0`,
      `dns_nameservers 127.0.0.1`,
      `max_filedescriptors 16384`,
      `shutdown_lifetime 0 seconds`,
      ``,
    ].join("\n"),
  );
  const child = new Deno.Command(binary, {
    args: ["-N", "-f", conf],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (Date.now() > until) {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        await child.status;
        const log = await Deno.readTextFile(`${dir}/cache.log`).catch(() => "");
        throw new Error(`Squid did not start: ${await stderr}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(timer);
      await stderr;
    },
  };
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
