import * as CliConfig from "@effect/cli/CliConfig"
import type * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Usage from "@effect/cli/Usage"
import { stripAnsi } from "./cliConsole.js"

/** One flag of a subcommand, as its usage line shows it. @internal */
export interface Flag {
  readonly names: ReadonlyArray<string>
  /** `"none"` for a switch, `"file"` for a path, `"choice"` with `choices`, else `"text"`. */
  readonly value: "none" | "text" | "file" | "choice"
  readonly choices: ReadonlyArray<string>
}

/** A subcommand's name and flags; positional arguments complete as files. @internal */
export interface Spec {
  readonly name: string
  readonly flags: ReadonlyArray<Flag>
  /** Words for the positional argument instead of file names. */
  readonly positional?: ReadonlyArray<string> | undefined
}

const fileFlag = /(?:-file|^--cert|^--key|^--cacert|^--config)$/

/**
 * Reads the flags of a command from its usage line (`[--token-url text] [(-v, --verbose)] [--auth-method a | b]`),
 * so the completions always list what the parser accepts.
 *
 * @internal
 */
export const specOf = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>): Spec => {
  const descriptor = command.descriptor
  const name = Array.from(CommandDescriptor.getNames(descriptor))[0]!
  const usage = Usage.enumerate(CommandDescriptor.getUsage(descriptor), CliConfig.defaultConfig)
  const text = usage.map((span) => stripAnsi(HelpDoc.toAnsiText(HelpDoc.p(span)))).join(" ")
  const flags: Array<Flag> = []
  // `[--a text]`, `[(-v, --verbose)]`, `(-H, --header text)...`: the names, then what the value looks like
  for (const group of text.matchAll(/\[\(([^)]*)\)\]|\(([^)]*)\)|\[([^\]]*)\]/g)) {
    const parts = (group[1] ?? group[2] ?? group[3]!).split(",").map((part) => part.trim())
    const names = parts.map((part) => part.split(/\s+/)[0]!).filter((n) => n.startsWith("-"))
    if (names.length === 0) continue
    const last = parts[parts.length - 1]!
    const rest = last.slice(last.split(/\s+/)[0]!.length).trim()
    const choices = rest.includes("|") ? rest.split("|").map((c) => c.trim()).filter((c) => c.length > 0) : []
    const long = names.find((n) => n.startsWith("--")) ?? names[0]!
    const value = rest === "" ? "none" : choices.length > 0 ? "choice" : fileFlag.test(long) ? "file" : "text"
    flags.push({ names, value, choices })
  }
  return { name, flags }
}

const builtIn: ReadonlyArray<string> = ["--help", "-h", "--version"]

const words = (spec: Spec) => [...spec.flags.flatMap((flag) => flag.names), "--help", "-h"].join(" ")

const valueFlags = (spec: Spec, kind: Flag["value"]) =>
  spec.flags.filter((flag) => flag.value === kind).flatMap((flag) => flag.names)

const bashQuote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`

/** A bash completion script: `source <(oauth-cc completions bash)`. @internal */
export const bash = (program: string, specs: ReadonlyArray<Spec>): string => {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}_complete`
  const names = specs.map((spec) => spec.name).join("|")
  const cases = specs.map((spec) => {
    const choiceCases = spec.flags.filter((flag) => flag.value === "choice").map((flag) =>
      `        ${flag.names.join("|")}) COMPREPLY=($(compgen -W ${
        bashQuote(flag.choices.join(" "))
      } -- "$cur")); return 0;;`
    )
    const files = valueFlags(spec, "file")
    const texts = valueFlags(spec, "text")
    return [
      `    ${spec.name})`,
      `      case "$prev" in`,
      ...choiceCases,
      ...(files.length > 0 ? [`        ${files.join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return 0;;`] : []),
      ...(texts.length > 0 ? [`        ${texts.join("|")}) COMPREPLY=(); return 0;;`] : []),
      `      esac`,
      `      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W ${bashQuote(words(spec))} -- "$cur"))`,
      spec.positional === undefined
        ? `      else COMPREPLY=($(compgen -f -- "$cur")); fi`
        : `      else COMPREPLY=($(compgen -W ${bashQuote(spec.positional.join(" "))} -- "$cur")); fi`,
      `      ;;`
    ].join("\n")
  })
  return [
    `# ${program} completions for bash: source <(${program} completions bash)`,
    `${fn}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" sub="" i`,
    `  for ((i = 1; i < COMP_CWORD; i++)); do`,
    `    case "\${COMP_WORDS[i]}" in ${names}) sub="\${COMP_WORDS[i]}"; break;; esac`,
    `  done`,
    `  case "$sub" in`,
    `    "") COMPREPLY=($(compgen -W ${bashQuote([...specs.map((s) => s.name), ...builtIn].join(" "))} -- "$cur"));;`,
    ...cases,
    `  esac`,
    `}`,
    `complete -o filenames -F ${fn} ${program}`,
    ``
  ].join("\n")
}

const zshQuote = bashQuote

/** A zsh completion script: `source <(oauth-cc completions zsh)` after `compinit`. @internal */
export const zsh = (program: string, specs: ReadonlyArray<Spec>): string => {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}_complete`
  const names = specs.map((spec) => spec.name).join("|")
  const cases = specs.map((spec) => {
    const choiceCases = spec.flags.filter((flag) => flag.value === "choice").map((flag) =>
      `        ${flag.names.join("|")}) compadd -- ${flag.choices.map(zshQuote).join(" ")}; return;;`
    )
    const files = valueFlags(spec, "file")
    const texts = valueFlags(spec, "text")
    return [
      `    ${spec.name})`,
      `      case "$prev" in`,
      ...choiceCases,
      ...(files.length > 0 ? [`        ${files.join("|")}) _files; return;;`] : []),
      ...(texts.length > 0 ? [`        ${texts.join("|")}) return;;`] : []),
      `      esac`,
      `      if [[ "$cur" == -* ]]; then compadd -- ${words(spec).split(" ").map(zshQuote).join(" ")}`,
      spec.positional === undefined
        ? `      else _files; fi`
        : `      else compadd -- ${spec.positional.map(zshQuote).join(" ")}; fi`,
      `      ;;`
    ].join("\n")
  })
  return [
    `#compdef ${program}`,
    `# ${program} completions for zsh: source <(${program} completions zsh) (after compinit)`,
    `${fn}() {`,
    `  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" sub="" i`,
    `  for ((i = 2; i < CURRENT; i++)); do`,
    `    case "\${words[i]}" in ${names}) sub="\${words[i]}"; break;; esac`,
    `  done`,
    `  case "$sub" in`,
    `    "") compadd -- ${[...specs.map((s) => s.name), ...builtIn].map(zshQuote).join(" ")};;`,
    ...cases,
    `  esac`,
    `}`,
    `(( $+functions[compdef] )) && compdef ${fn} ${program}`,
    ``
  ].join("\n")
}

const fishQuote = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

/** A fish completion script: `oauth-cc completions fish | source`. @internal */
export const fish = (program: string, specs: ReadonlyArray<Spec>): string => {
  const all = specs.map((spec) => spec.name).join(" ")
  const lines = [
    `# ${program} completions for fish: ${program} completions fish | source`,
    `complete -c ${program} -e`,
    `complete -c ${program} -n "not __fish_seen_subcommand_from ${all}" -f -a ${fishQuote(all)}`,
    `complete -c ${program} -n "not __fish_seen_subcommand_from ${all}" -l help -s h -l version`
  ]
  for (const spec of specs) {
    const when = `-n "__fish_seen_subcommand_from ${spec.name}"`
    if (spec.positional !== undefined) {
      lines.push(`complete -c ${program} ${when} -f -a ${fishQuote(spec.positional.join(" "))}`)
    }
    for (const flag of [...spec.flags, { names: ["--help", "-h"], value: "none", choices: [] } as Flag]) {
      const parts = flag.names.map((n) => n.startsWith("--") ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`)
      const value = flag.value === "none"
        ? ""
        : flag.value === "file"
        ? " -r -F"
        : flag.value === "choice"
        ? ` -r -f -a ${fishQuote(flag.choices.join(" "))}`
        : " -r -f"
      lines.push(`complete -c ${program} ${when} ${parts.join(" ")}${value}`)
    }
  }
  return `${lines.join("\n")}\n`
}
