import type { RolesUpdate } from "@tokenkeep/pat-protocol";

/** Roles as a set: duplicates dropped, byte-order sorted so equal sets compare equal. */
export function normalizeRoles(roles: readonly string[]): string[] {
  return [...new Set(roles)].sort(compareBytes);
}

/** Applies a roles update to an existing role set. */
export function applyRolesUpdate(current: readonly string[], update: RolesUpdate): string[] {
  if (Array.isArray(update)) return normalizeRoles(update);
  if ("add" in update) return normalizeRoles([...current, ...update.add]);
  const removed = new Set(update.remove);
  return normalizeRoles(current.filter((role) => !removed.has(role)));
}

/** Compares strings by UTF-16 code units, which matches byte order for the characters ids use. */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
