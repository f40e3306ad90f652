import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as TokenError from "../TokenError.js"
import { makeScrub, type Scrub } from "./scrub.js"

/**
 * A credential as the options give it: a value, or an `Effect` producing one, run on every token request (a
 * secret or a workload identity token read from a file that is rotated while the process runs).
 *
 * @internal
 */
export type Input = Redacted.Redacted<string> | Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError>

/**
 * A credential read on every attempt. It remembers the value last sent, so that after an `invalid_client` the
 * provider can ask whether the source now gives another one (`rotated`), and masks every value it has read
 * (`scrub`): the secret actually sent, a rotated one too, never only the one configured at start.
 *
 * @internal
 */
export interface CredentialSource {
  /** Reads the credential; the value is remembered as the one sent. */
  readonly read: Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError>
  /** Reads the source again: `true` when it now gives another value than the last one read. */
  readonly rotated: Effect.Effect<boolean, TokenError.TokenError>
  /** Masks every value the source has given, in the encodings `makeScrub` knows. */
  readonly scrub: Scrub
}

/** How many distinct values a source's scrub keeps masking (the most recent ones). */
const maxRemembered = 8

/**
 * The source of `input`: a fixed value is read without effect; an `Effect` runs on every read.
 *
 * @internal
 */
export const make = (input: Input, clientId: string): CredentialSource => {
  const fixed = Redacted.isRedacted(input)
  const source: Effect.Effect<Redacted.Redacted<string>, TokenError.TokenError> = fixed
    ? Effect.succeed(input)
    : input
  let last: string | undefined
  let scrubs: Array<readonly [string, Scrub]> = []
  const remember = (value: Redacted.Redacted<string>) => {
    const raw = Redacted.value(value)
    last = raw
    if (scrubs.some(([known]) => known === raw)) return
    scrubs = [...scrubs, [raw, makeScrub(value, clientId)] as const].slice(-maxRemembered)
  }
  if (fixed) remember(input)
  return {
    read: Effect.tap(source, (value) => Effect.sync(() => remember(value))),
    rotated: fixed ? Effect.succeed(false) : Effect.map(source, (value) => Redacted.value(value) !== last),
    scrub: (text) => scrubs.reduce((masked, [, scrub]) => scrub(masked), text)
  }
}

/**
 * One scrub for the sources a provider reads (the secret, the assertion): each masks every value it gave.
 *
 * @internal
 */
export const scrubSources = (...sources: ReadonlyArray<CredentialSource | undefined>): Scrub => (text) =>
  sources.reduce((masked, source) => source === undefined ? masked : source.scrub(masked), text)
