import { isTokenId, TOKEN_ID_LENGTH } from "@tokenkeep/pat-protocol";

/**
 * The token id inside something that looks like a whole PAT (`<prefix><21-character id>.<secret>`):
 * the 21 letters and digits just before the first dot. `undefined` when `text` has no dot.
 */
export function tokenIdOfPat(text: string): string | undefined {
  const dot = text.indexOf(".");
  if (dot < 0) return undefined;
  const candidate = text.slice(Math.max(0, dot - TOKEN_ID_LENGTH), dot);
  return /^[A-Za-z0-9]+$/.test(candidate) && candidate.length === TOKEN_ID_LENGTH ? candidate : undefined;
}

/**
 * Why `value`, given where a token id belongs, must not be sent: a whole PAT (its secret would end
 * up in the URL, in every proxy's access log). The message never repeats the value, only the id
 * found in it. `undefined` when the value may be sent.
 */
export function patInsteadOfTokenId(value: string, command: string): string | undefined {
  if (!value.includes(".")) return undefined;
  const id = tokenIdOfPat(value);
  const hint = id ? `; its token id is ${id}: \`tokenkeep-pat ${command} ${id}\`` : "";
  return `<tokenId> looks like a whole personal access token, not a token id; nothing was sent (a token id is the ${TOKEN_ID_LENGTH} characters between the prefix and the dot${hint})`;
}

/**
 * Why `value`, given where a token id belongs (`name`: `<tokenId>`, `--after`), must not be sent:
 * a whole PAT (see {@link patInsteadOfTokenId}: only when it has a dot), or anything else that is not
 * 21 characters of `A-Za-z0-9`. The message says what is wrong with the value, never the value itself
 * (it may be part of a secret). `undefined` for a token id.
 */
export function tokenIdProblem(value: string, command: string, name = "<tokenId>"): string | undefined {
  if (isTokenId(value)) return undefined;
  const pasted = patInsteadOfTokenId(value, command);
  if (pasted) return name === "<tokenId>" ? pasted : pasted.replace("<tokenId>", name);
  const length = [...value].length;
  const outside = /[^A-Za-z0-9]/.test(value) ? ", some of them not letters or digits" : "";
  return `${name}: expected a token id, ${TOKEN_ID_LENGTH} characters of A-Za-z0-9 (got ${length} character${length === 1 ? "" : "s"}${outside}); nothing was sent`;
}
