/**
 * The per-session certificate authority of TLS inspection: an ECDSA P-256 CA with a short
 * validity and name constraints, whose private key is a non-extractable WebCrypto key that lives
 * only in this process's memory (unless the user asked to persist it, see `ca_file.ts`). It mints
 * the leaf certificates the proxy presents to the guest.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { CanonicalHost } from "../net/canonical_host.ts";
import { nameConstraintsExtension } from "./name_constraints.ts";
import { TlsError } from "./tls_error.ts";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const HOUR = 3_600_000;
/** Default validity of a session CA and of its leaves. */
export const SESSION_CA_VALIDITY_MS = 24 * HOUR;
/** Backdating of `notBefore`, for a guest clock somewhat behind the host's. */
const BACKDATE_MS = HOUR;

/** Options of {@linkcode SessionCa.create}. */
export interface SessionCaOptions {
  /**
   * DNS subtrees the CA may vouch for (`github.com` covers `api.github.com`); empty or omitted:
   * any DNS name. IP addresses are always excluded.
   */
  permittedDns?: string[];
  /** Validity from now (default {@linkcode SESSION_CA_VALIDITY_MS}). */
  validityMs?: number;
  /** Make the private key exportable — only for a CA the user asked to persist. */
  extractable?: boolean;
}

/** A leaf certificate and its key, in PEM, as `Deno.listenTls` takes them. */
export interface LeafCertificate {
  host: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/**
 * A CA that mints leaf certificates for DNS names it is allowed to vouch for.
 *
 * @example
 * ```ts
 * import { SessionCa } from "./session_ca.ts";
 * import { canonicalHost } from "../net/canonical_host.ts";
 * const ca = await SessionCa.create({ permittedDns: ["github.com"] });
 * const leaf = await ca.mintLeaf(canonicalHost("api.github.com"));
 * const listener = Deno.listenTls({ port: 0, cert: leaf.certPem, key: leaf.keyPem });
 * listener.close();
 * ```
 */
export class SessionCa {
  /** The CA certificate, for the guest's trust store. */
  readonly certPem: string;
  readonly notAfter: Date;
  /** DNS subtrees from the name constraints; empty = any DNS name. */
  readonly permittedDns: readonly string[];
  readonly #cert: x509.X509Certificate;
  readonly #key: CryptoKey;

  private constructor(cert: x509.X509Certificate, key: CryptoKey, permittedDns: string[]) {
    this.#cert = cert;
    this.#key = key;
    this.certPem = cert.toString("pem");
    this.notAfter = cert.notAfter;
    this.permittedDns = permittedDns;
  }

  /**
   * Generate a fresh CA.
   *
   * @example
   * ```ts
   * import { SessionCa } from "./session_ca.ts";
   * const ca = await SessionCa.create();
   * console.log(ca.certPem);
   * ```
   */
  static async create(options: SessionCaOptions = {}): Promise<SessionCa> {
    const permittedDns = [...new Set(options.permittedDns ?? [])].sort();
    const keys = await crypto.subtle.generateKey(ALG, options.extractable ?? false, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const now = Date.now();
    const id = hex(crypto.getRandomValues(new Uint8Array(4)));
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=agentbox session CA ${id}, O=agentbox`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + (options.validityMs ?? SESSION_CA_VALIDITY_MS)),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        nameConstraintsExtension({ permittedDns, excludeAllIps: true }),
      ],
    });
    return new SessionCa(cert, keys.privateKey, permittedDns);
  }

  /**
   * A CA from a certificate and its PKCS#8 private key, both PEM (a persisted CA; see
   * `ca_file.ts`).
   *
   * @example
   * ```ts
   * import { SessionCa } from "./session_ca.ts";
   * const original = await SessionCa.create({ extractable: true });
   * const copy = await SessionCa.fromPem(original.certPem, await original.exportKeyPem());
   * ```
   */
  static async fromPem(certPem: string, keyPem: string): Promise<SessionCa> {
    const cert = new x509.X509Certificate(certPem);
    const der = x509.PemConverter.decode(keyPem)[0];
    if (!der) throw new TlsError("ca_file", "No private key in the CA file");
    const key = await crypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]);
    // A persisted CA outlives any one policy, so it is created without DNS constraints; should
    // a file carry some anyway, clients enforce them (a leaf outside is refused, not trusted).
    return new SessionCa(cert, key, []);
  }

  /** Whether this CA may vouch for `host` (a DNS name inside its name constraints). */
  covers(host: CanonicalHost): boolean {
    if (host.kind !== "dns") return false;
    if (this.permittedDns.length === 0) return true;
    return this.permittedDns.some((p) => host.name === p || host.name.endsWith(`.${p}`));
  }

  /**
   * Mint a leaf for `host`, valid until the CA expires. Throws {@linkcode TlsError}
   * `not_mintable` for an IP literal or a name outside the name constraints, `ca_expired` when
   * the CA is no longer valid.
   */
  async mintLeaf(host: CanonicalHost): Promise<LeafCertificate> {
    if (!this.covers(host)) {
      throw new TlsError("not_mintable", `Cannot mint a certificate for ${host.name}`);
    }
    const now = Date.now();
    if (now >= this.notAfter.getTime()) {
      throw new TlsError("ca_expired", "The inspection CA has expired");
    }
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${host.name}`,
      issuer: this.#cert.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: this.notAfter,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: host.name }]),
        await x509.AuthorityKeyIdentifierExtension.create(this.#cert),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    return {
      host: host.name,
      certPem: cert.toString("pem"),
      keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
      notAfter: this.notAfter,
    };
  }

  /** Whether the private key can be exported (only a CA created for persistence). */
  get extractable(): boolean {
    return this.#key.extractable;
  }

  /** The private key as PKCS#8 PEM; rejects for a session CA (its key is not extractable). */
  async exportKeyPem(): Promise<string> {
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", this.#key);
    return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
  }
}

/** A positive 128-bit serial number in hex. */
function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return hex(bytes);
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
