/**
 * Running `install.sh` in tests: a shell with a chosen environment, a PATH without Deno.
 *
 * @module
 */

const decoder = new TextDecoder();

/**
 * A PATH of the usual directories, minus every one that holds a `deno`.
 *
 * @example
 * ```ts
 * import { pathWithoutDeno } from "./install_helpers.ts";
 * console.log(pathWithoutDeno()); // e.g. /usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
 * ```
 */
export function pathWithoutDeno(): string {
  return ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    .filter((dir) => !exists(`${dir}/deno`))
    .join(":");
}

/**
 * This process's environment without what would make HOME not fresh (XDG directories, Deno's
 * own variables). The rest stays: e.g. the host's NODE_EXTRA_CA_CERTS, which npm needs where the
 * registry is reached through a TLS-intercepting mirror.
 *
 * @example
 * ```ts
 * import { hostEnv } from "./install_helpers.ts";
 * const env = { ...hostEnv(), HOME: "/tmp/fresh-home" };
 * ```
 */
export function hostEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([key]) => !/^(XDG_|DENO_|NPM_CONFIG_)/i.test(key)),
  );
}

/**
 * Whether `path` exists.
 *
 * @example
 * ```ts
 * import { exists } from "./install_helpers.ts";
 * console.assert(exists("/"));
 * ```
 */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `sh ARGS` with exactly `env`, optionally in `cwd` and with `stdin` as its input.
 *
 * @example
 * ```ts
 * import { sh } from "./install_helpers.ts";
 * const { code, stdout } = await sh(["-c", "echo hi"], { PATH: "/usr/bin:/bin" });
 * ```
 */
export async function sh(
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; stdin?: string } = {},
) {
  const child = new Deno.Command("sh", {
    args,
    env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}
