/**
 * What every tokenkeep client does with a text a server may have built from its request (an error's
 * description, a `WWW-Authenticate` header, an echoed body), the same way in grants and pat-client:
 * each credential the request carried is replaced with `[redacted]`, in clear and in the encodings a
 * request body carries it in.
 */

/** `value` as an `application/x-www-form-urlencoded` body carries it (`+` for a space, `*` kept). */
function formEncoded(value: string): string {
  return new URLSearchParams([["", value]]).toString().slice(1);
}

/**
 * A credential as a server may echo it: as it parsed it, or as it arrived (percent-encoded as
 * `encodeURIComponent` does, or form-url-encoded with `+` for a space), with upper- or lower-case hex.
 * Longest first, so no form is half-replaced by a shorter one.
 */
function echoForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    for (const form of [secret, encodeURIComponent(secret), formEncoded(secret)]) {
      forms.add(form).add(form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
    }
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every occurrence of each of `secrets` replaced by `[redacted]`: in clear, percent-encoded
 * (`encodeURIComponent`) and form-url-encoded (`URLSearchParams`), with hex digits in either case. A
 * PAT or a client secret sent in a form body reaches a server encoded (`+`, `/` and `=` of base64 as
 * `%2B`, `%2F`, `%3D`), and a server or proxy echoing the raw request quotes it that way. Empty
 * strings are ignored.
 *
 * @param text what a server answered (an error's description, a header, a message)
 * @param secrets the credentials the request carried
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const form of echoForms(secrets)) result = result.replaceAll(form, "[redacted]");
  return result;
}
