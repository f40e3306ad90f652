import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Redacted from "effect/Redacted"
import type { ClientAuth } from "./clientAuth.js"
import type { CredentialSource } from "./credentialSource.js"
import { base64Utf8, formEncode } from "./encoding.js"

/**
 * The `Authorization` value of HTTP Basic: id and secret form-urlencoded before they are joined (RFC 6749
 * §2.3.1, Appendix B), or joined `raw` for servers that do not decode them.
 *
 * @internal
 */
export const basicCredentials = (id: string, secret: string, encoding: "form" | "raw"): string => {
  const encode = encoding === "form" ? formEncode : identity<string>
  return `Basic ${base64Utf8(`${encode(id)}:${encode(secret)}`)}`
}

/**
 * `client_secret_basic`: the id and secret in an `Authorization: Basic` header; the secret read from its source
 * on every attempt.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @internal
 */
export const make = (
  clientId: string,
  secret: CredentialSource,
  encoding: "form" | "raw"
): ClientAuth => ({
  method: "client_secret_basic",
  credentials: () =>
    Effect.map(secret.read, (value) => ({
      form: [],
      headers: { authorization: basicCredentials(clientId, Redacted.value(value), encoding) }
    })),
  rotated: secret.rotated
})
