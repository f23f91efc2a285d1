/**
 * Quoting for `/bin/sh`: the `sh` tagged template puts every interpolated value into the command
 * as literal words, whatever characters it has.
 *
 * @module
 */

/** A value the `sh` template can interpolate: a word, or several (an array). */
export type ShellValue = string | number | bigint | readonly (string | number | bigint)[];

/**
 * `value` as one `/bin/sh` word that means exactly `value`: in single quotes, each `'` written
 * `'\''`. Throws a TypeError for a NUL character, which no command-line argument can hold.
 *
 * @example
 * ```ts
 * import { quote } from "./quote.ts";
 * console.assert(quote("it's") === `'it'\\''s'`);
 * console.assert(quote("") === "''");
 * ```
 */
export function quote(value: string | number | bigint): string {
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "bigint") {
    throw new TypeError(`sh: cannot interpolate a ${value === null ? "null" : typeof value}`);
  }
  const text = String(value);
  if (text.includes("\0")) throw new TypeError("sh: an argument cannot contain a NUL character");
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command a `sh` template makes: the literal parts as written, each interpolated value
 * quoted (an array becomes one word per element, an empty array none).
 *
 * @example
 * ```ts
 * import { shellCommand } from "./quote.ts";
 * const dir = "my dir; rm -rf /";
 * console.assert(shellCommand`ls ${dir}` === `ls 'my dir; rm -rf /'`);
 * console.assert(shellCommand`rm ${["a b", "c"]}` === `rm 'a b' 'c'`);
 * ```
 */
export function shellCommand(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let command = strings[0];
  values.forEach((value, i) => {
    command += Array.isArray(value)
      ? value.map((v) => quote(v)).join(" ")
      : quote(value as string | number | bigint);
    command += strings[i + 1];
  });
  return command;
}
