/**
 * The guest's user and group databases (`/etc/passwd`, `/etc/group`), parsed from guest-supplied
 * text, and what changed between two of them. Entries with names or fields the export could not
 * use safely are left out (and the file still shows in the `/etc` diff).
 *
 * @module
 */

/** One `/etc/passwd` entry. */
export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** One `/etc/group` entry. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** A user or group name `useradd`/`groupadd` accept on Debian (and the export requires). */
export const ACCOUNT_NAME = /^[a-z_][a-z0-9_-]{0,30}\$?$/;

/** A home directory or shell: an absolute path without control characters or colons. */
// deno-lint-ignore no-control-regex
const ACCOUNT_PATH = /^\/[^\u0000-\u001f\u007f:]{0,1023}$/;

/**
 * Users of a passwd file, by name.
 *
 * @example
 * ```ts
 * import { parsePasswd } from "./user_db.ts";
 * const users = parsePasswd("web:x:999:999:Web:/srv/web:/usr/sbin/nologin\n");
 * console.assert(users.get("web")?.home === "/srv/web");
 * ```
 */
export function parsePasswd(text: string): Map<string, UserEntry> {
  const users = new Map<string, UserEntry>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length !== 7 || !ACCOUNT_NAME.test(f[0])) continue;
    const uid = id(f[2]), gid = id(f[3]);
    if (uid === undefined || gid === undefined) continue;
    if (!ACCOUNT_PATH.test(f[5]) || !ACCOUNT_PATH.test(f[6])) continue;
    // deno-lint-ignore no-control-regex
    const gecos = f[4].replace(/[\u0000-\u001f\u007f]/g, "");
    users.set(f[0], { name: f[0], uid, gid, gecos, home: f[5], shell: f[6] });
  }
  return users;
}

/**
 * Groups of a group file, by name.
 *
 * @example
 * ```ts
 * import { parseGroup } from "./user_db.ts";
 * console.assert(parseGroup("web:x:999:alice,bob\n").get("web")?.members.length === 2);
 * ```
 */
export function parseGroup(text: string): Map<string, GroupEntry> {
  const groups = new Map<string, GroupEntry>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length !== 4 || !ACCOUNT_NAME.test(f[0])) continue;
    const gid = id(f[2]);
    if (gid === undefined) continue;
    const members = f[3] === "" ? [] : f[3].split(",").filter((m) => ACCOUNT_NAME.test(m));
    groups.set(f[0], { name: f[0], gid, members });
  }
  return groups;
}

function id(text: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n < 0xffff_ffff ? n : undefined;
}

/** A group whose member list changed. */
export interface GroupMembership {
  name: string;
  added: string[];
  removed: string[];
}

/** What changed between two user and group databases. */
export interface AccountChanges {
  usersAdded: UserEntry[];
  usersRemoved: UserEntry[];
  groupsAdded: GroupEntry[];
  groupsRemoved: GroupEntry[];
  /** Existing groups that gained or lost members. */
  memberships: GroupMembership[];
}

/**
 * Users and groups added and removed, and membership changes, from `before` to `after`.
 *
 * @example
 * ```ts
 * import { diffAccounts, parseGroup, parsePasswd } from "./user_db.ts";
 * const changes = diffAccounts(
 *   { users: parsePasswd(""), groups: parseGroup("") },
 *   { users: parsePasswd("a:x:1000:1000::/home/a:/bin/sh\n"), groups: parseGroup("a:x:1000:\n") },
 * );
 * console.assert(changes.usersAdded[0].name === "a" && changes.groupsAdded[0].name === "a");
 * ```
 */
export function diffAccounts(
  before: { users: Map<string, UserEntry>; groups: Map<string, GroupEntry> },
  after: { users: Map<string, UserEntry>; groups: Map<string, GroupEntry> },
): AccountChanges {
  const added = <T>(a: Map<string, T>, b: Map<string, T>) =>
    [...b.entries()].filter(([k]) => !a.has(k)).map(([, v]) => v);
  const memberships: GroupMembership[] = [];
  for (const [name, group] of after.groups) {
    const old = before.groups.get(name);
    if (!old) continue;
    const plus = group.members.filter((m) => !old.members.includes(m));
    const minus = old.members.filter((m) => !group.members.includes(m));
    if (plus.length || minus.length) memberships.push({ name, added: plus, removed: minus });
  }
  return {
    usersAdded: added(before.users, after.users),
    usersRemoved: added(after.users, before.users),
    groupsAdded: added(before.groups, after.groups),
    groupsRemoved: added(after.groups, before.groups),
    memberships,
  };
}
