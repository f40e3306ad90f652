import { makeScrub, type Scrub } from "@oauth-cc/core/ClientCredentials"
import * as Context from "effect/Context"
import * as Redacted from "effect/Redacted"

/**
 * Everything the CLI prints that a server sent (headers, bodies, error descriptions, log lines) goes through
 * this mask: the client secret in every form core's `makeScrub` knows (raw, encoded, inside Basic
 * credentials), and every token the CLI was handed (the resource may echo `Authorization: Bearer …`).
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

/** @internal */
export const makeMask = (): Mask => {
  const scrubs: Array<Scrub> = []
  const tokens = new Set<string>()
  const text = (input: string): string => {
    let out = input
    for (const scrub of scrubs) out = scrub(out)
    for (const token of tokens) out = replaceAll(out, token)
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
      const latin1 = Buffer.from(raw, "utf8").toString("latin1")
      // The secret's UTF-8 bytes as they appear in a body read as latin1.
      if (latin1 !== raw) scrubs.push(makeScrub(Redacted.make(latin1), clientId))
    },
    addToken: (token) => {
      const value = Redacted.value(token)
      if (value.length >= 4) {
        tokens.add(value)
        const latin1 = Buffer.from(value, "utf8").toString("latin1")
        if (latin1 !== value) tokens.add(latin1)
      }
    }
  }
}
