// Test helper: scan the overlay given as UPPER LOWER MERGED and print the entries as JSON.
import { scanOverlay } from "../scan_overlay.ts";

const [upper, lower, merged] = Deno.args;
const entries = [];
for await (const entry of scanOverlay({ upper, lower, merged })) entries.push(entry);
console.log(JSON.stringify(entries));
