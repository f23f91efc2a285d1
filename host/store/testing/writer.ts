// Test helper: writes request rows to a database and prints each id once it is committed.
// Usage: writer.ts DB SESSION COUNT (COUNT 0 = until killed)
import { openDatabase } from "../database.ts";
import { beginRequest, finishRequest } from "../requests.ts";
import { createSession } from "../sessions.ts";

const [path, session, count] = Deno.args;
const db = openDatabase(path);
createSession(db, { id: session });
const out = new TextEncoder();
for (let i = 0; Number(count) === 0 || i < Number(count); i++) {
  const id = beginRequest(db, {
    session,
    method: "CONNECT",
    scheme: "https",
    host: `h${i % 7}.test`,
    port: 443,
    decision: "allow",
    rule: "test",
  });
  finishRequest(db, id, { status: 200, bytesUp: i, bytesDown: 2 * i, durationMs: 1 });
  Deno.stdout.writeSync(out.encode(`${id}\n`));
}
db.close();
