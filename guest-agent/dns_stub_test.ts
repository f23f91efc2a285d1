import assert from "node:assert/strict";
import { answerQuery, serveDnsStub } from "./dns_stub.ts";

Deno.test("dns stub: a real resolver gets the proxy address for any name, nothing for AAAA", async () => {
  const stub = serveDnsStub({ address: "10.0.2.100", port: 0 });
  const port = (stub.addr as Deno.NetAddr).port;
  const nameServer = { ipAddr: "127.0.0.1", port };
  try {
    assert.deepEqual(await Deno.resolveDns("api.example.com", "A", { nameServer }), ["10.0.2.100"]);
    assert.deepEqual(await Deno.resolveDns("Another.Name.test.", "A", { nameServer }), [
      "10.0.2.100",
    ]);
    await assert.rejects(() => Deno.resolveDns("api.example.com", "AAAA", { nameServer }));
  } finally {
    stub.close();
  }
});

Deno.test("dns stub: responses and malformed packets", () => {
  const header = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
  const question = [1, 0x61, 0, 0, 1, 0, 1];
  const reply = answerQuery(new Uint8Array([...header, ...question]), [10, 0, 2, 100])!;
  assert.deepEqual([...reply.subarray(0, 2)], [0x12, 0x34]); // id echoed
  assert.deepEqual(reply[7], 1); // one answer
  assert.deepEqual([...reply.subarray(-4)], [10, 0, 2, 100]);
  // A response, two questions, a truncated name, a compression pointer, an oversized packet.
  const bad = [
    [0x12, 0x34, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...question],
    [0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, ...question],
    [...header, 5, 0x61],
    [...header, 0xc0, 12, 0, 1, 0, 1],
    [...header, ...new Array(600).fill(1)],
    [1, 2, 3],
  ];
  for (const packet of bad) {
    assert.deepEqual(answerQuery(new Uint8Array(packet), [1, 2, 3, 4]), undefined);
  }
});
