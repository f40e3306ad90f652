import type * as ClientAssertion from "../ClientAssertion.js"
import { assertionAuth } from "./clientAssertion.js"
import type { ClientAuth } from "./clientAuth.js"
import type { PrivateKey } from "./privateKey.js"

/**
 * `private_key_jwt`: an assertion signed with the client's private key.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 * @internal
 */
export const make = (
  clientId: string,
  assertion: {
    readonly key: PrivateKey
    readonly alg: ClientAssertion.Algorithm
    readonly kid: string | undefined
    readonly header: Readonly<Record<string, string>>
    readonly lifetimeSeconds: number
    readonly audience: string | undefined
  }
): ClientAuth => assertionAuth("private_key_jwt", clientId, assertion, assertion.audience)
