/**
 * The host's trust store, and the CAs in it that a guest image lacks: what `--trust-host-ca`
 * (`tls.trust_host_ca`) gives the guest, so HTTPS works through a TLS-intercepting proxy (a
 * corporate one, or this build machine's egress) without inspection.
 *
 * The host's trust store is the bundle the host's OpenSSL reads: `SSL_CERT_FILE` when set, else
 * the first distribution bundle that exists ({@linkcode HOST_BUNDLES}). Its *extra* CAs are those
 * not in the public set the guest images are built from — Debian's ca-certificates (Mozilla's
 * roots), found on a Debian or Ubuntu host at {@linkcode DISTRIBUTION_ROOTS}: in practice the CAs
 * an administrator added (`/usr/local/share/ca-certificates` + `update-ca-certificates`). On a
 * host without that directory every CA of the bundle counts as extra (the guest then learns the
 * host's whole set, public roots included; duplicates are harmless).
 *
 * @module
 */

import { TlsError } from "./tls_error.ts";

/** Distribution bundles, in the order they are looked for: Debian/Ubuntu, Fedora/RHEL, others. */
export const HOST_BUNDLES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
];
/** The public roots Debian's ca-certificates ships (and the guest images' bundle holds). */
export const DISTRIBUTION_ROOTS = "/usr/share/ca-certificates/mozilla";

/** Bounds: a trust store is a few hundred KiB and a few hundred certificates. */
const MAX_BUNDLE_BYTES = 8 * 1024 * 1024;
const MAX_CERTS = 4096;

/** The host's trust store. */
export interface HostTrust {
  /** Where the bundle was read; undefined when none was found. */
  bundlePath?: string;
  /** The whole bundle (PEM; empty when none was found). */
  bundle: string;
  /** Its certificates the guest images lack (PEM, one each, in bundle order, no duplicates). */
  extras: string[];
}

/** Options of {@linkcode hostTrust}: where to look (tests), and the environment. */
export interface HostTrustOptions {
  bundles?: readonly string[];
  distributionRoots?: string;
  env?: (name: string) => string | undefined;
}

/**
 * Read the host's trust store and find its extra CAs. Throws {@linkcode TlsError} `host_trust`
 * when `SSL_CERT_FILE` names a file that cannot be read or the bundle is too large.
 *
 * @example
 * ```ts
 * import { hostTrust } from "./host_trust.ts";
 * const { bundlePath, extras } = await hostTrust();
 * console.log(`${extras.length} extra CA(s) in ${bundlePath}`);
 * ```
 */
export async function hostTrust(options: HostTrustOptions = {}): Promise<HostTrust> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const named = env("SSL_CERT_FILE");
  const candidates = named ? [named] : options.bundles ?? HOST_BUNDLES;
  for (const path of candidates) {
    const bundle = await readBounded(path, !!named);
    if (bundle === undefined) continue;
    const known = await distributionSet(options.distributionRoots ?? DISTRIBUTION_ROOTS);
    const seen = new Set<string>();
    const extras: string[] = [];
    for (const pem of certificates(bundle, path)) {
      const key = derKey(pem);
      if (known.has(key) || seen.has(key)) continue;
      seen.add(key);
      extras.push(pem);
    }
    return { bundlePath: path, bundle, extras };
  }
  return { bundle: "", extras: [] };
}

/** The file's text; undefined when it does not exist (an error if `required`). */
async function readBounded(path: string, required: boolean): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    if (info.size > MAX_BUNDLE_BYTES) {
      throw new TlsError("host_trust", `The host's CA bundle ${path} is over 8 MiB`);
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof TlsError) throw error;
    if (!required && error instanceof Deno.errors.NotFound) return undefined;
    throw new TlsError("host_trust", `Cannot read the host's CA bundle ${path}`, { cause: error });
  }
}

/** The distribution's public roots, by DER (empty when the directory is absent). */
async function distributionSet(dir: string): Promise<Set<string>> {
  const keys = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".crt") || keys.size >= MAX_CERTS) continue;
      const text = await Deno.readTextFile(`${dir}/${entry.name}`).catch(() => "");
      for (const pem of certificates(text, dir)) keys.add(derKey(pem));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return keys;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g;

/** The PEM certificates in `text`, normalised to one block each. */
function certificates(text: string, source: string): string[] {
  const found = text.match(PEM_CERTIFICATE) ?? [];
  if (found.length > MAX_CERTS) {
    throw new TlsError("host_trust", `Over ${MAX_CERTS} certificates in ${source}`);
  }
  return found.map((pem) => {
    const body = derKey(pem).match(/.{1,64}/g)!.join("\n");
    return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`;
  });
}

/** A certificate's identity: its base64 DER without whitespace. */
function derKey(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
}
