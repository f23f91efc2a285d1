import assert from "node:assert/strict";
import { ProtocolError } from "./errors.ts";
import {
  FORWARDABLE_SIGNALS,
  MAX_STOP_GRACE_MS,
  MAX_TERMINAL_SIZE,
  type Message,
  parseMessage,
} from "./messages.ts";
import { EXAMPLES } from "./testing/mod.ts";

function isCode(code: string) {
  return (e: unknown) => e instanceof ProtocolError && e.code === code;
}

Deno.test("parseMessage accepts one valid example of every message type", () => {
  for (const example of EXAMPLES) {
    const parsed = parseMessage(structuredClone(example));
    const expected = { ...example } as Record<string, unknown>;
    // Optional fields come back as explicit undefined.
    for (const key of Object.keys(parsed)) if (!(key in expected)) expected[key] = undefined;
    assert.deepEqual(parsed, expected, example.type);
  }
});

Deno.test("parseMessage drops unknown keys", () => {
  const msg = parseMessage({ type: "stream.end", stream: 3, fd: 1, future: { x: 1 } });
  assert.deepEqual(msg, { type: "stream.end", stream: 3, fd: 1 });
});

Deno.test("parseMessage fills defaults for optional exec.start fields", () => {
  const msg = parseMessage({ type: "exec.start", stream: 1, argv: ["true"], stdin: false });
  assert.deepEqual(msg, {
    type: "exec.start",
    stream: 1,
    argv: ["true"],
    env: {},
    cwd: undefined,
    stdin: false,
    timeoutMs: undefined,
    pty: undefined,
    user: undefined,
  });
});

Deno.test("parseMessage validates exec.start's user", () => {
  const start = (user: unknown) => ({
    type: "exec.start",
    stream: 1,
    argv: ["id"],
    stdin: false,
    user,
  });
  const ok = parseMessage(start("agent"));
  assert.ok(ok.type === "exec.start" && ok.user === "agent");
  for (
    const user of ["", "Agent", "0", "1000", "../root", "a b", "a:b", "x".repeat(33), 1000, null]
  ) {
    assert.throws(() => parseMessage(start(user)), isCode("bad_message"), JSON.stringify(user));
  }
});

Deno.test("parseMessage refuses unknown message types with unknown_type", () => {
  for (
    const type of [
      "exec.stop",
      "",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      1,
      null,
      undefined,
      ["hello"],
      { hello: 1 },
      10n,
    ]
  ) {
    assert.throws(() => parseMessage({ type, stream: 1 }), isCode("unknown_type"), String(type));
  }
});

Deno.test("parseMessage refuses values that are not maps with bad_message", () => {
  for (const value of [null, undefined, 1, "hello", true, [], [{ type: "hello" }]]) {
    assert.throws(() => parseMessage(value), isCode("bad_message"), JSON.stringify(value));
  }
});

Deno.test("parseMessage refuses bad field types with bad_message", () => {
  const base = (type: Message["type"]) => structuredClone(EXAMPLES.find((e) => e.type === type)!);
  const cases: [Message["type"], string, unknown][] = [
    ["hello", "version", "1"],
    ["hello", "version", -1],
    ["hello", "version", 1.5],
    ["hello", "role", "guest"],
    ["hello", "capabilities", "exec"],
    ["hello", "capabilities", [1]],
    ["hello", "capabilities", new Array(5000).fill("x")],
    ["hello", "software", undefined],
    ["hello", "software", "x".repeat(64 * 1024 + 1)],
    ["hello", "time", -1],
    ["hello", "time", "now"],
    ["hello", "time", 2 ** 53],
    ["hello", "entropy", "random"],
    ["hello", "entropy", new Uint8Array(65)],
    ["exec.start", "stream", -1],
    ["exec.start", "stream", 2 ** 32],
    ["exec.start", "stream", Number.NaN],
    ["exec.start", "stream", Infinity],
    ["exec.start", "stream", "1"],
    ["exec.start", "stream", 10n],
    ["exec.start", "argv", []],
    ["exec.start", "argv", ["a", null]],
    ["exec.start", "argv", "sh"],
    ["exec.start", "env", ["A=1"]],
    ["exec.start", "env", null],
    ["exec.start", "env", { A: 1 }],
    ["exec.start", "env", { "A=B": "1" }],
    ["exec.start", "env", { "": "1" }],
    ["exec.start", "env", { "A\0": "1" }],
    ["exec.start", "cwd", 5],
    ["exec.start", "stdin", "yes"],
    ["exec.start", "stdin", undefined],
    ["exec.start", "timeoutMs", -5],
    ["exec.start", "timeoutMs", "5"],
    ["exec.started", "pid", -1],
    ["stream.data", "fd", 3],
    ["stream.data", "fd", -1],
    ["stream.data", "data", "text"],
    ["stream.data", "data", [1, 2]],
    ["stream.data", "data", new Uint16Array(2)],
    ["stream.end", "fd", "1"],
    ["stream.credit", "bytes", -1],
    ["stream.credit", "bytes", 0.5],
    ["exec.signal", "signal", "SIGSEGV"],
    ["exec.signal", "signal", "INT"],
    ["exec.signal", "signal", 2],
    ["exec.resize", "rows", 0],
    ["exec.resize", "rows", MAX_TERMINAL_SIZE + 1],
    ["exec.resize", "cols", -1],
    ["exec.resize", "cols", 80.5],
    ["exec.resize", "cols", undefined],
    ["exec.exit", "code", 256],
    ["exec.exit", "code", -1],
    ["exec.exit", "code", "0"],
    ["exec.exit", "code", undefined],
    ["exec.exit", "signal", "sigterm"],
    ["exec.exit", "signal", 15],
    ["exec.exit", "timedOut", 0],
    ["error", "code", 1],
    ["error", "message", undefined],
    ["error", "stream", "1"],
    ["files.read", "path", "relative/path"],
    ["files.read", "path", "/with\0nul"],
    ["files.read", "path", "/" + "a".repeat(4095)],
    ["files.read", "path", undefined],
    ["files.write", "user", "Root; rm"],
    ["files.write", "path", 7],
    ["files.done", "entries", -1],
    ["port.open", "port", 0],
    ["port.open", "port", 65536],
    ["port.open", "port", "80"],
    ["session.forward", "guestPort", 0],
    ["session.forward", "hostname", "localhost"],
    ["session.forward", "hostname", "1.2.3.4; rm"],
    ["session.forward", "hostPort", 70000],
    ["session.forward.done", "hostname", "evil\nhost"],
    ["session.forward.done", "hostPort", 0],
  ];
  for (const [type, key, value] of cases) {
    const msg = base(type) as unknown as Record<string, unknown>;
    if (value === undefined) delete msg[key];
    else msg[key] = value;
    assert.throws(
      () => parseMessage(msg),
      isCode("bad_message"),
      `${type}.${key} = ${String(value).slice(0, 40)}`,
    );
  }
});

Deno.test("parseMessage accepts every forwardable signal and refuses the rest", () => {
  for (const signal of FORWARDABLE_SIGNALS) {
    assert.equal(parseMessage({ type: "exec.signal", stream: 1, signal }).type, "exec.signal");
  }
  assert.throws(
    () => parseMessage({ type: "exec.signal", stream: 1, signal: "SIGSYS" }),
    isCode("bad_message"),
  );
});

Deno.test("parseMessage maps an unknown error code to internal and bounds the text", () => {
  const msg = parseMessage({ type: "error", code: "new_code", message: "x".repeat(5000) });
  assert.equal(msg.type, "error");
  if (msg.type !== "error") return;
  assert.equal(msg.code, "internal");
  assert.equal(msg.message.length, 1024);
});

Deno.test("parseMessage reads only own fields: inherited values do not count", () => {
  const inherited = Object.create({ stream: 1, fd: 1 });
  inherited.type = "stream.end";
  assert.throws(() => parseMessage(inherited), isCode("bad_message"));

  // A `__proto__` own key (as JSON.parse or a CBOR map makes) is just an unknown key.
  const proto = JSON.parse('{"type":"stream.end","__proto__":{"stream":1,"fd":1}}');
  assert.throws(() => parseMessage(proto), isCode("bad_message"));
  const ok = parseMessage(JSON.parse('{"type":"stream.end","stream":2,"fd":1,"__proto__":{}}'));
  assert.deepEqual(ok, { type: "stream.end", stream: 2, fd: 1 });
  assert.equal(Object.getPrototypeOf(ok), Object.prototype);
});

Deno.test("parseMessage does not let env keys touch prototypes", () => {
  const value = JSON.parse(
    '{"type":"exec.start","stream":1,"argv":["x"],"stdin":false,' +
      '"env":{"__proto__":"evil","constructor":"c","A":"1"}}',
  );
  const msg = parseMessage(value);
  assert.equal(msg.type, "exec.start");
  if (msg.type !== "exec.start") return;
  assert.equal(Object.getPrototypeOf(msg.env), Object.prototype);
  assert.equal(msg.env.A, "1");
  assert.equal(Object.hasOwn(msg.env, "constructor"), true);
  assert.equal(({} as Record<string, unknown>).evil, undefined);
});

Deno.test("parseMessage validates exec.start's pty and ignores its unknown keys", () => {
  const start = (pty: unknown) => ({
    type: "exec.start",
    stream: 1,
    argv: ["sh"],
    stdin: true,
    pty,
  });
  const ok = parseMessage(start({ rows: 24, cols: 80, term: "xterm-256color", pixels: 1 }));
  assert.equal(ok.type, "exec.start");
  if (ok.type !== "exec.start") return;
  assert.deepEqual(ok.pty, { rows: 24, cols: 80, term: "xterm-256color" });
  const bad = [
    null,
    [24, 80],
    "xterm",
    { rows: 24, cols: 80 },
    { rows: 0, cols: 80, term: "xterm" },
    { rows: 24, cols: MAX_TERMINAL_SIZE + 1, term: "xterm" },
    { rows: 24, cols: 80, term: "" },
    { rows: 24, cols: 80, term: "x".repeat(65) },
    { rows: 24, cols: 80, term: "xterm\u001b[2J" },
    { rows: 24, cols: 80, term: "../../etc/passwd" },
    { rows: 24, cols: 80, term: "a b" },
  ];
  for (const pty of bad) {
    assert.throws(() => parseMessage(start(pty)), isCode("bad_message"), JSON.stringify(pty));
  }
});

Deno.test("parseMessage keeps a host hello's time and entropy", () => {
  const entropy = new Uint8Array(32).fill(7);
  const msg = parseMessage({
    type: "hello",
    version: 1,
    role: "host",
    capabilities: [],
    software: "agentbox/test",
    time: 1_800_000_000_000,
    entropy,
  });
  assert.deepEqual(msg, {
    type: "hello",
    version: 1,
    role: "host",
    capabilities: [],
    software: "agentbox/test",
    time: 1_800_000_000_000,
    entropy,
  });
});

Deno.test("parseMessage validates session.attach's size and session.stop's grace", () => {
  const bad = [
    { type: "session.attach", stream: 1, readOnly: "no" },
    { type: "session.attach", stream: 1, readOnly: false, rows: 30 },
    { type: "session.attach", stream: 1, readOnly: false, rows: 0, cols: 80 },
    { type: "session.attach", stream: 1, readOnly: false, rows: 30, cols: MAX_TERMINAL_SIZE + 1 },
    { type: "session.stop", stream: 1 },
    { type: "session.stop", stream: 1, graceMs: -1 },
    { type: "session.stop", stream: 1, graceMs: MAX_STOP_GRACE_MS + 1 },
  ];
  for (const value of bad) {
    assert.throws(
      () => parseMessage(value),
      (e) => e instanceof ProtocolError && e.code === "bad_message",
      JSON.stringify(value),
    );
  }
});
