/**
 * A persisted inspection CA, for users who asked for one (`inspect.ca_file` in the user config):
 * certificate and private key in one PEM file, mode 0600. Without it the CA's key never leaves
 * the process's memory.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { SessionCa } from "./session_ca.ts";
import { TlsError } from "./tls_error.ts";

/** Validity of a CA created for persistence. */
export const PERSISTED_CA_VALIDITY_MS = 30 * 24 * 3_600_000;
/** A persisted CA this close to expiry is replaced. */
const RENEW_BEFORE_MS = 24 * 3_600_000;

/**
 * Load the CA from `path`, or create one (exportable key, no DNS name constraints since it
 * outlives any one policy, valid 30 days) and write it there with mode 0600. An expired or
 * nearly expired CA is replaced. Throws {@linkcode TlsError} `ca_file` when the file is readable
 * by group or others, or unusable.
 *
 * @example
 * ```ts
 * import { loadOrCreateCaFile } from "./ca_file.ts";
 * const ca = await loadOrCreateCaFile(`${Deno.env.get("HOME")}/.local/state/agentbox/ca.pem`);
 * ```
 */
export async function loadOrCreateCaFile(path: string): Promise<SessionCa> {
  let text: string | undefined;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new TlsError("ca_file", `CA file ${path} is readable by others; chmod 600 it`);
    }
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      if (err instanceof TlsError) throw err;
      throw new TlsError("ca_file", `Cannot read CA file ${path}`, { cause: err });
    }
  }
  if (text !== undefined) {
    const ca = await parse(text, path);
    if (ca.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS) return ca;
  }
  const ca = await SessionCa.create({ extractable: true, validityMs: PERSISTED_CA_VALIDITY_MS });
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, `${ca.certPem}\n${await ca.exportKeyPem()}\n`, {
    mode: 0o600,
    createNew: true,
  });
  await Deno.rename(tmp, path);
  return ca;
}

async function parse(text: string, path: string): Promise<SessionCa> {
  try {
    const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
    const cert = blocks.find((b) => b.startsWith(`-----BEGIN ${x509.PemConverter.CertificateTag}`));
    const key = blocks.find((b) => b.startsWith("-----BEGIN PRIVATE KEY"));
    if (!cert || !key) throw new Error("needs a CERTIFICATE and a PRIVATE KEY block");
    return await SessionCa.fromPem(cert, key);
  } catch (cause) {
    throw new TlsError("ca_file", `Cannot use CA file ${path}`, { cause });
  }
}
