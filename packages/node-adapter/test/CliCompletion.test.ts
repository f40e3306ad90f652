/**
 * The completion scripts, run by the shells themselves: bash calls the completion function with COMP_WORDS as
 * it would on <TAB>; fish answers `complete -C`; zsh runs the function with `words`/`CURRENT` set and a
 * `compadd` that keeps what matches the word being completed (the filtering zsh's own compadd does).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { runCliInProcess } from "./fixtures/cliInProcess.js"

const shellPath = (name: string) => ["/usr/bin", "/bin"].map((dir) => path.join(dir, name)).find(existsSync)

const exec = (file: string, args: ReadonlyArray<string>) =>
  Effect.async<string>((resume) => {
    execFile(file, [...args], { timeout: 20_000, env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir() } }, (
      error,
      stdout,
      stderr
    ) => resume(error ? Effect.die(new Error(`${file}: ${error.message}\n${stderr}`)) : Effect.succeed(stdout)))
  })

const script = (shell: string) =>
  Effect.gen(function*() {
    const run = yield* runCliInProcess(["completions", shell], {})
    assert.strictEqual(run.code, 0, run.stderr)
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "oauth-cc-completion-"))),
      (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    )
    const file = path.join(dir, `oauth-cc.${shell}`)
    yield* Effect.promise(() => fs.writeFile(file, run.stdout))
    return file
  })

/** The command lines typed before <TAB>, and what must be offered. */
const cases: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
  [["oauth-cc", "tok"], ["token"]],
  [["oauth-cc", "token", "--j"], ["--json"]],
  [["oauth-cc", "token", "--client-secret-"], ["--client-secret-file", "--client-secret-stdin"]],
  [["oauth-cc", "request", "-v", "--inc"], ["--include"]],
  [["oauth-cc", "request", "--data-f"], ["--data-file"]],
  [["oauth-cc", "token", "--auth-method", "client_secret_p"], ["client_secret_post"]],
  [["oauth-cc", "token", "--tim"], ["--timeout"]],
  [["oauth-cc", "completions", "z"], ["zsh"]]
]

const lines = (text: string) => text.split("\n").map((line) => line.split("\t")[0]!.trim()).filter((l) => l !== "")

describe("shell completions complete subcommands, their options and option values", { timeout: 120_000 }, () => {
  it.scopedLive("bash: the completion function on COMP_WORDS", () =>
    Effect.gen(function*() {
      const bash = shellPath("bash")!
      const file = yield* script("bash")
      for (const [typed, expected] of cases) {
        const words = typed.map((w) => `'${w}'`).join(" ")
        const out = yield* exec(bash, [
          "-c",
          `source '${file}'; COMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}; _oauth_cc_complete; ` +
          `printf '%s\\n' "\${COMPREPLY[@]}"`
        ])
        assert.deepStrictEqual(lines(out).sort(), [...expected].sort(), typed.join(" "))
      }
      // And `complete` registered it for the command.
      const registered = yield* exec(bash, ["-c", `source '${file}'; complete -p oauth-cc`])
      assert.include(registered, "-F _oauth_cc_complete oauth-cc")
    }))

  it.scopedLive("fish: complete -C", () =>
    Effect.gen(function*() {
      const fish = shellPath("fish")
      assert.isDefined(fish, "fish is installed (apt-get install fish)")
      const file = yield* script("fish")
      for (const [typed, expected] of cases) {
        const out = yield* exec(fish!, ["-c", `source '${file}'; complete -C '${typed.join(" ")}'`])
        assert.deepStrictEqual(lines(out).sort(), [...expected].sort(), typed.join(" "))
      }
    }))

  it.scopedLive("zsh: the completion function on words/CURRENT", () =>
    Effect.gen(function*() {
      const zsh = shellPath("zsh")
      assert.isDefined(zsh, "zsh is installed (apt-get install zsh)")
      const file = yield* script("zsh")
      for (const [typed, expected] of cases) {
        const words = typed.map((w) => `'${w}'`).join(" ")
        const out = yield* exec(zsh!, [
          "-f",
          "-c",
          `compadd() { local w; [[ $1 == -- ]] && shift; for w in "$@"; do [[ $w == \${words[CURRENT]}* ]] && print -r -- $w; done }; ` +
          `_files() { print FILES }; source '${file}'; words=(${words}); CURRENT=${typed.length}; _oauth_cc_complete; true`
        ])
        assert.deepStrictEqual(lines(out).sort(), [...expected].sort(), typed.join(" "))
      }
    }))
})
