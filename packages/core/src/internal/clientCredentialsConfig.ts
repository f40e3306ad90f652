import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type * as ClientCredentials from "../ClientCredentials.js"
import { algorithms } from "./clientAssertion.js"
import { authMethods, dpopAlgorithms, splitList, validate } from "./clientCredentials.js"

const optionalList = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Config.map((o) => o._tag === "Some" ? splitList(o.value) : undefined)
  )

const optional = <A>(config: Config.Config<A>) =>
  Config.option(config).pipe(Config.map((o) => o._tag === "Some" ? o.value : undefined))

/** @internal */
export const config = (
  prefix = "OAUTH",
  overrides: Partial<ClientCredentials.Options> = {},
  files?: ClientCredentials.FileSources
): Config.Config<ClientCredentials.Options> => {
  // The endpoint is one field, so that its error accumulates with the others' (all missing variables at once).
  const endpoint = Config.all([optional(Config.string("TOKEN_URL")), optional(Config.string("ISSUER"))]).pipe(
    Config.mapOrFail(([tokenUrl, issuer]) => {
      // variables replace the endpoint given in overrides; they never mix with it
      const chosen = tokenUrl !== undefined || issuer !== undefined
        ? { tokenUrl, issuer }
        : { tokenUrl: overrides.tokenUrl, issuer: overrides.issuer }
      if (chosen.tokenUrl === undefined && chosen.issuer === undefined) {
        return Either.left(ConfigError.MissingData(
          ["TOKEN_URL"],
          `Expected ${variableName(prefix, "TOKEN_URL")} (the token endpoint) or ${
            variableName(prefix, "ISSUER")
          } (to discover it) to exist`
        ))
      }
      if (chosen.tokenUrl !== undefined && chosen.issuer !== undefined) {
        return Either.left(
          ConfigError.InvalidData(
            ["TOKEN_URL"],
            `set exactly one of ${variableName(prefix, "TOKEN_URL")} and ${variableName(prefix, "ISSUER")}`
          )
        )
      }
      return Either.right(chosen)
    })
  )
  const fields = Config.all({
    endpoint,
    clientId: Config.string("CLIENT_ID"),
    clientSecret: optional(Config.redacted("CLIENT_SECRET")) as Config.Config<Redacted.Redacted<string> | undefined>,
    files: Config.all({
      secret: files === undefined ? Config.succeed(undefined) : optional(Config.string("CLIENT_SECRET_FILE")),
      assertion: files === undefined ? Config.succeed(undefined) : optional(Config.string("CLIENT_ASSERTION_FILE"))
    }),
    scope: optionalList("SCOPE"),
    audience: optional(Config.string("AUDIENCE")),
    resource: optionalList("RESOURCE"),
    authMethod: optional(oneOf(prefix, "AUTH_METHOD", authMethods)),
    clientAssertion: Config.all({
      key: optional(Config.redacted("CLIENT_ASSERTION_KEY")) as Config.Config<Redacted.Redacted<string> | undefined>,
      alg: optional(oneOf(prefix, "CLIENT_ASSERTION_ALG", algorithms)),
      kid: optional(Config.string("CLIENT_ASSERTION_KID")),
      audience: optional(Config.string("CLIENT_ASSERTION_AUDIENCE"))
    }),
    dpop: Config.all({
      key: optional(Config.redacted("DPOP_KEY")) as Config.Config<Redacted.Redacted<string> | undefined>,
      alg: optional(oneOf(prefix, "DPOP_ALG", dpopAlgorithms))
    })
  })
  return (prefix === "" ? fields : Config.nested(fields, prefix)).pipe(
    Config.mapOrFail(({ clientAssertion, dpop, endpoint, files: paths, ...env }) => {
      if (paths.secret !== undefined && env.clientSecret !== undefined) {
        return Either.left(ConfigError.InvalidData(
          ["CLIENT_SECRET_FILE"],
          `set one of ${variableName(prefix, "CLIENT_SECRET")} and ${variableName(prefix, "CLIENT_SECRET_FILE")}`
        ))
      }
      if (paths.assertion !== undefined && clientAssertion.key !== undefined) {
        return Either.left(ConfigError.InvalidData(
          ["CLIENT_ASSERTION_FILE"],
          `set one of ${variableName(prefix, "CLIENT_ASSERTION_KEY")} and ${
            variableName(prefix, "CLIENT_ASSERTION_FILE")
          }`
        ))
      }
      const fromFiles = files === undefined ? {} : {
        ...(paths.secret === undefined ? {} : { clientSecret: files.readFile(paths.secret, "client_secret") }),
        ...(paths.assertion === undefined ? {} : { source: files.readFile(paths.assertion, "client_assertion") })
      }
      const { source, ...secretFromFile } = fromFiles as { source?: unknown; clientSecret?: unknown }
      const assertion = {
        ...overrides.clientAssertion,
        ...dropUndefined(clientAssertion),
        ...(source === undefined ? {} : { source })
      }
      const dpopOptions = { ...overrides.dpop, ...dropUndefined(dpop) }
      if (dpop.key === undefined && dpop.alg !== undefined && overrides.dpop?.key === undefined) {
        return Either.left(
          ConfigError.InvalidData(["DPOP_KEY"], `${variableName(prefix, "DPOP_KEY")} is required with DPOP_ALG`)
        )
      }
      const { issuer: _issuer, tokenUrl: _tokenUrl, ...rest } = overrides
      const options = {
        ...rest,
        ...dropUndefined(endpoint),
        ...dropUndefined(env),
        ...secretFromFile,
        ...(Object.keys(assertion).length > 0 ? { clientAssertion: assertion } : {}),
        ...(dpopOptions.key !== undefined ? { dpop: dpopOptions } : {})
      } as ClientCredentials.Options
      return Either.mapLeft(validate(options), (error) => namingVariable(error, prefix))
    })
  )
}

/** The variable each option is read from. */
const variables: Readonly<Record<string, string>> = {
  tokenUrl: "TOKEN_URL",
  issuer: "ISSUER",
  clientId: "CLIENT_ID",
  clientSecret: "CLIENT_SECRET",
  "clientAssertion.source": "CLIENT_ASSERTION_FILE",
  scope: "SCOPE",
  audience: "AUDIENCE",
  resource: "RESOURCE",
  authMethod: "AUTH_METHOD",
  "clientAssertion.key": "CLIENT_ASSERTION_KEY",
  "clientAssertion.alg": "CLIENT_ASSERTION_ALG",
  "clientAssertion.kid": "CLIENT_ASSERTION_KID",
  "clientAssertion.audience": "CLIENT_ASSERTION_AUDIENCE",
  "dpop.key": "DPOP_KEY",
  "dpop.alg": "DPOP_ALG"
}

/**
 * A validation error of options read from the environment names the variable a user would set
 * (`OAUTH_CLIENT_SECRET`), not the option (`clientSecret`); an option without a variable (given in
 * `overrides`) keeps its name.
 */
const namingVariable = (error: ConfigError.ConfigError, prefix: string): ConfigError.ConfigError => {
  if (error._op !== "InvalidData" && error._op !== "MissingData") return error
  const variable = variables[error.path.join(".")]
  if (variable === undefined) return error
  // the provider puts the prefix before the path (OAUTH.CLIENT_SECRET); the message names the variable
  const message = `${variableName(prefix, variable)} ${error.message}`
  return error._op === "InvalidData"
    ? ConfigError.InvalidData([variable], message)
    : ConfigError.MissingData([variable], message)
}

const variableName = (prefix: string, variable: string) => prefix === "" ? variable : `${prefix}_${variable}`

/** One of `values`, or an error naming the variable and what it may be. */
const oneOf = <A extends string>(prefix: string, variable: string, values: ReadonlyArray<A>) =>
  Config.string(variable).pipe(Config.mapOrFail((value) =>
    values.includes(value as A)
      ? Either.right(value as A)
      : Either.left(
        ConfigError.InvalidData([], `${variableName(prefix, variable)} must be one of ${values.join(", ")}`)
      )
  ))

const dropUndefined = <A extends object>(a: A): Partial<A> =>
  Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Partial<A>
