/**
 * Test data, not part of the SDK's API: strings that would break, or take over, a command built
 * by pasting them into shell text. The quoting tests run them through a real `/bin/sh` on the host
 * (quote_test.ts) and in a guest (tests/e2e/sdk_ts_test.ts).
 *
 * @module
 */

/** Strings a caller might interpolate that would break, or take over, a naively built command. */
export const HOSTILE = [
  "it's",
  "'",
  "''",
  "'\\''",
  "$(touch /tmp/pwned)",
  "`touch /tmp/pwned`",
  "${HOME}",
  "$HOME",
  "a\nb",
  "; rm -rf /tmp/pwned",
  "&& echo owned",
  "| cat",
  "\\",
  '"',
  " ",
  "",
  "--",
  "-n",
  "*",
  "~",
  "#comment",
  "\t\r",
  "é☃🦕",
  "\x1b[31m",
];
