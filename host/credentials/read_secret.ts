/**
 * Read one secret from where the configuration says it is held on the host: an environment
 * variable of the agentbox process, a file, or a command that prints it (run without a shell,
 * stdin closed, its output bounded in size and time).
 *
 * @module
 */

import type { SecretSpec } from "../config/inspect_settings.ts";
import { CredentialError } from "./credential_error.ts";

/** Longest secret accepted, and most bytes read from a file or a command. */
export const MAX_SECRET_BYTES = 8 * 1024;
const MAX_OUTPUT_BYTES = 64 * 1024;
const COMMAND_TIMEOUT_MS = 30_000;
/** Printable ASCII without leading or trailing blanks: safe in a header, nothing to escape. */
const HEADER_SAFE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

/** Seams for tests. */
export interface ReadSecretOptions {
  /** Environment lookup (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
}

/**
 * The secret, trimmed of surrounding white space. Throws {@linkcode CredentialError}; its
 * message describes the source (variable name, file path, program name and exit code), never
 * the value or the command's output.
 *
 * @example
 * ```ts
 * import { readSecret } from "./read_secret.ts";
 * const token = await readSecret({ kind: "command", argv: ["gh", "auth", "token"], ttlMs: 3600_000 });
 * ```
 */
export async function readSecret(
  spec: SecretSpec,
  options: ReadSecretOptions = {},
): Promise<string> {
  const raw = await readRaw(spec, options);
  const secret = raw.trim();
  if (secret.length === 0 || secret.length > MAX_SECRET_BYTES || !HEADER_SAFE.test(secret)) {
    throw new CredentialError(
      "invalid_secret",
      `The secret from ${describe(spec)} is empty, too long or not printable ASCII`,
    );
  }
  return secret;
}

async function readRaw(spec: SecretSpec, options: ReadSecretOptions): Promise<string> {
  const fail = (detail: string, cause?: unknown) =>
    new CredentialError("unavailable", `Cannot read the secret from ${describe(spec)}: ${detail}`, {
      cause,
    });
  if (spec.kind === "env") {
    const value = (options.env ?? ((n) => Deno.env.get(n)))(spec.name);
    if (value === undefined) throw fail("not set");
    return value;
  }
  if (spec.kind === "file") {
    try {
      using file = await Deno.open(spec.path, { read: true });
      return new TextDecoder().decode(await readBounded(file.readable, MAX_OUTPUT_BYTES));
    } catch (err) {
      throw fail(err instanceof Deno.errors.NotFound ? "no such file" : "unreadable", err);
    }
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(spec.argv[0], {
      args: spec.argv.slice(1),
      stdin: "null",
      stdout: "piped",
      // Its diagnostics could echo the token: never captured, never shown.
      stderr: "null",
    }).spawn();
  } catch (err) {
    throw fail("cannot start the program", err);
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), COMMAND_TIMEOUT_MS);
  try {
    const output = await readBounded(child.stdout, MAX_OUTPUT_BYTES).catch((err) => {
      child.kill("SIGKILL");
      throw err;
    });
    const status = await child.status;
    if (!status.success) {
      throw fail(status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`);
    }
    return new TextDecoder().decode(output);
  } catch (err) {
    if (err instanceof CredentialError) throw err;
    throw fail("output too large or unreadable", err);
  } finally {
    clearTimeout(timer);
  }
}

async function readBounded(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > max) throw new Error(`more than ${max} bytes`);
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function describe(spec: SecretSpec): string {
  if (spec.kind === "env") return `environment variable ${spec.name}`;
  if (spec.kind === "file") return `file ${spec.path}`;
  return `command ${spec.argv[0]}`;
}
