/**
 * `agentbox doctor`: check everything agentbox needs on this host and say how to fix what is
 * missing. Exit status 0 when exec can work, 1 otherwise.
 *
 * @module
 */

import { type Check, runChecks } from "../api/doctor.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox doctor`. */
export const DOCTOR_HELP =
  `Check that this host can run agentbox, and say how to fix what is missing.

Usage: agentbox doctor [--json] [--fix]

Options:
  --json      print the checks as JSON
  --fix       remove what crashed sessions left behind (tap devices, nftables tables)
  -h, --help  show this help`;

/** Run `agentbox doctor ARGS`. */
export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs("doctor", args, {
    json: { type: "boolean" },
    fix: { type: "boolean" },
  });
  if (values.help) {
    console.log(DOCTOR_HELP);
    return 0;
  }
  const checks = await runChecks({ fix: values.fix === true });
  if (values.json) console.log(JSON.stringify(checks, null, 2));
  else for (const check of checks) console.log(formatCheck(check));
  return checks.every((c) => c.ok || !c.required) ? 0 : 1;
}

function formatCheck(check: Check): string {
  const mark = check.ok ? "ok  " : check.required ? "FAIL" : "warn";
  const fix = check.ok || !check.fix ? "" : `\n      fix: ${check.fix}`;
  return `[${mark}] ${check.name}: ${check.detail}${fix}`;
}
