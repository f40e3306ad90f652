import * as Effect from "effect/Effect"
import type { ClientAuth } from "./clientAuth.js"

/**
 * `tls_client_auth`: mutual TLS; the form names the client, no secret is sent. The certificate is the
 * `HttpClient`'s.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1
 * @internal
 */
export const make = (clientId: string): ClientAuth => {
  const credentials = Effect.succeed({ form: [["client_id", clientId]] as const, headers: {} })
  return { method: "tls_client_auth", credentials: () => credentials }
}
