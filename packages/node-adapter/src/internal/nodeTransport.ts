import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import * as Tls from "node:tls"
import * as Undici from "undici"
import type * as NodeTransport from "../NodeTransport.js"

/** @internal */
export interface ResolvedProxy {
  readonly httpProxy: string | undefined
  readonly httpsProxy: string | undefined
  readonly noProxy: string | undefined
}

/** An `http:` or `https:` URL, else an `InvalidData` naming the variable. Never echoes the value (it may hold credentials). */
const proxyUrl = (
  name: string,
  value: string | URL | undefined
): Either.Either<string | undefined, ConfigError.ConfigError> => {
  if (value === undefined) return Either.right(undefined)
  const text = String(value).trim()
  if (text === "") return Either.right(undefined)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return Either.left(ConfigError.InvalidData([name], "is not a valid proxy URL"))
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(ConfigError.InvalidData([name], `must be an http: or https: proxy URL, not ${url.protocol}`))
  }
  return Either.right(url.href)
}

/** The first of the variables that is set and not empty (lower case first, as curl and undici read them). */
const firstOf = (...names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name) => Effect.map(Config.option(Config.string(name)), (value) => [name, value] as const))
    .pipe(
      Effect.map((values) => {
        for (const [name, value] of values) {
          if (Option.isSome(value) && value.value.trim() !== "") return [name, value.value] as const
        }
        return [names[0]!, undefined] as const
      })
    )

/** @internal */
export const proxyFromEnv: Effect.Effect<ResolvedProxy, ConfigError.ConfigError> = Effect.gen(function*() {
  const [httpName, http] = yield* firstOf("http_proxy", "HTTP_PROXY")
  const [httpsName, https] = yield* firstOf("https_proxy", "HTTPS_PROXY")
  const [, noProxy] = yield* firstOf("no_proxy", "NO_PROXY")
  return {
    httpProxy: yield* proxyUrl(httpName, http),
    httpsProxy: yield* proxyUrl(httpsName, https),
    noProxy: noProxy?.trim()
  }
})

/** @internal */
export const resolveProxy = (
  proxy: NodeTransport.ProxyOptions | undefined
): Effect.Effect<ResolvedProxy | undefined, ConfigError.ConfigError> => {
  if (proxy === false) return Effect.succeed(undefined)
  if (proxy === undefined || proxy === "env") return proxyFromEnv
  if (typeof proxy === "string" || proxy instanceof URL) {
    return Effect.map(proxyUrl("proxy", proxy), (url) => ({ httpProxy: url, httpsProxy: url, noProxy: undefined }))
  }
  return Effect.all({
    httpProxy: proxyUrl("proxy.httpProxy", proxy.httpProxy),
    httpsProxy: proxyUrl("proxy.httpsProxy", proxy.httpsProxy),
    noProxy: Effect.succeed(proxy.noProxy)
  })
}

const toMillis = (input: Duration.DurationInput | undefined, fallback: Duration.DurationInput) =>
  Duration.toMillis(Duration.decode(input ?? fallback))

/** The TLS settings of every connection (`connect` of an `Agent`, `requestTls` of a `ProxyAgent`). @internal */
export const tlsOptions = (
  tls: NodeTransport.TlsOptions | undefined
): Undici.buildConnector.BuildOptions | undefined => {
  if (tls === undefined) return undefined
  const options: Record<string, unknown> = {}
  if (tls.cert !== undefined) options.cert = tls.cert
  if (tls.key !== undefined) options.key = tls.key
  if (tls.ca !== undefined) options.ca = tls.ca
  if (tls.passphrase !== undefined) options.passphrase = tls.passphrase
  return options as Undici.buildConnector.BuildOptions
}

/** CONNECTs tried in a row before a socket error on a proxy tunnel is final. @internal */
export const maxTunnelAttempts = 3

/**
 * A tunnel's CONNECT failed with a socket error (the proxy hung up before a complete answer) on
 * `maxTunnelAttempts` connections in a row: probably not a proxy at all.
 *
 * @internal
 */
export class ProxyTunnelError extends Error {
  readonly code = "OAUTH_CC_PROXY_TUNNEL"
  constructor(readonly attempts: number, cause: unknown) {
    super(`the proxy closed ${attempts} connections in a row before answering CONNECT (is it an HTTP proxy?)`, {
      cause
    })
    this.name = "ProxyTunnelError"
  }
}

/** undici retries a connection whose connector failed with these at once and without limit. */
const retriedByUndici = new Set(["UND_ERR_SOCKET", "UND_ERR_INFO"])

/**
 * A connector that lets undici retry a socket error `maxTunnelAttempts` times in a row, then fails
 * the queued requests with a `ProxyTunnelError`. undici 7's `ProxyAgent` reports a proxy that closes
 * the socket on CONNECT as such a socket error, and undici reconnects at once, forever. A tunnel not
 * established within `timeoutMillis` (a proxy that never answers CONNECT: undici would wait for its
 * 300 s headers timeout) fails with undici's `ConnectTimeoutError`.
 */
const boundedConnector = (
  connect: Undici.buildConnector.connector,
  timeoutMillis: number
): Undici.buildConnector.connector => {
  let failures = 0
  return (options, callback) => {
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      callback(
        new Undici.errors.ConnectTimeoutError(`the proxy tunnel was not established within ${timeoutMillis} ms`),
        null
      )
    }, timeoutMillis)
    timer.unref()
    connect(options, (...args) => {
      clearTimeout(timer)
      const [error, socket] = args
      if (settled) {
        socket?.destroy()
        return
      }
      settled = true
      if (error === null || !retriedByUndici.has((error as { code?: unknown }).code as string)) {
        failures = 0
        return callback(...args)
      }
      failures++
      if (failures < maxTunnelAttempts) return callback(error, null)
      const attempts = failures
      failures = 0
      callback(new ProxyTunnelError(attempts, error), null)
    })
  }
}

/** undici's own factory (a `Client` for one connection, else a `Pool`), with a bounded proxy connector. */
const factoryWith = (timeoutMillis: number) => (origin: string | URL, options: object): Undici.Dispatcher => {
  const { connect, connections } = options as Undici.Pool.Options
  const bounded = typeof connect === "function"
    ? { ...options, connect: boundedConnector(connect, timeoutMillis) }
    : options
  return connections === 1 ? new Undici.Client(origin, bounded) : new Undici.Pool(origin, bounded)
}

const pems = (value: string | Buffer | ReadonlyArray<string | Buffer> | undefined): ReadonlyArray<string | Buffer> =>
  value === undefined ? [] : Array.isArray(value) ? value : [value as string | Buffer]

const isEncrypted = (pem: string | Buffer) => String(pem).includes("ENCRYPTED")

const invalidTls = (option: string, message: string) => Either.left(ConfigError.InvalidData(["tls", option], message))

/**
 * The client certificate and key parse, the passphrase opens the key, the key belongs to the certificate and
 * the CAs parse: checked when the layer is built, so a mistake is a `ConfigError` naming the option (never its
 * value) instead of a TLS failure on every request.
 *
 * @internal
 */
export const checkTls = (tls: NodeTransport.TlsOptions | undefined): Either.Either<void, ConfigError.ConfigError> => {
  if (tls === undefined) return Either.void
  const certs = pems(tls.cert)
  const keys = pems(tls.key)
  if (certs.length > 0 && keys.length === 0) return invalidTls("key", "is missing: tls.cert needs its private key")
  if (keys.length > 0 && certs.length === 0) return invalidTls("cert", "is missing: tls.key needs its certificate")
  const privateKeys: Array<Crypto.KeyObject> = []
  for (const key of keys) {
    if (isEncrypted(key) && tls.passphrase === undefined) {
      return invalidTls("passphrase", "is missing: tls.key is encrypted")
    }
    try {
      privateKeys.push(
        Crypto.createPrivateKey(tls.passphrase === undefined ? { key } : { key, passphrase: tls.passphrase })
      )
    } catch (error) {
      return (error as { code?: unknown }).code === "ERR_OSSL_BAD_DECRYPT" && isEncrypted(key)
        ? invalidTls("passphrase", "does not decrypt tls.key (wrong passphrase)")
        : invalidTls("key", "is not a PEM private key")
    }
  }
  const certificates: Array<Crypto.X509Certificate> = []
  for (const [option, list] of [["cert", certs], ["ca", pems(tls.ca)]] as const) {
    for (const cert of list) {
      try {
        const certificate = new Crypto.X509Certificate(cert)
        if (option === "cert") certificates.push(certificate)
      } catch {
        return invalidTls(option, "is not a PEM certificate")
      }
    }
  }
  for (const [i, key] of privateKeys.entries()) {
    const certificate = certificates[i]
    if (certificate !== undefined && !certificate.checkPrivateKey(key)) {
      return invalidTls("key", "does not belong to the certificate in tls.cert")
    }
  }
  try {
    Tls.createSecureContext(tlsOptions(tls) as Tls.SecureContextOptions)
  } catch (error) {
    return invalidTls("cert", `is not usable: ${String((error as { code?: unknown }).code ?? "invalid")}`)
  }
  return Either.void
}

/** @internal */
export const agentOptions = (options: NodeTransport.Options): Undici.Agent.Options => {
  const keepAlive = options.keepAlive ?? {}
  const connect = tlsOptions(options.tls)
  const connectTimeout = toMillis(options.connectTimeout, "10 seconds")
  return {
    ...(keepAlive === false ? { pipelining: 0 } : {
      keepAliveTimeout: toMillis(keepAlive.idleTimeout, "4 seconds"),
      keepAliveMaxTimeout: toMillis(keepAlive.maxIdleTimeout, "60 seconds"),
      connections: keepAlive.connections ?? 64
    }),
    ...(connect === undefined ? {} : { connect }),
    connectTimeout,
    factory: factoryWith(connectTimeout)
  }
}

/**
 * Loopback hosts: `localhost`, `127.0.0.0/8`, `[::1]` (and `::ffff:127.x.y.z`), as the WHATWG URL parser writes
 * them (`127.1` is already `127.0.0.1` there). Never sent through a proxy. `*.localhost` is not one: it may be
 * looked up in DNS.
 *
 * @internal
 */
export const isLoopbackHost = (hostname: string): boolean => {
  const host = hostname.toLowerCase().replace(/\.$/, "")
  return host === "localhost" || host === "[::1]" || host === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(host) || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host)
}

const isLoopbackOrigin = (origin: unknown): boolean => {
  try {
    return isLoopbackHost(new URL(String(origin)).hostname)
  } catch {
    return false
  }
}

/**
 * Sends loopback origins to `direct` and every other one to `proxied`. A proxy is another machine (or at least
 * another program): a loopback `http:` request carries the token endpoint's Basic credentials or a bearer token in
 * clear, which our loopback exemption allows only because the bytes stay on the machine. Go's `net/http` never
 * proxies `localhost` either.
 */
class LoopbackDirect extends Undici.Dispatcher {
  constructor(private readonly direct: Undici.Dispatcher, private readonly proxied: Undici.Dispatcher) {
    super()
  }
  override dispatch(options: Undici.Dispatcher.DispatchOptions, handler: Undici.Dispatcher.DispatchHandler): boolean {
    return (isLoopbackOrigin(options.origin) ? this.direct : this.proxied).dispatch(options, handler)
  }
  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([this.direct.close(), this.proxied.close()]).then(() => undefined)
    if (callback === undefined) return done
    done.then(callback, callback)
  }
  override destroy(): Promise<void>
  override destroy(error: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(error: Error | null, callback: () => void): void
  override destroy(...args: Array<unknown>): Promise<void> | void {
    const error = args[0] instanceof Error ? args[0] : null
    const callback = args.find((arg): arg is () => void => typeof arg === "function")
    const done = Promise.all([this.direct.destroy(error), this.proxied.destroy(error)]).then(() => undefined)
    if (callback === undefined) return done
    done.then(callback, callback)
  }
}

/** @internal */
export const makeDispatcher = (
  options: NodeTransport.Options = {}
): Effect.Effect<Undici.Dispatcher, ConfigError.ConfigError, Scope.Scope> =>
  Effect.flatMap(Effect.zipRight(checkTls(options.tls), resolveProxy(options.proxy)), (proxy) =>
    Effect.acquireRelease(
      Effect.flatMap(
        Effect.sync((): Undici.Dispatcher => {
          const base = agentOptions(options)
          if (proxy === undefined || (proxy.httpProxy === undefined && proxy.httpsProxy === undefined)) {
            return new Undici.Agent(base)
          }
          const requestTls = tlsOptions(options.tls)
          // Empty strings, not undefined: undici would fall back to process.env for those.
          return new LoopbackDirect(
            new Undici.Agent(base),
            new Undici.EnvHttpProxyAgent({
              ...base,
              httpProxy: proxy.httpProxy ?? "",
              httpsProxy: proxy.httpsProxy ?? "",
              noProxy: proxy.noProxy ?? "",
              ...(requestTls === undefined ? {} : { requestTls })
            })
          )
        }),
        usable
      ),
      (dispatcher) => Effect.promise(() => dispatcher.destroy())
    ))

/**
 * The dispatcher has undici's `request`, which @effect/platform-node's client calls. Bun resolves `undici`
 * to a built-in stub without it: refuse when the layer is built rather than fail every request.
 */
const usable = (dispatcher: Undici.Dispatcher): Effect.Effect<Undici.Dispatcher, ConfigError.ConfigError> =>
  typeof (dispatcher as Partial<Undici.Dispatcher>).request === "function"
    ? Effect.succeed(dispatcher)
    : Effect.fail(ConfigError.Unsupported(
      ["undici"],
      "this runtime's undici has no Dispatcher.request (Bun's built-in undici is a stub): " +
        "@oauth-cc/node-adapter needs Node.js; elsewhere use @oauth-cc/core's TokenProvider.layer " +
        "with FetchHttpClient.layer from @effect/platform"
    ))

/** @internal */
export const layer = (
  options: NodeTransport.Options = {}
): Layer.Layer<HttpClient.HttpClient, ConfigError.ConfigError> =>
  NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
    Layer.provide(Layer.scoped(NodeHttpClient.Dispatcher, makeDispatcher(options)))
  )
