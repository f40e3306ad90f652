import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type * as ClientCredentials from "../ClientCredentials.js"

/** @internal */
export const authMethods: ReadonlyArray<ClientCredentials.AuthMethod> = [
  "client_secret_basic",
  "client_secret_post",
  "tls_client_auth"
]

/** @internal */
export const splitList = (input: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  input === undefined ? [] : typeof input === "string" ? input.split(/\s+/).filter((s) => s.length > 0) : input

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]", "::1"])

/** @internal */
export const isLoopback = (url: URL): boolean =>
  loopbackHosts.has(url.hostname) || url.hostname.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(url.hostname)

const invalid = (path: string, message: string) => Either.left(ConfigError.InvalidData([path], message))

/** @internal */
export const validateUrl = (
  path: string,
  input: string | URL,
  allowInsecureHttp: boolean
): Either.Either<URL, ConfigError.ConfigError> => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return invalid(path, "is not a valid absolute URL")
  }
  if (url.username !== "" || url.password !== "") {
    return invalid(path, "must not carry credentials; use clientId and clientSecret")
  }
  if (url.hash !== "") return invalid(path, "must not have a fragment")
  if (url.protocol === "https:") return Either.right(url)
  if (url.protocol === "http:") {
    return isLoopback(url) || allowInsecureHttp
      ? Either.right(url)
      : invalid(path, `must use https (http is allowed only on loopback): ${url.host}`)
  }
  return invalid(path, `must use https, not ${url.protocol}`)
}

/** @internal */
export const validate = (
  options: ClientCredentials.Options
): Either.Either<ClientCredentials.Options, ConfigError.ConfigError> => {
  const url = validateUrl("tokenUrl", options.tokenUrl, options.allowInsecureHttp === true)
  if (Either.isLeft(url)) return Either.left(url.left)
  if (options.clientId.trim().length === 0) return invalid("clientId", "must not be empty")
  const method = options.authMethod ?? "client_secret_basic"
  if (!authMethods.includes(method)) return invalid("authMethod", `must be one of ${authMethods.join(", ")}`)
  if (method.startsWith("client_secret_") && options.clientSecret === undefined) {
    return invalid("clientSecret", `is required by ${method}`)
  }
  for (const scope of splitList(options.scope)) {
    if (!scopeToken.test(scope)) return invalid("scope", "contains a character RFC 6749 §3.3 does not allow")
  }
  for (const resource of splitList(options.resource)) {
    try {
      if (new URL(resource).hash !== "") return invalid("resource", "must not have a fragment (RFC 8707)")
    } catch {
      return invalid("resource", "must be an absolute URI (RFC 8707)")
    }
  }
  if (options.refreshAhead !== undefined && !(options.refreshAhead > 0 && options.refreshAhead <= 1)) {
    return invalid("refreshAhead", "must be in (0, 1]")
  }
  if (options.maxCachedKeys !== undefined && !(Number.isInteger(options.maxCachedKeys) && options.maxCachedKeys > 0)) {
    return invalid("maxCachedKeys", "must be a positive integer")
  }
  const attempts = options.retry?.maxAttempts
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
    return invalid("retry.maxAttempts", "must be an integer ≥ 1")
  }
  return Either.right(options)
}

const optionalList = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.map((o) => o._tag === "Some" ? splitList(o.value) : undefined)
  )

const optional = <A>(config: Config.Config<A>) =>
  Config.option(config).pipe(Config.map((o) => o._tag === "Some" ? o.value : undefined))

/** @internal */
export const config = (
  prefix = "OAUTH",
  overrides: Partial<ClientCredentials.Options> = {}
): Config.Config<ClientCredentials.Options> => {
  const fields = Config.all({
    tokenUrl: Config.string("TOKEN_URL"),
    clientId: Config.string("CLIENT_ID"),
    clientSecret: optional(Config.redacted("CLIENT_SECRET")) as Config.Config<Redacted.Redacted<string> | undefined>,
    scope: optionalList("SCOPE"),
    audience: optional(Config.string("AUDIENCE")),
    resource: optionalList("RESOURCE"),
    authMethod: optional(Config.literal(...authMethods)("AUTH_METHOD"))
  })
  return (prefix === "" ? fields : Config.nested(fields, prefix)).pipe(
    Config.mapOrFail((env) => {
      const options: ClientCredentials.Options = { ...overrides, ...dropUndefined(env) } as ClientCredentials.Options
      return Either.mapLeft(
        validate(options),
        (error) => prefix === "" ? error : ConfigError.prefixed(error, [prefix])
      )
    })
  )
}

const dropUndefined = <A extends object>(a: A): Partial<A> =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Partial<A>

/** @internal */
export interface Resolved {
  readonly tokenUrl: URL
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | undefined
  readonly authMethod: ClientCredentials.AuthMethod
  readonly basicEncoding: "form" | "raw"
  readonly scope: ReadonlyArray<string>
  readonly audience: string | undefined
  readonly resource: ReadonlyArray<string>
  readonly extraParams: Readonly<Record<string, string>>
  readonly refreshSkewMillis: number
  readonly refreshAhead: number
  readonly defaultExpiresInMillis: number
  readonly assumeBearer: boolean
  readonly requestTimeoutMillis: number
  readonly failureCooldownMillis: number
  readonly maxCachedKeys: number
  readonly maxResponseBytes: number
  readonly retry: {
    readonly baseDelayMillis: number
    readonly factor: number
    readonly maxDelayMillis: number
    readonly maxAttempts: number
    readonly maxElapsedMillis: number
    readonly maxRetryAfterMillis: number
    readonly jitter: boolean
  }
}

const millis = (input: Duration.DurationInput | undefined, fallback: Duration.DurationInput): number =>
  Duration.toMillis(Duration.decode(input ?? fallback))

/**
 * Validates and fills in defaults. Options given in code that do not validate are a programming
 * error: this throws the `ConfigError`'s message (`layerConfig` reports it as a `ConfigError` instead).
 *
 * @internal
 */
export const resolve = (options: ClientCredentials.Options): Resolved => {
  const valid = validate(options)
  if (Either.isLeft(valid)) throw new Error(`invalid ClientCredentials options: ${String(valid.left)}`)
  const retry = options.retry ?? {}
  return {
    tokenUrl: new URL(options.tokenUrl),
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    authMethod: options.authMethod ?? "client_secret_basic",
    basicEncoding: options.basicEncoding ?? "form",
    scope: normalizeList(splitList(options.scope)),
    audience: options.audience,
    resource: normalizeList(splitList(options.resource)),
    extraParams: options.extraParams ?? {},
    refreshSkewMillis: millis(options.refreshSkew, "60 seconds"),
    refreshAhead: options.refreshAhead ?? 0.8,
    defaultExpiresInMillis: millis(options.defaultExpiresIn, "5 minutes"),
    assumeBearer: options.assumeBearer ?? false,
    requestTimeoutMillis: millis(options.requestTimeout, "10 seconds"),
    failureCooldownMillis: millis(options.failureCooldown, "1 second"),
    maxCachedKeys: options.maxCachedKeys ?? 1000,
    maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
    retry: {
      baseDelayMillis: millis(retry.baseDelay, "200 millis"),
      factor: retry.factor ?? 2,
      maxDelayMillis: millis(retry.maxDelay, "10 seconds"),
      maxAttempts: retry.maxAttempts ?? 5,
      maxElapsedMillis: millis(retry.maxElapsed, "30 seconds"),
      maxRetryAfterMillis: millis(retry.maxRetryAfter, "30 seconds"),
      jitter: retry.jitter ?? true
    }
  }
}

/** Sorted and de-duplicated, so that equal sets give equal cache keys. @internal */
export const normalizeList = (list: ReadonlyArray<string>): ReadonlyArray<string> => Array.from(new Set(list)).sort()
