/**
 * `exec.start`'s `user`: find the user in the guest's `/etc/passwd`, so the command can be spawned
 * with its uid and gid and its login environment.
 *
 * @module
 */

import { ProtocolError } from "@agentbox/protocol";

/** The guest's user database. */
export const PASSWD_PATH = "/etc/passwd";

/** A user a command runs as. */
export interface GuestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * The `/etc/passwd` entry of `name`, read from `passwd` (default {@linkcode PASSWD_PATH}). Throws
 * `spawn_failed` when there is no such user.
 *
 * @example
 * ```ts
 * import { lookupUser } from "./exec_user.ts";
 * const agent = lookupUser("agent"); // { name: "agent", uid: 1000, gid: 1000, home: "/home/agent" }
 * ```
 */
export function lookupUser(name: string, passwd = PASSWD_PATH): GuestUser {
  let text: string;
  try {
    text = Deno.readTextFileSync(passwd);
  } catch (cause) {
    throw new ProtocolError("spawn_failed", `Cannot run as ${name}: cannot read ${passwd}`, {
      cause,
    });
  }
  const user = parsePasswd(text).find((entry) => entry.name === name);
  if (!user) throw new ProtocolError("spawn_failed", `Cannot run as ${name}: no such user`);
  return user;
}

/**
 * The well-formed entries of a passwd file (`name:x:uid:gid:gecos:home:shell`); others are skipped.
 *
 * @example
 * ```ts
 * import { parsePasswd } from "./exec_user.ts";
 * const [root] = parsePasswd("root:x:0:0:root:/root:/bin/sh\n");
 * console.assert(root.uid === 0 && root.home === "/root");
 * ```
 */
export function parsePasswd(text: string): GuestUser[] {
  const users: GuestUser[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields.length < 7 || fields[0] === "") continue;
    const [name, , uid, gid, , home] = fields;
    if (!/^\d{1,10}$/.test(uid) || !/^\d{1,10}$/.test(gid)) continue;
    users.push({ name, uid: Number(uid), gid: Number(gid), home: home || "/" });
  }
  return users;
}

/**
 * The login variables of `user`: `HOME`, `USER`, `LOGNAME`.
 *
 * @example
 * ```ts
 * import { userEnv } from "./exec_user.ts";
 * userEnv({ name: "agent", uid: 1000, gid: 1000, home: "/home/agent" }).HOME; // "/home/agent"
 * ```
 */
export function userEnv(user: GuestUser): Record<string, string> {
  return { HOME: user.home, USER: user.name, LOGNAME: user.name };
}
