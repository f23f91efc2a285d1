/**
 * Query strings go to the request log, and some APIs take secrets there (Gemini's `?key=`,
 * signed URLs' `signature`, OAuth `access_token`). The log keeps the parameter names and drops
 * the values of those that commonly carry credentials.
 *
 * @module
 */

const SECRET_NAMES =
  /^(key|api[-_]?key|apikey|access[-_]?token|refresh[-_]?token|id[-_]?token|token|auth|authorization|password|passwd|secret|client[-_]?secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|code)$/i;

/**
 * `search` (with its leading `?`, or empty) with credential-like values replaced by `REDACTED`.
 *
 * @example
 * ```ts
 * import { redactQuery } from "./redact_query.ts";
 * console.assert(redactQuery("?alt=sse&key=AIza123") === "?alt=sse&key=REDACTED");
 * ```
 */
export function redactQuery(search: string): string {
  if (search === "" || search === "?") return search;
  const parts = search.slice(1).split("&").map((part) => {
    const eq = part.indexOf("=");
    const name = eq === -1 ? part : part.slice(0, eq);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name.replaceAll("+", " "));
    } catch {
      // A malformed escape: judge the raw name.
    }
    return eq !== -1 && SECRET_NAMES.test(decoded) ? `${name}=REDACTED` : part;
  });
  return `?${parts.join("&")}`;
}
