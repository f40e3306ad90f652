import { identity } from "effect/Function"
import * as Redacted from "effect/Redacted"
import { base64Utf8, formEncode } from "./encoding.js"

/**
 * Masks occurrences of the client secret in text the server sent back. Not stripped from the declarations:
 * the `oauth-cc` CLI of `@oauth-cc/node-adapter` masks what it prints with `makeScrub`.
 *
 * @since 0.2.0
 */
export type Scrub = (text: string) => string

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

/** `text`'s base64 forms: padded and not, standard and URL-safe alphabet. */
const base64Forms = (text: string): ReadonlyArray<string> => {
  const padded = base64Utf8(text)
  const unpadded = padded.replace(/=+$/, "")
  const url = unpadded.replace(/\+/g, "-").replace(/\//g, "_")
  return [padded, unpadded, `${url}${padded.slice(unpadded.length)}`, url]
}

const escapeEach = (text: string, escape: (code: number) => string): string =>
  Array.from(text, (char) => /[A-Za-z0-9]/.test(char) ? char : escape(char.codePointAt(0)!)).join("")

/**
 * How servers echo a string back besides verbatim: form-decoded (`+` read as a space), JSON-escaped (with `/`
 * as `\/` as PHP writes it, or every other character as `\uXXXX` as Python and Go may), HTML character references.
 */
const echoForms = (raw: string): ReadonlyArray<string> => {
  const json = JSON.stringify(raw).slice(1, -1)
  return [
    raw.replace(/\+/g, " "),
    json,
    json.replace(/\//g, "\\/"),
    escapeEach(raw, (code) => code > 0xffff ? String.fromCodePoint(code) : `\\u${code.toString(16).padStart(4, "0")}`),
    escapeEach(raw, (code) => `&#x${code.toString(16)};`),
    escapeEach(raw, (code) => `&#${code};`)
  ]
}

/** One regular expression matching any of `forms`, longest first (so a padded form wins over its prefix). */
const alternation = (forms: ReadonlyArray<string>, flags: string): RegExp =>
  new RegExp(
    Array.from(new Set(forms)).sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"),
    flags
  )

/**
 * A scrubber masking, in text that came back from the server, the secret and the Basic credentials that
 * carry it: the secret raw, form-encoded and percent-encoded, form-decoded, JSON-escaped and as HTML character
 * references, in any letter case; base64 of the secret alone
 * and of `id:secret` (both Basic encodings), padded or not, in the standard or the URL-safe alphabet (all
 * decode trivially). Not stripped from the declarations: the `oauth-cc` CLI of `@oauth-cc/node-adapter`
 * uses it.
 *
 * @since 0.2.0
 */
export const makeScrub = (secret: Redacted.Redacted<string> | undefined, clientId: string): Scrub => {
  if (secret === undefined) return identity
  const raw = Redacted.value(secret)
  if (raw.length < 4) return identity
  const textual = alternation([raw, formEncode(raw), encodeURIComponent(raw), ...echoForms(raw)], "gi")
  const encoded = alternation(
    [
      ...base64Forms(`${formEncode(clientId)}:${formEncode(raw)}`),
      ...base64Forms(`${clientId}:${raw}`),
      ...base64Forms(raw)
    ].filter((form) => form.length >= 4),
    "g"
  )
  return (text) => text.replace(encoded, "<redacted>").replace(textual, "<redacted>")
}
