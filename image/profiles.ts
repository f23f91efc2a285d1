/**
 * The image profiles agentbox knows, by name.
 *
 * @module
 */

import { BENCH_PROFILE } from "./bench_profile.ts";
import { DEFAULT_PROFILE } from "./default_profile.ts";
import { DEV_PROFILE } from "./dev_profile.ts";
import { ImageError } from "./errors.ts";
import type { ImageProfile } from "./profile.ts";

/** Every profile, by name. */
export const PROFILES: Readonly<Record<string, ImageProfile>> = {
  default: DEFAULT_PROFILE,
  dev: DEV_PROFILE,
  bench: BENCH_PROFILE,
};

/**
 * The profile `name`, or, when none is given, the one named like the image (`dev` builds the dev
 * profile) and else the default. Throws {@linkcode ImageError} for an unknown profile name.
 *
 * @example
 * ```ts
 * import { profileFor } from "./profiles.ts";
 * profileFor(undefined, "dev").name; // "dev"
 * profileFor(undefined, "mine").name; // "default"
 * ```
 */
export function profileFor(name: string | undefined, image: string): ImageProfile {
  if (name === undefined) return PROFILES[image] ?? DEFAULT_PROFILE;
  const profile = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined;
  if (!profile) {
    throw new ImageError(
      `Unknown image profile "${name}": use one of ${Object.keys(PROFILES).join(", ")}`,
      { kind: "usage", code: "image_profile_unknown" },
    );
  }
  return profile;
}
