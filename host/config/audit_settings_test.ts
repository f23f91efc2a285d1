import assert from "node:assert/strict";
import { loadAuditSettings, syslogAddress } from "./audit_settings.ts";
import { ConfigError } from "./config_error.ts";

async function withConfig(text: string, run: (file: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.toml`, text);
    await run(`${dir}/config.toml`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("[audit]: every sink read, with its defaults", async () => {
  await withConfig(
    `[audit]
queue = 64
[audit.file]
path = "/var/log/agentbox/audit.jsonl"
max_size = "1 MiB"
max_files = 3
[audit.syslog]
address = "tcp://[::1]:601"
facility = "auth"
[audit.otlp]
endpoint = "http://127.0.0.1:4318"
headers = { authorization = "Bearer x" }
`,
    async (file) => {
      assert.deepEqual(await loadAuditSettings({ userFile: file }), {
        queue: 64,
        file: { path: "/var/log/agentbox/audit.jsonl", maxBytes: 1024 * 1024, maxFiles: 3 },
        syslog: { target: { transport: "tcp", hostname: "::1", port: 601 }, facility: "auth" },
        otlp: { endpoint: "http://127.0.0.1:4318", headers: { authorization: "Bearer x" } },
      });
    },
  );
  await withConfig("[audit.syslog]\n", async (file) => {
    assert.deepEqual((await loadAuditSettings({ userFile: file })).syslog, {
      target: { transport: "unix", path: "/dev/log" },
      facility: "local0",
    });
  });
  assert.deepEqual(await loadAuditSettings({ userFile: "/nonexistent/config.toml" }), {
    queue: 1024,
  });
});

Deno.test("[audit]: a bad value is one error naming file, line and key", async () => {
  const cases: [string, RegExp][] = [
    [
      '[audit.file]\npath = "audit.jsonl"\n',
      /line 2, key audit\.file\.path: must be an absolute path/,
    ],
    [
      '[audit.file]\npath = "/a"\nmax_files = 0\n',
      /key audit\.file\.max_files: must be a whole number from 1/,
    ],
    [
      '[audit.file]\npath = "/a"\nmax_size = 10\n',
      /key audit\.file\.max_size: must be at least 4 KiB/,
    ],
    ['[audit.syslog]\naddress = "/dev/log"\n', /key audit\.syslog\.address: must be "unix:\/PATH"/],
    ['[audit.syslog]\naddress = "http://h:1"\n', /key audit\.syslog\.address/],
    ['[audit.syslog]\naddress = "udp://h"\n', /key audit\.syslog\.address/],
    ['[audit.syslog]\nfacility = "mail2"\n', /key audit\.syslog\.facility: must be one of kern/],
    ['[audit.otlp]\nendpoint = "ftp://x"\n', /key audit\.otlp\.endpoint: must be an http\(s\) URL/],
    [
      '[audit.otlp]\nendpoint = "http://x"\nheaders = { "a b" = "c" }\n',
      /audit\.otlp\.headers\.a b/,
    ],
    [
      "[audit]\nqueu = 3\n",
      /line 2, key audit\.queu: unknown key \(known: queue, file, syslog, otlp\)/,
    ],
  ];
  for (const [text, message] of cases) {
    await withConfig(text, async (file) => {
      const error = await loadAuditSettings({ userFile: file }).then(() => null, (e) => e);
      assert.ok(error instanceof ConfigError, text);
      assert.match(error.message, message);
      assert.ok(error.message.includes(file), error.message);
    });
  }
});

Deno.test("[audit] in a project's .agentbox.toml is refused: the sandbox must not redirect its trail", async () => {
  await withConfig("", async (_file, dir) => {
    await Deno.writeTextFile(`${dir}/.agentbox.toml`, '\n[audit.file]\npath = "/tmp/x"\n');
    await assert.rejects(
      loadAuditSettings({ userFile: null, projectDir: dir }),
      /\.agentbox\.toml line 2, key audit: allowed in the user's config\.toml only/,
    );
  });
});

Deno.test("syslog addresses: unix, udp and tcp with names or IP literals", () => {
  const at = { file: "c.toml", key: "k" };
  assert.deepEqual(syslogAddress("unix:/run/systemd/journal/syslog", at), {
    transport: "unix",
    path: "/run/systemd/journal/syslog",
  });
  assert.deepEqual(syslogAddress("udp://logs.example:514", at), {
    transport: "udp",
    hostname: "logs.example",
    port: 514,
  });
  assert.throws(() => syslogAddress("unix:relative", at), ConfigError);
  assert.throws(() => syslogAddress("tcp://h:1/path", at), ConfigError);
});
