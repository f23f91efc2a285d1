/**
 * The completion scripts as the shells run them: each parses (`bash -n`, `zsh -n`, `fish -n`), and
 * bash and fish, asked to complete real command lines, offer what the help documents.
 */
import assert from "node:assert/strict";
import { COMMANDS, main } from "../main.ts";
import { commandTree } from "./command_tree.ts";
import { completionScript, type Shell } from "./completion.ts";
import { SANDBOX_OPTIONS } from "./sandbox_options.ts";

const cli = { commands: COMMANDS, run: main };

function has(shell: string): boolean {
  try {
    return new Deno.Command(shell, { args: ["-c", "true"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function run(shell: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(shell, { args, stdout: "piped", stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${shell} ${args.join(" ")}: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

async function scriptFile(shell: Shell): Promise<string> {
  const file = await Deno.makeTempFile({ prefix: `agentbox-completion-${shell}-` });
  await Deno.writeTextFile(file, await completionScript(shell, cli));
  return file;
}

for (const shell of ["bash", "zsh", "fish"] as const) {
  Deno.test({
    name: `completion ${shell}: the script parses`,
    ignore: !has(shell),
    async fn() {
      const file = await scriptFile(shell);
      await run(shell, ["-n", file]);
      await Deno.remove(file);
    },
  });
}

/** What bash's completion offers for `line` (the last word is the one being completed). */
async function bashComplete(file: string, line: string): Promise<string[]> {
  const words = line.split(" ");
  const script = `source ${file}; COMP_WORDS=(${
    words.map((w) => `'${w}'`).join(" ")
  }); COMP_CWORD=${words.length - 1}; _agentbox; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return (await run("bash", ["-c", script])).split("\n").filter(Boolean);
}

Deno.test({
  name: "completion bash: commands, subcommands, options and their values",
  ignore: !has("bash"),
  async fn() {
    const file = await scriptFile("bash");
    assert.deepEqual(await bashComplete(file, "agentbox ex"), ["exec", "export"]);
    assert.deepEqual(await bashComplete(file, "agentbox images "), [
      "build",
      "list",
      "rm",
      "-h",
      "--help",
      "-v",
      "--verbose",
      "-q",
      "--quiet",
      "--color",
    ]);
    assert.deepEqual(await bashComplete(file, "agentbox images build --pro"), ["--profile"]);
    assert.deepEqual(await bashComplete(file, "agentbox images build --profile d"), [
      "default",
      "dev",
    ]);
    assert.deepEqual(await bashComplete(file, "agentbox --color=never exec --net o"), ["open"]);
    assert.deepEqual(await bashComplete(file, "agentbox exec --image default --env-f"), [
      "--env-file",
    ]);
    assert.deepEqual(await bashComplete(file, "agentbox -q help ima"), ["images"]);
    assert.deepEqual(await bashComplete(file, "agentbox completion f"), ["fish"]);
    // After `--` it is the guest's command line: nothing of agentbox's.
    assert.deepEqual(await bashComplete(file, "agentbox exec -- ls --"), []);
    await Deno.remove(file);
  },
});

Deno.test({
  name: "completion fish: subcommands and options with descriptions",
  ignore: !has("fish"),
  async fn() {
    const file = await scriptFile("fish");
    const complete = async (line: string) =>
      (await run("fish", ["-c", `source ${file}; complete -C '${line}'`])).trim().split("\n");
    const subs = await complete("agentbox images ");
    assert.deepEqual(subs.map((l) => l.split("\t")[0]).sort(), ["build", "list", "rm"]);
    const options = await complete("agentbox exec --env-");
    assert.deepEqual(options.map((l) => l.split("\t")[0]), ["--env-file"]);
    assert.match(options[0], /\tread NAME=VALUE lines/);
    assert.deepEqual((await complete("agentbox ps --color ")).map((l) => l.split("\t")[0]), [
      "always",
      "auto",
      "never",
    ]);
    await Deno.remove(file);
  },
});

Deno.test("command tree: exec and run's help lists every option their parser takes", async () => {
  const tree = await commandTree(cli);
  for (const name of ["exec", "run"]) {
    const node = tree.commands.find((c) => c.path[0] === name)!;
    const listed = new Set(node.options.map((o) => o.long));
    for (const option of Object.keys(SANDBOX_OPTIONS)) {
      assert.ok(listed.has(option), `${name} --help does not list --${option}`);
    }
    for (const [long, short] of [["env", "e"], ["workdir", "w"], ["user", "u"], ["tty", "t"]]) {
      assert.equal(node.options.find((o) => o.long === long)?.short, short, `${name} -${short}`);
    }
  }
  assert.equal(
    tree.commands.find((c) => c.path[0] === "run")!.options.find((o) => o.long === "detach")
      ?.short,
    "d",
  );
});
