import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { applyGlobalOptions, output, useColor } from "./output_settings.ts";

const terminal = { isTerminal: () => true };
const pipe = { isTerminal: () => false };

Deno.test("useColor: auto colours a terminal unless NO_COLOR is set; always and never obey", () => {
  const saved = Deno.env.get("NO_COLOR");
  try {
    Deno.env.delete("NO_COLOR");
    assert.equal(useColor(terminal, { color: "auto" }), true);
    assert.equal(useColor(pipe, { color: "auto" }), false);
    Deno.env.set("NO_COLOR", "1");
    assert.equal(useColor(terminal, { color: "auto" }), false);
    assert.equal(useColor(pipe, { color: "always" }), true);
    // no-color.org: an empty NO_COLOR does not count.
    Deno.env.set("NO_COLOR", "");
    assert.equal(useColor(terminal, { color: "auto" }), true);
    assert.equal(useColor(terminal, { color: "never" }), false);
  } finally {
    if (saved === undefined) Deno.env.delete("NO_COLOR");
    else Deno.env.set("NO_COLOR", saved);
  }
});

Deno.test("applyGlobalOptions: records the settings, refuses a bad --color and -v with -q", () => {
  const saved = { ...output };
  try {
    applyGlobalOptions({ color: "never" });
    assert.equal(output.color, "never");
    assert.throws(() => applyGlobalOptions({ color: "blue" }), UsageError);
    applyGlobalOptions({ quiet: true });
    assert.throws(() => applyGlobalOptions({ verbose: true }), UsageError);
  } finally {
    Object.assign(output, saved);
  }
});
