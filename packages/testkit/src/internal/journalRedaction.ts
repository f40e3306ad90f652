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

/**
 * A parameter name as servers that accept it read it: percent- and `+`-decoded, trimmed, any case, without the
 * `[]` / `[0]` / `[key]` suffixes PHP, Rails and qs-style parsers strip (`access_token[]` is `access_token`).
 */
const normalizeName = (raw: string): string => {
  let name: string
  try {
    name = decodeURIComponent(raw.replace(/\+/g, " "))
  } catch {
    name = raw
  }
  return name.trim().toLowerCase().replace(/(\[[^\]]*\])+$/, "").trim()
}

/** @internal */
export const isCredentialParam = (name: string): boolean => credentialParams.has(normalizeName(name))

/**
 * `name=value` pairs separated by `&` or `;` (some servers split on both), each credential's value replaced;
 * the separators and everything else verbatim.
 *
 * @internal
 */
export const redactPairs = (text: string): string =>
  text.split(/([&;])/).map((pair, i) => {
    if (i % 2 === 1) return pair
    const equals = pair.indexOf("=")
    const name = equals < 0 ? pair : pair.slice(0, equals)
    return isCredentialParam(name) ? `${name}=<redacted>` : pair
  }).join("")

/** The request target with the value of every credential parameter of its query replaced; the rest verbatim. @internal */
export const redactPath = (path: string): string => {
  const mark = path.indexOf("?")
  return mark < 0 ? path : `${path.slice(0, mark)}?${redactPairs(path.slice(mark + 1))}`
}

/**
 * A parsed form field, as the journal keeps it: the value of a credential goes; another field's value keeps
 * what it says but for `;name=value` pairs of credentials inside it (`keep=1;client_secret=…` parses as one
 * `keep` field to `URLSearchParams`, while a server splitting on `;` reads a `client_secret`).
 *
 * @internal
 */
export const redactFormValue = (name: string, value: string): string =>
  isCredentialParam(name) ? "<redacted>" : value.includes(";") ? redactPairs(value) : value

/** Headers that carry credentials: for these the value goes, the scheme (`Basic`, `Bearer`, `DPoP`) stays. */
const authorizationHeaders = new Set(["authorization", "proxy-authorization", "authentication"])
// a DPoP proof can be replayed within its iat window (to the same URL): it is a credential too
const secretHeaders = new Set(["cookie", "x-api-key", "api-key", "x-client-secret", "dpop", "private-token"])
/** Any other header whose name says it carries one: `x-access-token`, `x-auth-token`, `x-amz-security-token`… */
const secretHeaderName = /token|secret|passw|api-?key|auth|cookie|credential|session|assertion/

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
      if (secretHeaders.has(lower) || secretHeaderName.test(lower)) return [name, "<redacted>"]
      return [name, value]
    })
  )
