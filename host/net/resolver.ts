/**
 * Name resolution on the host. The proxy takes a {@linkcode Resolver} as an option so tests can
 * answer with any address they like; production uses {@linkcode systemResolver}.
 *
 * @module
 */

import { lookup } from "node:dns/promises";

/** Resolve a canonical DNS name to IP addresses (text form). Rejects when the name is unknown. */
export type Resolver = (name: string) => Promise<string[]>;

/**
 * The host's resolver (`getaddrinfo`, so `/etc/hosts` applies), every A and AAAA answer.
 *
 * @example
 * ```ts
 * import { systemResolver } from "./resolver.ts";
 * const addresses = await systemResolver("registry.npmjs.org");
 * ```
 */
export const systemResolver: Resolver = async (name) => {
  const answers = await lookup(name, { all: true, verbatim: true });
  return answers.map((a) => a.address);
};
