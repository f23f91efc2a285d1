/**
 * What a session or snapshot name may look like: a letter, then letters, digits, `_`, `.` or
 * `-`, at most 63 characters. Such a name never reads as an option or a path.
 *
 * @module
 */

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

/** The rule, as said to the user after a bad name. */
export const NAME_RULE = `use a letter, then letters, digits, "_", "." or "-" (at most 63)`;

/**
 * Whether `name` is a valid session or snapshot name.
 *
 * @example
 * ```ts
 * import { isValidName } from "./names.ts";
 * console.assert(isValidName("web-1") && !isValidName("../etc") && !isValidName("-rf"));
 * ```
 */
export function isValidName(name: string): boolean {
  return NAME.test(name);
}
