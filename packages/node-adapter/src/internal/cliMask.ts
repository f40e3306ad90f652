import { makeScrub, type Scrub } from "@oauth-cc/core/ClientCredentials"
import * as Context from "effect/Context"
import * as Redacted from "effect/Redacted"

/**
 * Everything the CLI prints that a server sent (headers, bodies, error descriptions, log lines) goes through
 * this mask: the client secret in every form core's `makeScrub` knows (raw, encoded, inside Basic
 * credentials), and the secret and every token the CLI was handed (the resource may echo `Authorization:
 * Bearer …`) raw, URL-encoded, JSON-escaped and in base64 / base64url (see `encodedForms`).
 * The one place a token is printed unmasked is where the user asked for it: `oauth-cc token`.
 *
 * @internal
 */
export interface Mask {
  readonly text: (text: string) => string
  /** The same masking over raw bytes (a response body), which may not be UTF-8. */
  readonly bytes: (bytes: Uint8Array) => Uint8Array
  /** Lines of our own (errors, logs) also hide anything shaped like a JWT: a client assertion echoed back. */
  readonly line: (text: string) => string
  readonly addSecret: (secret: Redacted.Redacted<string>, clientId: string) => void
  readonly addToken: (token: Redacted.Redacted<string>) => void
}

/** @internal */
export class CliMask extends Context.Tag("@oauth-cc/node-adapter/CliMask")<CliMask, Mask>() {}

const redacted = "<redacted>"

/** Two or three base64url segments, the first a JSON object (`eyJ` is `{"`): a JWT, or one clipped. */
const jwtShape = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?/g

const replaceAll = (text: string, form: string) => text.split(form).join(redacted)

const jsonHex = (char: string, upper: boolean) => {
  const code = char.charCodeAt(0).toString(16).padStart(4, "0")
  return `\\u${upper ? code.toUpperCase() : code}`
}

/**
 * The ways an encoder writes `value` inside a JSON string: `JSON.stringify`'s, with `/` as `\/` (PHP), with
 * `<`, `>`, `&` (Go), non-alphanumerics (.NET escapes `+`, quotes, HTML characters) or every non-alphanumeric
 * as `\uXXXX`, in lower and upper case hex, and non-ASCII as `\uXXXX` (Python's `ensure_ascii`).
 */
const jsonForms = (value: string): Array<string> => {
  const plain = JSON.stringify(value).slice(1, -1)
  const forms = [plain, plain.replace(/\//g, "\\/")]
  for (const upper of [false, true]) {
    const ascii = plain.replace(/[^\x00-\x7f]/g, (c) => jsonHex(c, upper))
    forms.push(ascii, ascii.replace(/\//g, "\\/"), ascii.replace(/[<>&]/g, (c) => jsonHex(c, upper)))
    forms.push(value.replace(/[^A-Za-z0-9/~.%_-]/g, (c) => jsonHex(c, upper)))
    forms.push(value.replace(/[^A-Za-z0-9]/g, (c) => jsonHex(c, upper)))
  }
  return forms
}

/** Percent-encodings: `encodeURIComponent`'s, the form encoding (`+` for a space), each in lower case hex too. */
const urlForms = (value: string): Array<string> => {
  const forms = [encodeURIComponent(value), new URLSearchParams([["", value]]).toString().slice(1)]
  return [...forms, ...forms.map((form) => form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()))]
}

/**
 * base64 and base64url of `value`, padded and not; and, for each of the three alignments it can have inside
 * a longer base64 text (`Bearer <token>` encoded, say), the characters that encode its bytes alone. Only the
 * one or two characters at either end, which mix in the neighbouring bytes, stay visible.
 */
const base64Forms = (value: string): Array<string> => {
  const bytes = Buffer.from(value, "utf8")
  const forms: Array<string> = []
  for (const prefix of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(prefix), bytes]).toString("base64")
    if (prefix === 0) forms.push(encoded, encoded.replace(/=+$/, ""))
    // Character j holds bits 6j..6j+5; the value's bits are 8·prefix .. 8·(prefix + length).
    const first = Math.ceil((8 * prefix) / 6)
    const end = Math.floor((8 * (prefix + bytes.length)) / 6)
    if (end - first >= 8) forms.push(encoded.slice(first, end))
  }
  return forms.flatMap((form) => [form, form.replace(/\+/g, "-").replace(/\//g, "_")])
}

/**
 * Every form of `value` a server could echo: raw, URL-encoded, JSON-escaped, base64. Longest first, so a
 * form that contains another is masked whole.
 *
 * @internal
 */
export const encodedForms = (value: string): ReadonlyArray<string> => {
  const forms = new Set([value, ...urlForms(value), ...jsonForms(value), ...base64Forms(value)])
  for (const form of [...forms]) if (form.length < 4) forms.delete(form)
  return [...forms].sort((a, b) => b.length - a.length)
}

/** @internal */
export const makeMask = (): Mask => {
  const scrubs: Array<Scrub> = []
  const tokens = new Set<string>()
  /** The encoded forms of every token, longest first. */
  let forms: ReadonlyArray<string> = []
  const addForms = (value: string) => {
    const all = new Set(forms)
    for (const form of encodedForms(value)) {
      all.add(form)
      // The form's UTF-8 bytes as they appear in a body read as latin1.
      const latin1 = Buffer.from(form, "utf8").toString("latin1")
      if (latin1 !== form) all.add(latin1)
    }
    forms = [...all].sort((a, b) => b.length - a.length)
  }
  const text = (input: string): string => {
    let out = input
    for (const scrub of scrubs) out = scrub(out)
    for (const form of forms) out = replaceAll(out, form)
    return out
  }
  return {
    text,
    bytes: (input) => {
      // latin1 maps each byte to one char and back: masking the UTF-8 bytes of a secret works on any body.
      const latin1 = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString("latin1")
      const masked = text(latin1)
      return masked === latin1 ? input : new Uint8Array(Buffer.from(masked, "latin1"))
    },
    line: (input) => text(input).replace(jwtShape, "<redacted jwt>"),
    addSecret: (secret, clientId) => {
      scrubs.push(makeScrub(secret, clientId))
      const raw = Redacted.value(secret)
      // And the encodings core's scrub does not know (JSON escapes, base64 inside a longer text).
      if (raw.length >= 4) addForms(raw)
      const latin1 = Buffer.from(raw, "utf8").toString("latin1")
      // The secret's UTF-8 bytes as they appear in a body read as latin1.
      if (latin1 !== raw) scrubs.push(makeScrub(Redacted.make(latin1), clientId))
    },
    addToken: (token) => {
      const value = Redacted.value(token)
      if (value.length >= 4 && !tokens.has(value)) {
        tokens.add(value)
        addForms(value)
      }
    }
  }
}
