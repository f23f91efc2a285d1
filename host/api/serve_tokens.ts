/**
 * The bearer tokens of `agentbox serve`: named secrets in one file of the user's config directory
 * (`serve-tokens.json`, mode 0600, written whole through a private temporary file). A token's
 * name is who a client is: it is recorded with every decision made through the API.
 *
 * @module
 */

import { z } from "zod";
import { AgentboxError, UsageError } from "../agentbox_error.ts";
import { configDir } from "../paths.ts";
import { isValidName, NAME_RULE } from "../session/names.ts";

/** The token every client uses unless more are made (`agentbox serve token --name N`). */
export const DEFAULT_TOKEN_NAME = "default";

const TOKEN_FILE_SCHEMA = z.strictObject({
  version: z.literal(1),
  tokens: z.array(z.strictObject({
    name: z.string().refine(isValidName, NAME_RULE),
    token: z.string().regex(/^abx_[A-Za-z0-9_-]{43}$/, "is not an agentbox token"),
    createdAt: z.number().int(),
  })).max(256),
});

type TokenFile = z.infer<typeof TOKEN_FILE_SCHEMA>;

/** One stored token. */
export type ServeToken = TokenFile["tokens"][number];

/** Where the tokens live: `<config>/serve-tokens.json`. */
export function tokenFilePath(): string {
  return `${configDir()}/serve-tokens.json`;
}

/**
 * The stored tokens; none when the file does not exist. Throws `AgentboxError`
 * `token_file_invalid` (kind `usage`) when it is not a private, valid token file.
 *
 * @example
 * ```ts ignore
 * import { readTokens } from "./serve_tokens.ts";
 * console.log((await readTokens()).map((t) => t.name));
 * ```
 */
export async function readTokens(path = tokenFilePath()): Promise<ServeToken[]> {
  let text: string;
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile || (info.mode ?? 0) & 0o077 || info.uid !== Deno.uid()) {
      throw invalid(path, "it must be a file of yours that only you can read (chmod 600)");
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid(path, "it is not JSON");
  }
  const parsed = TOKEN_FILE_SCHEMA.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(path, `${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data.tokens;
}

/**
 * The token named `name`, made and stored when there is none (or always, with `rotate`: the old
 * secret stops working).
 *
 * @example
 * ```ts ignore
 * import { ensureToken } from "./serve_tokens.ts";
 * console.log((await ensureToken("default")).token);
 * ```
 */
export async function ensureToken(
  name = DEFAULT_TOKEN_NAME,
  options: { rotate?: boolean; path?: string } = {},
): Promise<ServeToken> {
  if (!isValidName(name)) {
    throw new UsageError(`Token name ${JSON.stringify(name)}: ${NAME_RULE}`, {
      code: "token_name_invalid",
    });
  }
  const path = options.path ?? tokenFilePath();
  const tokens = await readTokens(path);
  const existing = tokens.find((t) => t.name === name);
  if (existing && !options.rotate) return existing;
  const made: ServeToken = { name, token: newSecret(), createdAt: Date.now() };
  await writeTokens(path, [...tokens.filter((t) => t.name !== name), made]);
  return made;
}

/**
 * Remove the token named `name`; false when there was none.
 *
 * @example
 * ```ts ignore
 * import { revokeToken } from "./serve_tokens.ts";
 * await revokeToken("ci");
 * ```
 */
export async function revokeToken(name: string, path = tokenFilePath()): Promise<boolean> {
  const tokens = await readTokens(path);
  const kept = tokens.filter((t) => t.name !== name);
  if (kept.length === tokens.length) return false;
  await writeTokens(path, kept);
  return true;
}

/**
 * The name of the token whose secret is `secret`, compared in constant time; undefined if none.
 *
 * @example
 * ```ts
 * import { tokenName } from "./serve_tokens.ts";
 * const tokens = [{ name: "ci", token: "abx_" + "a".repeat(43), createdAt: 0 }];
 * console.assert(tokenName(tokens, "abx_" + "a".repeat(43)) === "ci");
 * console.assert(tokenName(tokens, "wrong") === undefined);
 * ```
 */
export function tokenName(tokens: readonly ServeToken[], secret: string): string | undefined {
  const given = new TextEncoder().encode(secret);
  let found: string | undefined;
  for (const token of tokens) {
    const stored = new TextEncoder().encode(token.token);
    let diff = stored.length ^ given.length;
    for (let i = 0; i < stored.length; i++) diff |= stored[i] ^ (given[i] ?? 0);
    if (diff === 0) found = token.name;
  }
  return found;
}

function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `abx_${base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")}`;
}

async function writeTokens(path: string, tokens: ServeToken[]): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = await Deno.makeTempFile({ dir, prefix: ".serve-tokens-" });
  try {
    await Deno.chmod(temp, 0o600);
    const file: TokenFile = { version: 1, tokens };
    await Deno.writeTextFile(temp, JSON.stringify(file, null, 2) + "\n");
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

function invalid(path: string, reason: string): AgentboxError {
  return new UsageError(`Cannot use the token file ${path}: ${reason}`, {
    code: "token_file_invalid",
  });
}
