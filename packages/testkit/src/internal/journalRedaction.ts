/**
 * What the journal keeps of a request: everything but credentials. A credential can arrive in a form field,
 * in a query string (RFC 6750 §2.3 `?access_token=`, or a client that puts its secret in the URL), or in a
 * header; each is replaced by `<redacted>`, keeping the parameter or the auth scheme visible.
 */

/** Parameters that carry a credential, in a form body or a query string (compared lowercased). @internal */
export const credentialParams: ReadonlySet<string> = new Set([
  "access_token",
  "refresh_token",
  "id_token",
  "client_secret",
  "client_assertion",
  "assertion",
  "subject_token",
  "actor_token",
  "code",
  "code_verifier",
  "password",
  "token",
  "api_key",
  "apikey"
])

const decodeName = (raw: string): string => {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " ")).toLowerCase()
  } catch {
    return raw.toLowerCase()
  }
}

/** @internal */
export const isCredentialParam = (name: string): boolean => credentialParams.has(decodeName(name))

/** The request target with the value of every credential parameter of its query replaced; the rest verbatim. @internal */
export const redactPath = (path: string): string => {
  const mark = path.indexOf("?")
  if (mark < 0) return path
  const pairs = path.slice(mark + 1).split("&").map((pair) => {
    const equals = pair.indexOf("=")
    const name = equals < 0 ? pair : pair.slice(0, equals)
    return isCredentialParam(name) ? `${name}=<redacted>` : pair
  })
  return `${path.slice(0, mark)}?${pairs.join("&")}`
}

/** Headers that carry credentials: for these the value goes, the scheme (`Basic`, `Bearer`, `DPoP`) stays. */
const authorizationHeaders = new Set(["authorization", "proxy-authorization"])
// a DPoP proof can be replayed within its iat window (to the same URL): it is a credential too
const secretHeaders = new Set(["cookie", "x-api-key", "api-key", "x-client-secret", "dpop"])

const redactAuthorization = (value: string): string => {
  const scheme = /^\s*([^\s]+)\s+\S/.exec(value)
  return scheme === null ? "<redacted>" : `${scheme[1]} <redacted>`
}

/** @internal */
export const redactHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      const lower = name.toLowerCase()
      if (authorizationHeaders.has(lower)) return [name, redactAuthorization(value)]
      if (secretHeaders.has(lower)) return [name, "<redacted>"]
      return [name, value]
    })
  )
