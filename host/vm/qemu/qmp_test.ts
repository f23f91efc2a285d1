import assert from "node:assert/strict";
import { delay } from "../../delay.ts";
import { QmpClient, QmpError } from "./qmp.ts";

/** A monitor that greets, accepts `qmp_capabilities` and answers `query-status`. */
function serveMonitor(path: string): Deno.UnixListener {
  const listener = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const conn of listener) {
      const send = (value: unknown) =>
        conn.write(new TextEncoder().encode(JSON.stringify(value) + "\n"));
      await send({ QMP: { version: {}, capabilities: [] } });
      const buffer = new Uint8Array(4096);
      for (let n; (n = await conn.read(buffer).catch(() => null)) !== null;) {
        for (const line of new TextDecoder().decode(buffer.subarray(0, n)).trim().split("\n")) {
          const { execute } = JSON.parse(line);
          await send({ return: execute === "query-status" ? { status: "running" } : {} });
        }
      }
    }
  })().catch(() => {});
  return listener;
}

Deno.test("QmpClient.connect waits for a monitor socket that QEMU has not made yet", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/qmp.sock`;
  const late = delay(150).then(() => serveMonitor(path));
  const qmp = await QmpClient.connect(path, { waitMs: 5000 });
  assert.deepEqual(await qmp.execute("query-status"), { status: "running" });
  qmp.close();
  (await late).close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("QmpClient.connect gives up with a QmpError when no monitor appears", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(
    () => QmpClient.connect(`${dir}/qmp.sock`, { waitMs: 100 }),
    (error) =>
      error instanceof QmpError && /Cannot connect to the QEMU monitor/.test(error.message),
  );
  await Deno.remove(dir, { recursive: true });
});
