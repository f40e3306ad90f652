import * as Args from "@effect/cli/Args"
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as AccessToken from "@oauth-cc/core/AccessToken"
import * as AuthorizedHttpClient from "@oauth-cc/core/AuthorizedHttpClient"
import * as ClientCredentials from "@oauth-cc/core/ClientCredentials"
import * as Discovery from "@oauth-cc/core/Discovery"
import * as TokenError from "@oauth-cc/core/TokenError"
import * as TokenProvider from "@oauth-cc/core/TokenProvider"
import * as TokenStore from "@oauth-cc/core/TokenStore"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs/promises"
import * as NodeTransport from "../NodeTransport.js"
import { defaultDir, deriveKeys, makeFileStore } from "./cliCache.js"
import * as Completion from "./cliCompletion.js"
import { withPlainConsole } from "./cliConsole.js"
import { proxyDecision, shownUrl, tlsCheck } from "./cliDoctor.js"
import {
  CliError,
  DoctorFailed,
  ExitCode,
  exitCodeOfTokenError,
  HttpStatusError,
  InsecureHttp,
  RequestFailed,
  TimedOut
} from "./cliExit.js"
import { CliMask, makeMask, type Mask } from "./cliMask.js"
import { split } from "./nodeLayers.js"
import { makeDispatcher } from "./nodeTransport.js"

// -----------------------------------------------------------------------------
// options
// -----------------------------------------------------------------------------

const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

const settings = {
  tokenUrl: optionalText("token-url", "The token endpoint (env: OAUTH_TOKEN_URL)."),
  issuer: optionalText(
    "issuer",
    "Discover the token endpoint from this issuer's metadata instead (env: OAUTH_ISSUER)."
  ),
  clientId: optionalText("client-id", "The client id (env: OAUTH_CLIENT_ID)."),
  clientSecretFile: optionalText(
    "client-secret-file",
    "Read the client secret from this file (else env OAUTH_CLIENT_SECRET). A trailing newline is dropped."
  ),
  clientSecretStdin: Options.boolean("client-secret-stdin").pipe(
    Options.withDescription("Read the client secret from standard input.")
  ),
  scope: optionalText("scope", "Space-separated scopes (env: OAUTH_SCOPE)."),
  audience: optionalText("audience", "The audience parameter (env: OAUTH_AUDIENCE)."),
  resource: optionalText("resource", "Space-separated RFC 8707 resource indicators (env: OAUTH_RESOURCE)."),
  clientAssertionKeyFile: optionalText(
    "client-assertion-key-file",
    "private_key_jwt: the private key, PEM or JWK JSON (else env OAUTH_CLIENT_ASSERTION_KEY)."
  ),
  clientAssertionKid: optionalText(
    "client-assertion-kid",
    "private_key_jwt: the kid header (env: OAUTH_CLIENT_ASSERTION_KID)."
  ),
  authMethod: Options.choice("auth-method", ClientCredentials.authMethods).pipe(
    Options.withDescription("How the client authenticates (env: OAUTH_AUTH_METHOD). Default: client_secret_basic."),
    Options.optional
  ),
  cert: optionalText("cert", "Client certificate (PEM file) for mutual TLS."),
  key: optionalText("key", "Private key (PEM file) of --cert; its passphrase from env OAUTH_TLS_KEY_PASSPHRASE."),
  cacert: optionalText("cacert", "CA certificates (PEM file) to trust instead of Node's."),
  verbose: Options.boolean("verbose").pipe(
    Options.withAlias("v"),
    Options.withDescription("Show token requests, attempts and retry waits on stderr.")
  ),
  cache: Options.boolean("cache").pipe(
    Options.withDescription(
      "Reuse a token from an encrypted file cache while it is valid (key from env OAUTH_CC_CACHE_KEY, which also turns it on)."
    )
  ),
  timeout: optionalText(
    "timeout",
    "Give up after this long, retries and waits included (exit 124): seconds, or with a unit: 500ms, 10s, 2m."
  )
}

/** `--timeout`: a positive number of seconds, or with a unit `ms`, `s` or `m`. @internal */
export const parseTimeout = (text: string): Option.Option<Duration.Duration> => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (match === null) return Option.none()
  const value = Number(match[1])
  const millis = match[2] === "ms" ? value : match[2] === "m" ? value * 60_000 : value * 1000
  return millis >= 1 && Number.isFinite(millis) ? Option.some(Duration.millis(Math.round(millis))) : Option.none()
}

/** The body of a command: scoped, bounded by `--timeout`, logging with `-v`. */
const runWith = <A, E, R>(
  s: { readonly verbose: boolean; readonly timeout: Option.Option<string> },
  body: Effect.Effect<A, E, R>
): Effect.Effect<A, E | CliError | TimedOut, Exclude<R, Scope.Scope>> => {
  const scoped = Effect.scoped(body)
  const bounded: Effect.Effect<A, E | CliError | TimedOut, Exclude<R, Scope.Scope>> = Option.match(s.timeout, {
    onNone: () => scoped,
    onSome: (text) =>
      Option.match(parseTimeout(text), {
        onNone: () =>
          Effect.fail(new CliError({ detail: `--timeout takes a duration like 30, 500ms, 10s or 2m, got "${text}"` })),
        onSome: (duration) =>
          Effect.timeoutFail(scoped, {
            duration,
            onTimeout: () => new TimedOut({ millis: Duration.toMillis(duration) })
          })
      })
  })
  return withVerbose(s.verbose)(bounded)
}

type Settings = {
  readonly [K in keyof typeof settings]: (typeof settings)[K] extends Options.Options<infer A> ? A : never
}

const secretFlagHint = "use the OAUTH_CLIENT_SECRET env var, --client-secret-file or --client-secret-stdin"

/** A flag that would put the secret on the command line, where `ps` shows it. @internal */
export const forbiddenSecretFlag = (argv: ReadonlyArray<string>): boolean =>
  argv.some((arg) => arg === "--client-secret" || arg.startsWith("--client-secret="))

// -----------------------------------------------------------------------------
// configuration
// -----------------------------------------------------------------------------

const readText = (path: string, what: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(path, "utf8"),
    catch: (cause) => new CliError({ detail: `cannot read ${what} ${path}: ${(cause as NodeJS.ErrnoException).code}` })
  })

const readBytes = (path: string, what: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(path),
    catch: (cause) => new CliError({ detail: `cannot read ${what} ${path}: ${(cause as NodeJS.ErrnoException).code}` })
  })

const maxSecretBytes = 64 * 1024

const readStdin: Effect.Effect<string, CliError> = Effect.async<string, CliError>((resume) => {
  const chunks: Array<Buffer> = []
  let size = 0
  const stdin = process.stdin
  const done = (result: Effect.Effect<string, CliError>) => {
    stdin.off("data", onData).off("end", onEnd).off("error", onError)
    stdin.pause()
    stdin.destroy()
    resume(result)
  }
  const onData = (chunk: Buffer) => {
    size += chunk.length
    if (size > maxSecretBytes) done(Effect.fail(new CliError({ detail: "the secret on standard input is too long" })))
    else chunks.push(chunk)
  }
  const onEnd = () => done(Effect.succeed(Buffer.concat(chunks).toString("utf8")))
  const onError = () => done(Effect.fail(new CliError({ detail: "cannot read the secret from standard input" })))
  stdin.on("data", onData).on("end", onEnd).on("error", onError)
})

const dropNewline = (text: string) => text.replace(/\r?\n$/, "")

const secretOf = (s: Settings): Effect.Effect<Option.Option<string>, CliError> => {
  if (s.clientSecretStdin && Option.isSome(s.clientSecretFile)) {
    return Effect.fail(new CliError({ detail: "give either --client-secret-file or --client-secret-stdin, not both" }))
  }
  // OAUTH_CLIENT_SECRET_FILE (a mounted secret) is read like --client-secret-file: once, a CLI run being short
  const envFile = process.env.OAUTH_CLIENT_SECRET_FILE
  if (envFile !== undefined && envFile !== "" && process.env.OAUTH_CLIENT_SECRET !== undefined) {
    return Effect.fail(new CliError({ detail: "set one of OAUTH_CLIENT_SECRET and OAUTH_CLIENT_SECRET_FILE" }))
  }
  const read = s.clientSecretStdin
    ? Effect.map(readStdin, Option.some)
    : Option.isSome(s.clientSecretFile)
    ? Effect.map(readText(s.clientSecretFile.value, "--client-secret-file"), Option.some)
    : envFile !== undefined && envFile !== ""
    ? Effect.map(readText(envFile, "OAUTH_CLIENT_SECRET_FILE"), Option.some)
    : Effect.succeed(Option.none<string>())
  return Effect.flatMap(read, (secret) => {
    if (Option.isNone(secret)) return Effect.succeed(secret)
    const value = dropNewline(secret.value)
    return value.length === 0
      ? Effect.fail(
        new CliError({ detail: `the client secret ${s.clientSecretStdin ? "on standard input" : "file"} is empty` })
      )
      : Effect.succeed(Option.some(value))
  })
}

/**
 * `OAUTH_CLIENT_ASSERTION_FILE`: a pre-made JWT (workload identity: a Kubernetes projected service account
 * token, `AZURE_FEDERATED_TOKEN_FILE`, a CI OIDC token) sent as `client_assertion` (`private_key_jwt`). Read once,
 * like the secret file, a CLI run being short. Exclusive with a key we would sign with.
 */
const assertionOf = (s: Settings): Effect.Effect<Option.Option<string>, CliError> => {
  const file = process.env.OAUTH_CLIENT_ASSERTION_FILE
  if (file === undefined || file === "") return Effect.succeed(Option.none())
  const key = process.env.OAUTH_CLIENT_ASSERTION_KEY
  if (Option.isSome(s.clientAssertionKeyFile) || (key !== undefined && key !== "")) {
    return Effect.fail(
      new CliError({
        detail: "set one of OAUTH_CLIENT_ASSERTION_FILE and OAUTH_CLIENT_ASSERTION_KEY (--client-assertion-key-file)"
      })
    )
  }
  return Effect.flatMap(readText(file, "OAUTH_CLIENT_ASSERTION_FILE"), (text) => {
    const value = dropNewline(text)
    return value.length === 0
      ? Effect.fail(new CliError({ detail: "the client assertion file is empty" }))
      : Effect.succeed(Option.some(value))
  })
}

/** Flags win over `OAUTH_*` env vars: a map provider in front of the env provider. */
const providerOf = (
  s: Settings,
  secret: Option.Option<string>,
  assertionKey: Option.Option<string>
): ConfigProvider.ConfigProvider => {
  const flags = new Map<string, string>()
  const put = (name: string, value: Option.Option<string>) => {
    if (Option.isSome(value)) flags.set(`OAUTH_${name}`, value.value)
  }
  put("TOKEN_URL", s.tokenUrl)
  put("ISSUER", s.issuer)
  put("CLIENT_ASSERTION_KEY", assertionKey)
  put("CLIENT_ASSERTION_KID", s.clientAssertionKid)
  put("CLIENT_ID", s.clientId)
  put("CLIENT_SECRET", secret)
  put("SCOPE", s.scope)
  put("AUDIENCE", s.audience)
  put("RESOURCE", s.resource)
  put("AUTH_METHOD", s.authMethod)
  return ConfigProvider.fromMap(flags, { pathDelim: "_" }).pipe(
    ConfigProvider.orElse(() => ConfigProvider.fromEnv())
  )
}

const tlsOf = (s: Settings): Effect.Effect<NodeTransport.TlsOptions | undefined, CliError> =>
  Effect.gen(function*() {
    if (Option.isSome(s.cert) !== Option.isSome(s.key)) {
      return yield* new CliError({ detail: "--cert and --key go together" })
    }
    if (Option.isNone(s.cert) && Option.isNone(s.cacert)) return undefined
    const passphrase = process.env.OAUTH_TLS_KEY_PASSPHRASE
    return {
      ...(Option.isSome(s.cert) ? { cert: yield* readText(s.cert.value, "--cert") } : {}),
      ...(Option.isSome(s.key) ? { key: yield* readText(s.key.value, "--key") } : {}),
      ...(Option.isSome(s.cacert) ? { ca: yield* readText(s.cacert.value, "--cacert") } : {}),
      ...(passphrase === undefined ? {} : { passphrase })
    }
  })

const flagOf: Record<string, string> = {
  TOKEN_URL: "--token-url, or OAUTH_ISSUER / --issuer",
  ISSUER: "--issuer",
  CLIENT_ASSERTION_KEY: "--client-assertion-key-file",
  CLIENT_ASSERTION_KID: "--client-assertion-kid",
  CLIENT_ID: "--client-id",
  CLIENT_SECRET: "--client-secret-file / --client-secret-stdin",
  SCOPE: "--scope",
  AUDIENCE: "--audience",
  RESOURCE: "--resource",
  AUTH_METHOD: "--auth-method",
  TLS: "--cert / --key"
}

const variableOf = (path: ReadonlyArray<string>): string => {
  const segments = path.map((segment) => segment.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase())
  while (segments[0] === "OAUTH") segments.shift()
  const name = segments.join("_")
  const flag = flagOf[name]
  return flag === undefined ? `OAUTH_${name}` : `OAUTH_${name} (${flag})`
}

/** Core's messages name their variable ("OAUTH_TOKEN_URL must use https"); the line names it once. */
const withoutName = (name: string, message: string): string => {
  const variable = name.split(" ")[0]
  // "OAUTH_DPOP_KEY (dpop.key): …": the option's path after the name is said by the name already
  return message.startsWith(`${variable} `) ? message.slice(variable.length + 1).replace(/^\([\w.]+\): /, "") : message
}

/** A ConfigError as one line: which variable is missing or invalid, and the flag that sets it. @internal */
export const formatConfigError = (error: ConfigError.ConfigError): string => {
  const missing: Array<string> = []
  const invalid = new Map<string, string>()
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      case "MissingData":
        missing.push(variableOf(e.path))
        return
      case "InvalidData":
      case "SourceUnavailable":
      case "Unsupported":
        invalid.set(variableOf(e.path), e.message)
        return
    }
  }
  walk(error)
  // An optional variable that is set but invalid also reports itself as missing (the `Or` of `Config.option`).
  const lines = [
    ...Array.from(new Set(missing)).filter((name) => !invalid.has(name)).map((name) => `missing ${name}`),
    ...Array.from(invalid, ([name, message]) => `invalid ${name}: ${withoutName(name, message)}`)
  ]
  return `configuration: ${lines.join("; ")}`
}

// -----------------------------------------------------------------------------
// verbose logging
// -----------------------------------------------------------------------------

const startedAt = Date.now()

/** oauth-cc's debug lines on stderr, masked, with the time since start, so retry waits show. @internal */
export const stderrLogger = (mask: Mask) =>
  Logger.make(({ message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    if (!text.startsWith("oauth-cc")) return
    process.stderr.write(`[+${String(Date.now() - startedAt).padStart(5)}ms] ${mask.line(text)}\n`)
  })

const withVerbose = (verbose: boolean) => Logger.withMinimumLogLevel(verbose ? LogLevel.Debug : LogLevel.None)

const where = (url: string) => {
  const parsed = new URL(url)
  return `${parsed.origin}${parsed.pathname}`
}

/** Logs each request (method, origin and path, never headers or query) and its status, with Retry-After. */
const traced = (client: HttpClient.HttpClient, what: string): HttpClient.HttpClient =>
  client.pipe(
    HttpClient.tapRequest((request) => Effect.logDebug(`oauth-cc: ${what} ${request.method} ${where(request.url)}`)),
    HttpClient.tap((response) => {
      const retryAfter = response.headers["retry-after"]
      return Effect.logDebug(
        `oauth-cc: ${what} answered HTTP ${response.status}${
          retryAfter === undefined ? "" : `, Retry-After: ${retryAfter}`
        }`
      )
    })
  )

// -----------------------------------------------------------------------------
// commands
// -----------------------------------------------------------------------------

interface Session {
  readonly provider: TokenProvider.Service
  readonly client: HttpClient.HttpClient
  readonly grant: ClientCredentials.Options
  readonly tls: NodeTransport.TlsOptions | undefined
}

/**
 * Every token the provider hands out joins the mask: a resource may echo it. The rest of the service (its
 * `dpop` proofer above all: without it a DPoP token would go out with no proof) is kept as it is.
 *
 * @internal
 */
export const maskingTokens = (provider: TokenProvider.Service, mask: Mask): TokenProvider.Service => {
  const seen = <E>(get: Effect.Effect<AccessToken.AccessToken, E>) =>
    Effect.tap(get, (token) => Effect.sync(() => mask.addToken(token.value)))
  return {
    ...provider,
    get: seen(provider.get),
    getFor: (params) => seen(provider.getFor(params)),
    refresh: seen(provider.refresh),
    invalidate: provider.invalidate
  }
}

/** The provider and the client, from flags and env. */
const session = (s: Settings): Effect.Effect<Session, CliError | ConfigError.ConfigError, Scope.Scope | CliMask> =>
  Effect.gen(function*() {
    const mask = yield* CliMask
    const secret = yield* secretOf(s)
    const assertion = yield* assertionOf(s)
    // the JWT is a credential: every encoding of it is masked in what the CLI prints
    if (Option.isSome(assertion)) mask.addToken(Redacted.make(assertion.value))
    const assertionKey = Option.isSome(s.clientAssertionKeyFile)
      ? Option.some(yield* readText(s.clientAssertionKeyFile.value, "--client-assertion-key-file"))
      : Option.none()
    // check: a DPoP key that Web Crypto refuses is a configuration error (exit 2), not a defect of make
    const credentials = yield* Effect.withConfigProvider(
      Option.isSome(assertion)
        ? ClientCredentials.config("OAUTH", {
          clientAssertion: { source: Effect.succeed(Redacted.make(assertion.value)) }
        })
        : ClientCredentials.config(),
      providerOf(s, secret, assertionKey)
    ).pipe(Effect.flatMap(ClientCredentials.check))
    if (credentials.clientSecret !== undefined) mask.addSecret(credentials.clientSecret, credentials.clientId)
    const tls = yield* tlsOf(s)
    const [grant, transport] = yield* split({ ...credentials, ...(tls === undefined ? {} : { tls }) })
    const client = NodeHttpClient.makeUndici(yield* makeDispatcher(transport))
    const cacheKey = process.env.OAUTH_CC_CACHE_KEY
    if (s.cache && (cacheKey === undefined || cacheKey === "")) {
      return yield* new CliError({ detail: "--cache needs the cache key in env OAUTH_CC_CACHE_KEY" })
    }
    const store = cacheKey === undefined || cacheKey === ""
      ? undefined
      : makeFileStore(defaultDir(process.env), yield* deriveKeys(Redacted.make(cacheKey)))
    const provider = yield* TokenProvider.make(grant).pipe(
      Effect.provideService(HttpClient.HttpClient, traced(client, "token request:")),
      store === undefined ? (effect) => effect : Effect.provideService(TokenStore.TokenStore, store)
    )
    return { provider: maskingTokens(provider, mask), client, grant, tls }
  })

const tokenCommand = Command.make(
  "token",
  {
    ...settings,
    json: Options.boolean("json").pipe(
      Options.withDescription("Print JSON: access_token, token_type, expires_in, scope.")
    )
  },
  (s) =>
    Effect.gen(function*() {
      const { provider } = yield* session(s)
      const mask = yield* CliMask
      const token = yield* provider.get
      if (!s.json) {
        process.stdout.write(`${Redacted.value(token.value)}\n`)
        return
      }
      const now = yield* Clock.currentTimeMillis
      const json = {
        access_token: Redacted.value(token.value),
        token_type: mask.text(token.tokenType),
        expires_in: Math.max(0, Math.floor((token.expiresAt - now) / 1000)),
        scope: mask.text(token.scope.join(" "))
      }
      process.stdout.write(`${JSON.stringify(json)}\n`)
    }).pipe((body) => runWith(s, body))
).pipe(Command.withDescription(
  "Print an access token, e.g. curl -H \"Authorization: Bearer $(oauth-cc token)\" … (with OAUTH_DPOP_KEY the token is DPoP-bound: use oauth-cc request)"
))

const parseHeader = (header: string): Effect.Effect<readonly [string, string], CliError> => {
  const colon = header.indexOf(":")
  const name = colon > 0 ? header.slice(0, colon).trim() : ""
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)
    ? Effect.succeed([name, header.slice(colon + 1).trim()] as const)
    : Effect.fail(new CliError({ detail: `-H takes "Name: value", got a header without a valid name` }))
}

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]", "::1"])

/**
 * The hosts where `http:` stays on the machine (the same rule as core's token URL check). Not `*.localhost`:
 * Node resolves those names through DNS, which may answer with any address.
 *
 * @internal
 */
export const isLoopback = (url: URL): boolean =>
  loopbackHosts.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname)

const contentTypeOf = (text: string) => {
  try {
    JSON.parse(text)
    return "application/json"
  } catch {
    return "application/x-www-form-urlencoded"
  }
}

const requestCommand = Command.make(
  "request",
  {
    ...settings,
    url: Args.text({ name: "url" }).pipe(Args.withDescription("The URL of the protected resource.")),
    method: Options.text("request").pipe(
      Options.withAlias("X"),
      Options.withDescription("The HTTP method."),
      Options.withDefault("GET")
    ),
    headers: Options.text("header").pipe(
      Options.withAlias("H"),
      Options.withDescription("A request header, \"Name: value\"; repeatable."),
      Options.repeated
    ),
    data: optionalText("data", "The request body (JSON is sent as application/json, else as a form).").pipe(
      Options.withAlias("d")
    ),
    dataFile: optionalText("data-file", "Send this file as the request body."),
    include: Options.boolean("include").pipe(
      Options.withAlias("i"),
      Options.withDescription("Print the status line and headers before the body on stdout.")
    ),
    fail: Options.boolean("fail").pipe(
      Options.withAlias("f"),
      Options.withDescription("Exit with code 9 when the server answers with a status of 400 or more.")
    ),
    allowInsecureHttp: Options.boolean("allow-insecure-http").pipe(
      Options.withDescription(
        "Send the bearer token to a non-loopback http: URL, in clear (refused by default: exit 11, RFC 6750 §5.3)."
      )
    )
  },
  (s) =>
    Effect.gen(function*() {
      let url: URL
      try {
        url = new URL(s.url)
      } catch {
        return yield* new CliError({ detail: "the URL is not a valid absolute URL" })
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        return yield* new CliError({ detail: `the URL must be http: or https:, not ${url.protocol}` })
      }
      // RFC 6750 §5.3: checked before anything is read or sent, the token request included.
      if (url.protocol === "http:" && !isLoopback(url) && !s.allowInsecureHttp) {
        return yield* new InsecureHttp({ origin: url.origin })
      }
      const method = s.method.toUpperCase()
      if (!/^[A-Z]+$/.test(method)) return yield* new CliError({ detail: "-X takes an HTTP method name" })
      if (Option.isSome(s.data) && Option.isSome(s.dataFile)) {
        return yield* new CliError({ detail: "give either -d or --data-file, not both" })
      }
      const headers = yield* Effect.forEach(s.headers, parseHeader)
      const explicitType = headers.find(([name]) => name.toLowerCase() === "content-type")?.[1]
      let request = HttpClientRequest.make(method as "GET")(url).pipe(HttpClientRequest.setHeaders(headers))
      if (Option.isSome(s.data)) {
        request = HttpClientRequest.bodyText(request, s.data.value, explicitType ?? contentTypeOf(s.data.value))
      } else if (Option.isSome(s.dataFile)) {
        const bytes = yield* readBytes(s.dataFile.value, "--data-file")
        request = HttpClientRequest.bodyUint8Array(request, bytes, explicitType ?? "application/octet-stream")
      }

      const { client, provider } = yield* session(s)
      const mask = yield* CliMask
      const authorized = AuthorizedHttpClient.authorize(traced(client, "request:"), provider, {
        allowInsecureHttp: s.allowInsecureHttp
      })
      const response = yield* authorized.execute(request).pipe(
        Effect.catchIf(HttpClientError.isHttpClientError, (error) =>
          Effect.fail(
            new RequestFailed({
              detail: `request to ${where(url.href)} failed (${error.reason})${causeText(error)}`
            })
          ))
      )
      const body = yield* response.arrayBuffer.pipe(
        Effect.mapError((error) =>
          new RequestFailed({ detail: `reading the answer of ${where(url.href)} failed (${error.reason})` })
        )
      )
      const statusLine = `HTTP ${response.status}`
      if (s.include) {
        const lines = Object.entries(response.headers).map(([name, value]) => `${name}: ${value}`)
        process.stdout.write(mask.text(`${statusLine}\n${lines.join("\n")}\n\n`))
      } else {
        process.stderr.write(`${statusLine}\n`)
      }
      process.stdout.write(mask.bytes(new Uint8Array(body)))
      if (s.fail && response.status >= 400) return yield* new HttpStatusError({ status: response.status })
    }).pipe((body) => runWith(s, body))
).pipe(Command.withDescription("Send one authorized request and print the answer."))

const causeText = (error: HttpClientError.HttpClientError): string => {
  const cause = error.cause
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause
    const code = inner instanceof Error && "code" in inner ? ` ${String(inner.code)}` : ""
    return `: ${cause.message}${code}`
  }
  return ""
}

interface Check {
  readonly label: string
  readonly ok: boolean
  readonly detail: string
  /** The exit code when this check failed. */
  readonly code: number
}

const doctorCommand = Command.make(
  "doctor",
  {
    ...settings,
    urls: Options.text("url").pipe(
      Options.withDescription("Also show the proxy decision and TLS check for this URL (a resource); repeatable."),
      Options.repeated
    )
  },
  (s) =>
    Effect.gen(function*() {
      const mask = yield* CliMask
      const checks: Array<Check> = []
      const print = (check: Check) =>
        Effect.sync(() => {
          checks.push(check)
          process.stdout.write(mask.line(`${check.ok ? "ok  " : "FAIL"} ${check.label}: ${check.detail}\n`))
        })
      const configured = yield* Effect.either(session({ ...s, cache: false, verbose: false }))
      if (configured._tag === "Left") {
        const error = configured.left
        yield* print({
          label: "configuration",
          ok: false,
          detail: ConfigError.isConfigError(error) ? formatConfigError(error) : error.message,
          code: ExitCode.Usage
        })
        return yield* Effect.fail(new DoctorFailed({ code: ExitCode.Usage }))
      }
      const { client, grant, provider, tls } = configured.right
      const secretSource = Option.isSome(s.clientSecretFile)
        ? "from --client-secret-file"
        : s.clientSecretStdin
        ? "from standard input"
        : "from OAUTH_CLIENT_SECRET"
      yield* print({
        label: "configuration",
        ok: true,
        detail: [
          grant.tokenUrl !== undefined
            ? `token endpoint ${shownUrl(grant.tokenUrl)}`
            : `issuer ${shownUrl(String(grant.issuer))}`,
          `client ${grant.clientId}`,
          grant.clientSecret !== undefined ? `secret set (${secretSource}, not shown)` : "no secret",
          grant.clientAssertion?.key !== undefined ? "assertion key set" : undefined,
          grant.clientAssertion?.source !== undefined
            ? "assertion set (from OAUTH_CLIENT_ASSERTION_FILE, not shown)"
            : undefined,
          grant.dpop !== undefined ? "DPoP key set (tokens are DPoP-bound)" : undefined,
          grant.scope !== undefined ? `scope "${[grant.scope].flat().join(" ")}"` : undefined
        ].filter((part) => part !== undefined).join(", "),
        code: ExitCode.Usage
      })
      let tokenUrl = grant.tokenUrl === undefined ? undefined : new URL(String(grant.tokenUrl))
      let supported: ReadonlyArray<string> | undefined
      if (grant.issuer !== undefined) {
        const metadata = yield* Effect.either(
          Effect.provideService(Discovery.discover(String(grant.issuer)), HttpClient.HttpClient, client)
        )
        if (metadata._tag === "Left") {
          yield* print({ label: "discovery", ok: false, detail: metadata.left.message, code: ExitCode.DiscoveryFailed })
        } else {
          tokenUrl = new URL(metadata.right.token_endpoint)
          supported = metadata.right.token_endpoint_auth_methods_supported
          yield* print({
            label: "discovery",
            ok: true,
            detail: `token_endpoint ${shownUrl(metadata.right.token_endpoint)}, auth methods ${
              supported === undefined ? "not listed" : supported.join(" ")
            }`,
            code: ExitCode.DiscoveryFailed
          })
        }
      }
      const fromFile = grant.clientAssertion?.source !== undefined
      const method = grant.authMethod ?? (fromFile ? "private_key_jwt" : undefined) ??
        Discovery.chooseAuthMethod(supported, {
          hasKey: grant.clientAssertion?.key !== undefined,
          hasSecret: grant.clientSecret !== undefined
        }) ??
        "client_secret_basic"
      yield* print({
        label: "auth method",
        ok: true,
        detail: `${method}${
          fromFile
            ? " (a pre-made assertion from OAUTH_CLIENT_ASSERTION_FILE)"
            : grant.authMethod !== undefined
            ? ""
            : supported !== undefined
            ? " (from the metadata)"
            : " (default)"
        }`,
        code: ExitCode.Usage
      })
      const proxy = yield* Effect.orElseSucceed(NodeTransport.proxyFromEnv, () => ({
        httpProxy: undefined,
        httpsProxy: undefined,
        noProxy: undefined
      }))
      const targets = [
        ...(tokenUrl === undefined ? [] : [tokenUrl]),
        ...s.urls.flatMap((text) => {
          try {
            return [new URL(text)]
          } catch {
            return []
          }
        })
      ]
      for (const url of targets) {
        const decision = proxyDecision(url, proxy)
        yield* print({ label: `proxy ${where(url.href)}`, ok: true, detail: decision, code: ExitCode.Ok })
        if (url.protocol === "https:") {
          if (decision.startsWith("via")) {
            yield* print({
              label: `tls ${url.host}`,
              ok: true,
              detail: "through the proxy's tunnel: checked by the token request below",
              code: ExitCode.Ok
            })
          } else {
            const report = yield* tlsCheck(url, tls?.ca)
            yield* print({
              label: `tls ${url.host}`,
              ok: report.ok,
              detail: report.detail,
              code: ExitCode.TokenTransport
            })
          }
        }
      }
      const start = yield* Clock.currentTimeMillis
      const token = yield* Effect.either(provider.refresh)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      if (token._tag === "Left") {
        yield* print({
          label: "token request",
          ok: false,
          detail: `failed in ${elapsed} ms: ${token.left.message}`,
          code: exitCodeOfTokenError(token.left)
        })
      } else {
        const now = yield* Clock.currentTimeMillis
        const t = token.right
        yield* print({
          label: "token request",
          ok: true,
          detail: `${t.tokenType} token in ${elapsed} ms, expires in ${Math.round((t.expiresAt - now) / 1000)} s${
            t.scope.length === 0 ? "" : `, scope "${t.scope.join(" ")}"`
          } (token not shown)`,
          code: ExitCode.Ok
        })
      }
      const failed = checks.find((check) => !check.ok)
      if (failed !== undefined) return yield* Effect.fail(new DoctorFailed({ code: failed.code }))
    }).pipe((body) => runWith(s, body))
).pipe(
  Command.withDescription(
    "Show what the library would do: endpoint, discovery, auth method, proxy per URL, TLS, a timed token request."
  )
)

const shells = ["bash", "zsh", "fish"] as const

const completionsCommand = Command.make(
  "completions",
  { shell: Args.choice(shells.map((shell) => [shell, shell] as const), { name: "shell" }) },
  ({ shell }) =>
    Effect.sync(() => {
      const specs = [
        Completion.specOf(tokenCommand),
        Completion.specOf(requestCommand),
        Completion.specOf(doctorCommand),
        { name: "completions", flags: [], positional: shells }
      ]
      process.stdout.write(Completion[shell]("oauth-cc", specs))
    })
).pipe(
  Command.withDescription(
    "Print a completion script: source <(oauth-cc completions bash), or zsh; oauth-cc completions fish | source."
  )
)

const command = Command.make("oauth-cc").pipe(
  Command.withDescription("OAuth 2.0 client credentials from the shell."),
  Command.withSubcommands([tokenCommand, requestCommand, doctorCommand, completionsCommand])
)

/** @internal */
export const version = "0.1.0"

const cli = Command.run(command, { name: "oauth-cc", version })

/** Prints one line for an error and gives its exit code. Never prints a cause (it may hold a request). */
const report = (error: unknown, mask: Mask): Effect.Effect<number> =>
  Effect.sync(() => {
    const line = (text: string) => process.stderr.write(`oauth-cc: ${mask.line(text)}\n`)
    if (ValidationError.isValidationError(error)) return ExitCode.Usage // @effect/cli printed it
    if (TokenError.isTokenError(error)) {
      line(error.message)
      return exitCodeOfTokenError(error)
    }
    if (ConfigError.isConfigError(error)) {
      line(formatConfigError(error))
      return ExitCode.Usage
    }
    if (error instanceof CliError) {
      line(error.message)
      return ExitCode.Usage
    }
    if (error instanceof RequestFailed) {
      line(error.message)
      return ExitCode.RequestFailed
    }
    if (error instanceof HttpStatusError) {
      line(error.message)
      return ExitCode.HttpError
    }
    if (error instanceof DoctorFailed) return error.code // doctor printed its findings
    if (error instanceof TimedOut) {
      line(error.message)
      return ExitCode.TimedOut
    }
    if (error instanceof InsecureHttp) {
      line(error.message)
      return ExitCode.InsecureHttp
    }
    line("unexpected error")
    return ExitCode.Unexpected
  })

/**
 * Runs the CLI on `process.argv`-shaped arguments and gives the exit code; never fails.
 *
 * @internal
 */
export const main = (argv: ReadonlyArray<string>): Effect.Effect<number, never, CliApp.CliApp.Environment> =>
  Effect.suspend((): Effect.Effect<number, never, CliApp.CliApp.Environment> => {
    if (forbiddenSecretFlag(argv)) {
      return Effect.as(
        Effect.sync(() =>
          process.stderr.write(`oauth-cc: --client-secret is not accepted (ps would show it): ${secretFlagHint}\n`)
        ),
        ExitCode.Usage
      )
    }
    const mask = makeMask()
    const env = process.env
    for (const secret of [env.OAUTH_CLIENT_SECRET, env.OAUTH_TLS_KEY_PASSPHRASE, env.OAUTH_CC_CACHE_KEY]) {
      if (secret !== undefined && secret !== "") mask.addSecret(Redacted.make(secret), env.OAUTH_CLIENT_ID ?? "")
    }
    return cli(argv).pipe(
      withPlainConsole,
      Effect.provideService(CliMask, mask),
      Effect.exit,
      Effect.flatMap(Exit.match({
        onSuccess: () => Effect.succeed(ExitCode.Ok),
        onFailure: (cause) =>
          Option.match(Cause.failureOption(cause), {
            onSome: (error) => report(error, mask),
            onNone: () =>
              Cause.isInterruptedOnly(cause)
                ? Effect.succeed(ExitCode.Interrupted)
                : Effect.flatMap(
                  Effect.sync(() => process.stderr.write("oauth-cc: unexpected error\n")),
                  () => Effect.succeed(ExitCode.Unexpected)
                )
          })
      })),
      Logger.withMinimumLogLevel(LogLevel.None),
      Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger(mask)))
    )
  })
