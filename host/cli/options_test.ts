import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { output } from "./output_settings.ts";
import { envOption, envOptions, parseCommandArgs, positiveInt } from "./options.ts";

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

/** The message of the UsageError `fn` throws. */
function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return error.message;
  }
  throw new Error("no error thrown");
}

/** One line, with every quote and backtick paired. */
function assertBalanced(message: string) {
  assert.ok(!message.includes("\n"), message);
  for (const mark of ['"', "`"]) {
    assert.equal(message.split(mark).length % 2, 1, `unpaired ${mark} in: ${message}`);
  }
}

const EXEC_SPEC = {
  image: { type: "string" },
  timeout: { type: "string" },
  env: { type: "string", multiple: true, short: "e" },
  "env-file": { type: "string", multiple: true },
  workdir: { type: "string", short: "w" },
  json: { type: "boolean" },
} as const;

Deno.test("parseCommandArgs: an unknown option names the closest one", () => {
  const message = usageMessage(() =>
    parseCommandArgs("exec", ["--imag", "x", "--", "true"], EXEC_SPEC)
  );
  assert.equal(
    message,
    "Unknown option --imag (did you mean --image?): see `agentbox exec --help`",
  );
  assertBalanced(message);
  const far = usageMessage(() => parseCommandArgs("exec", ["--zzzzzz", "--", "true"], EXEC_SPEC));
  assert.ok(!far.includes("did you mean"), far);
  assertBalanced(far);
  // Prototype names are not options.
  assert.match(
    usageMessage(() => parseCommandArgs("exec", ["--constructor"], EXEC_SPEC)),
    /^Unknown option --constructor/,
  );
});

Deno.test("parseCommandArgs: an option after the guest command explains the missing --", () => {
  const message = usageMessage(() =>
    parseCommandArgs("exec", ["-e", "A=1", "ls", "-la"], EXEC_SPEC, { guestCommand: true })
  );
  assert.equal(
    message,
    "-la comes after the command ls, so agentbox took it for one of its own options: " +
      "put -- before the command: `agentbox exec -e A=1 -- ls -la`",
  );
  assertBalanced(message);
  // Words that need quoting are quoted in the suggestion.
  const quoted = usageMessage(() =>
    parseCommandArgs("exec", ["sh", "-c", "echo it's"], EXEC_SPEC, { guestCommand: true })
  );
  assert.ok(quoted.endsWith("`agentbox exec -- sh -c 'echo it'\\''s'`"), quoted);
  // Without guestCommand (images rm a -h), options may follow positionals.
  assert.equal(parseCommandArgs("images rm", ["a", "-h"], {}).values.help, true);
  // With --, the guest's flags are its own.
  assert.deepEqual(
    parseCommandArgs("exec", ["--", "ls", "-la"], EXEC_SPEC, { guestCommand: true }).positionals,
    ["ls", "-la"],
  );
});

Deno.test("parseCommandArgs: short flags, grouped or not, and values that start with -", () => {
  const saved = { ...output };
  try {
    const { values } = parseCommandArgs(
      "exec",
      ["-e", "A=1", "-eB=2", "-w", "/tmp", "--timeout", "-1", "-hq"],
      EXEC_SPEC,
    );
    assert.deepEqual(values.env, ["A=1", "B=2"]);
    assert.equal(values.workdir, "/tmp");
    // Taken as the value, so that the range check can say what is wrong with it.
    assert.equal(values.timeout, "-1");
    assert.equal(values.help, true);
    assert.equal(values.quiet, true);
    parseCommandArgs("ps", ["-q", "--color", "never"], {});
    assert.deepEqual([output.quiet, output.color], [true, "never"]);
    assert.throws(() => parseCommandArgs("ps", ["-v"], {}), /--verbose and --quiet/);
  } finally {
    Object.assign(output, saved);
  }
});

Deno.test("parseCommandArgs: a missing value, a value given to a flag, docker's -v", () => {
  assert.equal(
    usageMessage(() => parseCommandArgs("exec", ["--image"], EXEC_SPEC)),
    "--image needs a value: see `agentbox exec --help`",
  );
  assert.equal(
    usageMessage(() => parseCommandArgs("exec", ["-e"], EXEC_SPEC)),
    "-e/--env needs a value: see `agentbox exec --help`",
  );
  assert.equal(
    usageMessage(() => parseCommandArgs("exec", ["--json=yes"], EXEC_SPEC)),
    "--json takes no value: see `agentbox exec --help`",
  );
  const volume = usageMessage(() =>
    parseCommandArgs("run", ["-v", "/src:/app", "--", "ls"], EXEC_SPEC, { guestCommand: true })
  );
  assert.match(volume, /^-v is --verbose in agentbox, not a docker volume: share a directory/);
  assertBalanced(volume);
  for (const color of ["sometimes", ""]) {
    assertBalanced(usageMessage(() => parseCommandArgs("ps", [`--color=${color}`], {})));
  }
});

Deno.test("envOptions: --env-file lines as docker reads them, -e wins", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/env`;
  Deno.env.set("AGENTBOX_TEST_FROM_HOST", "host value");
  await Deno.writeTextFile(
    file,
    '# a comment\n\nA=1\nB="quoted stays"\r\n  C=x=y\nAGENTBOX_TEST_FROM_HOST\nUNSET_VAR_XYZ\n',
  );
  assert.deepEqual(envOptions("exec", { "env-file": [file], env: ["A=2"] }), {
    A: "2",
    B: '"quoted stays"',
    C: "x=y",
    AGENTBOX_TEST_FROM_HOST: "host value",
  });
  await Deno.writeTextFile(file, "OK=1\n1BAD=x\n");
  const bad = usageMessage(() => envOptions("exec", { "env-file": [file] }));
  assert.equal(bad, `${file}:2: "1BAD=x" is not NAME=VALUE: see \`agentbox exec --help\``);
  const missing = usageMessage(() => envOptions("exec", { "env-file": [`${dir}/nope`] }));
  assert.match(missing, /^--env-file ".*\/nope" cannot be read \(NotFound\)/);
  assertBalanced(missing);
  await Deno.remove(dir, { recursive: true });
});
