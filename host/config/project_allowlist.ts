/**
 * Add host names to a project's `.agentbox.toml` `network.allow`, keeping the rest of the file —
 * comments, order, formatting — as the user wrote it. Used by `--net learn` and by "allow always"
 * answers to graylist prompts.
 *
 * @module
 */

import { parse } from "smol-toml";
import { lstatIfExists, UnsafePathError, verifyParents } from "../workspace/safe_path.ts";
import { ConfigError } from "./config_error.ts";
import { fileKind, readConfigFile } from "./config_file.ts";
import { keyLine } from "./key_line.ts";
import { parseHostPattern } from "./host_pattern.ts";

/** What {@linkcode addToProjectAllowlist} did. */
export interface AllowlistUpdate {
  file: string;
  /** Names newly added (those already present are left alone). */
  added: string[];
}

/**
 * Add `hosts` to `network.allow` in `<projectDir>/.agentbox.toml`, creating the file or the table
 * when needed. The new text is parsed to prove it holds every name, then replaces the file
 * atomically through a randomly named, exclusively created temporary file; a `.agentbox.toml`
 * that is not a regular file (a symlink, a FIFO) is refused, never written through or read. Throws {@linkcode ConfigError} when the file is invalid or laid out in a way this
 * editor does not handle (it then says what to add by hand).
 *
 * @example
 * ```ts
 * import { addToProjectAllowlist } from "./project_allowlist.ts";
 * const dir = await Deno.makeTempDir();
 * const { added } = await addToProjectAllowlist(dir, ["registry.npmjs.org"]);
 * console.assert(added.length === 1);
 * ```
 */
export async function addToProjectAllowlist(
  projectDir: string,
  hosts: string[],
): Promise<AllowlistUpdate> {
  const file = `${projectDir}/.agentbox.toml`;
  for (const host of hosts) parseHostPattern(host); // Never write what the loader would refuse.
  const before = await checkTarget(projectDir, file);
  const text = before ? await readConfigFile(file) ?? "" : "";
  const existing = allowList(text, file);
  const added = [...new Set(hosts)].filter((h) => !existing.includes(h));
  if (added.length === 0) return { file, added };
  const updated = insertHosts(text, file, added);
  const check = allowList(updated, file);
  if (!added.every((h) => check.includes(h))) {
    throw new ConfigError({ file, key: "network.allow" }, manualHint(added));
  }
  await replaceFile(projectDir, file, updated, before);
  return { file, added };
}

/**
 * What is at `file` now (`null` for nothing), after checking, as apply does, that the project
 * directory is a real directory (not reached through a symlink) and that `file` is a regular file:
 * the sandbox may have made it a symlink to `~/.bashrc`, and a rename would then replace the link
 * while the read before it followed the link.
 */
async function checkTarget(projectDir: string, file: string): Promise<Deno.FileInfo | null> {
  try {
    await verifyParents(projectDir, ".agentbox.toml");
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    throw new ConfigError({ file }, `cannot update: ${error.message}`, { cause: error });
  }
  const info = await lstatIfExists(file);
  if (info && !info.isFile) {
    throw new ConfigError({ file }, `cannot update: it is ${fileKind(info)}, not a regular file`);
  }
  return info;
}

/**
 * Replace `file` with `text`: a temporary file with a random name, created exclusively (a link
 * planted at a predictable name is never followed), given the old file's mode (or the umask's
 * default), fsync'd, then renamed over `file` once it is re-checked to be what was read.
 */
async function replaceFile(
  projectDir: string,
  file: string,
  text: string,
  before: Deno.FileInfo | null,
): Promise<void> {
  const temp = `${projectDir}/.agentbox.toml.${crypto.randomUUID()}.tmp`;
  const handle = await Deno.open(temp, { write: true, createNew: true, mode: 0o666 });
  try {
    try {
      if (before?.mode != null) await Deno.chmod(temp, before.mode & 0o777);
      const bytes = new TextEncoder().encode(text);
      for (let done = 0; done < bytes.length;) done += await handle.write(bytes.subarray(done));
      await handle.sync();
    } finally {
      handle.close();
    }
    const now = await checkTarget(projectDir, file);
    if (now?.ino !== before?.ino || now?.dev !== before?.dev) {
      throw new ConfigError({ file }, "changed while it was being updated: try again");
    }
    await Deno.rename(temp, file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

function allowList(text: string, file: string): string[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError({ file }, (err as Error).message.split("\n")[0], { cause: err });
  }
  const network = doc.network as Record<string, unknown> | undefined;
  const allow = network?.allow;
  return Array.isArray(allow) ? allow.filter((v): v is string => typeof v === "string") : [];
}

function insertHosts(text: string, file: string, hosts: string[]): string {
  const quoted = hosts.map((h) => JSON.stringify(h));
  const lines = text.split("\n");
  const allowAt = keyLine(text, "network.allow");
  if (allowAt !== undefined) {
    const edited = appendToArray(lines.slice(allowAt - 1).join("\n"), quoted);
    if (edited === undefined) {
      throw new ConfigError({ file, line: allowAt, key: "network.allow" }, manualHint(hosts));
    }
    return [...lines.slice(0, allowAt - 1), edited].join("\n");
  }
  const tableAt = lines.findIndex((l) => /^\s*\[\s*network\s*\]\s*(#.*)?$/.test(l));
  if (tableAt !== -1) {
    lines.splice(tableAt + 1, 0, `allow = [${quoted.join(", ")}]`);
    return lines.join("\n");
  }
  if (keyLine(text, "network") !== undefined) {
    throw new ConfigError({ file, key: "network" }, manualHint(hosts));
  }
  const separator = text === "" || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
  return `${text}${separator}[network]\nallow = [${quoted.join(", ")}]\n`;
}

/**
 * Insert `items` before the `]` closing the array that starts after the first `=` of `text`,
 * skipping strings and comments. `undefined` when no array is found there.
 */
function appendToArray(text: string, items: string[]): string | undefined {
  let i = text.indexOf("=") + 1;
  while (i > 0 && i < text.length && /\s/.test(text[i])) i++;
  if (i <= 0 || text[i] !== "[") return undefined;
  let depth = 0;
  let lastSignificant = "";
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      i = skipString(text, i);
      lastSignificant = c;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "[") {
      depth++;
      lastSignificant = c;
    } else if (c === "]" && --depth === 0) {
      const comma = lastSignificant === "[" || lastSignificant === "," ? "" : ", ";
      return `${text.slice(0, i)}${comma}${items.join(", ")}${text.slice(i)}`;
    } else if (!/\s/.test(c)) {
      lastSignificant = c;
    }
  }
  return undefined;
}

function skipString(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (quote === '"' && text[i] === "\\") i++;
    else if (text[i] === quote) return i;
  }
  return text.length;
}

function manualHint(hosts: string[]): string {
  return `cannot add to network.allow automatically; add ${
    hosts.map((h) => JSON.stringify(h)).join(", ")
  } to it by hand`;
}
