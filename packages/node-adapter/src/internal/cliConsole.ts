import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const ansi = /\x1b\[[0-9;]*[A-Za-z]/g

/** @internal */
export const stripAnsi = (text: string): string => text.replace(ansi, "")

/**
 * Whether help and messages may carry ANSI styles: only on a terminal, and never with `NO_COLOR` set
 * (https://no-color.org: any non-empty value).
 *
 * @internal
 */
export const useColor = (stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "")

const plainConsole = (console: Console.Console, stdout: boolean, stderr: boolean): Console.Console => {
  const map = (strip: boolean) => (args: ReadonlyArray<unknown>) =>
    strip ? args.map((arg) => typeof arg === "string" ? stripAnsi(arg) : arg) : args
  const out = map(!stdout)
  const err = map(!stderr)
  return {
    ...console,
    log: (...args) => console.log(...out(args)),
    info: (...args) => console.info(...out(args)),
    error: (...args) => console.error(...err(args)),
    warn: (...args) => console.warn(...err(args)),
    unsafe: {
      ...console.unsafe,
      log: (...args) => console.unsafe.log(...out(args)),
      info: (...args) => console.unsafe.info(...out(args)),
      error: (...args) => console.unsafe.error(...err(args)),
      warn: (...args) => console.unsafe.warn(...err(args))
    }
  }
}

/**
 * Runs `effect` with a console that strips @effect/cli's ANSI styles (help, usage errors) from what goes
 * to a stream that is not a terminal, or to any stream when `NO_COLOR` is set.
 *
 * @internal
 */
export const withPlainConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (console) =>
    Effect.withConsole(
      effect,
      plainConsole(console, useColor(process.stdout, process.env), useColor(process.stderr, process.env))
    ))
