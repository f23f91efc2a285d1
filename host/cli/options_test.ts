import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { envOption, parseCommandArgs, positiveInt } from "./options.ts";

Deno.test("parseCommandArgs keeps the guest command's flags for the guest", () => {
  const { values, positionals } = parseCommandArgs(
    "exec",
    ["--cpus", "2", "--", "ls", "--cpus", "-l"],
    { cpus: { type: "string" } },
  );
  assert.deepEqual(values.cpus, "2");
  assert.deepEqual(positionals, ["ls", "--cpus", "-l"]);
});

Deno.test("parseCommandArgs turns an unknown flag into a UsageError naming the help", () => {
  assert.throws(
    () => parseCommandArgs("exec", ["--bogus", "--", "true"], {}),
    (error) =>
      error instanceof UsageError && error.message.includes("--bogus") &&
      error.message.includes("agentbox exec --help"),
  );
});

Deno.test("positiveInt accepts whole numbers in range and refuses the rest", () => {
  assert.deepEqual(positiveInt("exec", "cpus", undefined, 2), 2);
  assert.deepEqual(positiveInt("exec", "cpus", "4", 2, 64), 4);
  for (const bad of ["0", "-1", "1.5", "x", "65", ""]) {
    assert.throws(() => positiveInt("exec", "cpus", bad, 2, 64), UsageError, bad);
  }
});

Deno.test("envOption parses K=V, passes K from the host, refuses bad names", () => {
  Deno.env.set("AGENTBOX_TEST_PASSTHROUGH", "from-host");
  assert.deepEqual(
    envOption("exec", ["A=1", "B=x=y", "AGENTBOX_TEST_PASSTHROUGH", "UNSET_VAR_XYZ"]),
    {
      A: "1",
      B: "x=y",
      AGENTBOX_TEST_PASSTHROUGH: "from-host",
    },
  );
  assert.throws(() => envOption("exec", ["1BAD=x"]), UsageError);
  assert.throws(() => envOption("exec", ["=x"]), UsageError);
});
