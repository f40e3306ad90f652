/**
 * Builds the package in the current directory the way Effect ships its packages: ESM in `dist/esm`, CommonJS in
 * `dist/cjs` (marked by its own `{"type":"commonjs"}` package.json), and declarations for each.
 *
 * - ESM and its declarations come from `tsc -b` (the package's tsconfig.json), so they are what `pnpm check` checks.
 * - CommonJS is the same sources transpiled file by file with esbuild (no bundling: one module per file, so a class
 *   has one identity whichever entry point loads it); its declarations are copies of the ESM ones, read as CommonJS
 *   types because of `dist/cjs/package.json`.
 * - ESM-only dependencies (jose) are bundled into `dist/cjs/vendor/` for the CommonJS build: Node ≥ 20.19 could
 *   `require` them, but jest's module system cannot, and the testkit promises jest.
 *
 * Run by each published package's `build` and `prepack` scripts: `pnpm pack` never packs a stale or missing dist.
 */
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { publishConfig } from "./exports.js"

/** Dependencies published as ESM only, bundled into the CommonJS build. */
const esmOnly = ["jose"]

const pkgDir = process.cwd()
const dist = join(pkgDir, "dist")
const esmDir = join(dist, "esm")
const cjsDir = join(dist, "cjs")
const root = join(import.meta.dirname, "..")

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]
  )

const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"))
const expected = publishConfig(manifest.name.replace("@oauth-cc/", ""), pkgDir)
if (JSON.stringify(manifest.publishConfig) !== JSON.stringify(expected)) {
  throw new Error(`${manifest.name}: publishConfig does not list the modules in src/; run \`pnpm exports\``)
}

rmSync(dist, { recursive: true, force: true })
rmSync(join(pkgDir, "build"), { recursive: true, force: true })

execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.json"], {
  cwd: pkgDir,
  stdio: "inherit"
})
if (!existsSync(join(esmDir, "index.js"))) {
  throw new Error(`tsc wrote no ${relative(pkgDir, esmDir)}/index.js: check outDir in tsconfig.json`)
}

const sources = walk(join(pkgDir, "src")).filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
await esbuild.build({
  entryPoints: sources.filter((file) => !file.endsWith("/bin.ts")),
  outbase: join(pkgDir, "src"),
  outdir: cjsDir,
  format: "cjs",
  platform: "neutral",
  target: "es2022",
  bundle: false,
  sourcemap: true,
  sourcesContent: false,
  logLevel: "warning"
})
writeFileSync(join(cjsDir, "package.json"), JSON.stringify({ type: "commonjs" }, null, 2) + "\n")

for (const file of walk(esmDir)) {
  if (file.endsWith(".d.ts") || file.endsWith(".d.ts.map")) {
    const target = join(cjsDir, relative(esmDir, file))
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(file, target)
  }
}

const requireFromPkg = createRequire(join(pkgDir, "package.json"))
const cjsFiles = walk(cjsDir).filter((file) => file.endsWith(".js"))
for (const name of esmOnly) {
  const pattern = `require("${name}")`
  const users = cjsFiles.filter((file) => readFileSync(file, "utf8").includes(pattern))
  if (users.length === 0) continue
  const vendored = join(cjsDir, "vendor", `${name}.js`)
  const pkgJson = join(dirname(requireFromPkg.resolve(name)), "..", "..", "package.json")
  const { license, version } = JSON.parse(readFileSync(pkgJson, "utf8")) as { license: string; version: string }
  const used = new Set(
    users.flatMap((file) => {
      const code = readFileSync(file, "utf8")
      const bindings = Array.from(code.matchAll(/var (\w+) = (?:__toESM\()?require\("([^"]+)"\)/g))
        .filter((m) => m[2] === name)
        .map((m) => m[1]!)
      return bindings.flatMap((binding) =>
        Array.from(code.matchAll(new RegExp(`\\b${binding}\\.(\\w+)`, "g")), (m) => m[1]!)
      )
    })
  )
  await esbuild.build({
    stdin: {
      contents: used.size > 0
        ? `export { ${[...used].join(", ")} } from ${JSON.stringify(name)}`
        : `export * from ${JSON.stringify(name)}`,
      resolveDir: pkgDir
    },
    outfile: vendored,
    bundle: true,
    format: "cjs",
    platform: "neutral",
    mainFields: ["module", "main"],
    target: "es2022",
    legalComments: "inline",
    banner: { js: `/* ${name}@${version} (${license}), bundled for CommonJS consumers; ESM imports the package. */` },
    logLevel: "warning"
  })
  for (const file of users) {
    const rel = relative(dirname(file), vendored).replace(/\\/g, "/")
    const spec = rel.startsWith(".") ? rel : `./${rel}`
    writeFileSync(file, readFileSync(file, "utf8").replaceAll(pattern, `require(${JSON.stringify(spec)})`))
  }
}

for (const file of walk(dist)) {
  if (file.endsWith(".tsbuildinfo")) rmSync(file)
}
console.log(`built ${relative(root, pkgDir)}: dist/esm, dist/cjs (${sources.length} modules)`)
