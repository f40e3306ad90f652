import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { assertionType } from "./clientAssertion.js"
import type { ClientAuth } from "./clientAuth.js"
import type { CredentialSource } from "./credentialSource.js"

/**
 * `private_key_jwt` with an assertion the client did not sign: a pre-made JWT read from its source on every
 * attempt (workload identity federation: a Kubernetes projected service account token, Azure workload
 * identity's `AZURE_FEDERATED_TOKEN_FILE`, a CI OIDC token), sent as `client_assertion` with the JWT bearer
 * assertion type. No secret is sent; the server checks the JWT against the issuer it trusts.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7521#section-4.2
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @internal
 */
export const make = (clientId: string, assertion: CredentialSource): ClientAuth => ({
  method: "private_key_jwt",
  credentials: () =>
    Effect.map(assertion.read, (value) => ({
      form: [["client_id", clientId], ["client_assertion_type", assertionType], [
        "client_assertion",
        Redacted.value(value)
      ]],
      headers: {}
    })),
  rotated: assertion.rotated
})
