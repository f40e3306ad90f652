/**
 * Writes the published manifest fields of each published package from its `src/`: every `src/<Module>.ts`
 * (but `index.ts` and the CLI's `bin.ts`) is a public module, exported for `import` and `require` with the
 * types of each, listed in `typesVersions` for TypeScript's `node10` resolution; `./internal/*` and `./bin`
 * are closed. pnpm puts these `publishConfig` fields in the packed manifest; in the workspace, the packages
 * keep exporting their TypeScript sources so that tests and tsx need no build.
 *
 * `pnpm exports` after adding a public module; `scripts/build.ts` refuses to build a stale manifest.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const published = ["core", "testkit", "node-adapter", "redis"] as const

const withBin = new Set(["node-adapter", "testkit"])

export const publicModules = (pkgDir: string): Array<string> =>
  readdirSync(join(pkgDir, "src"))
    .filter((file) => file.endsWith(".ts") && file !== "index.ts" && file !== "bin.ts")
    .map((file) => file.slice(0, -3))
    .sort()

const entry = (module: string) => ({
  import: { types: `./dist/esm/${module}.d.ts`, default: `./dist/esm/${module}.js` },
  require: { types: `./dist/cjs/${module}.d.ts`, default: `./dist/cjs/${module}.js` }
})

export const publishConfig = (name: string, pkgDir: string) => {
  const modules = publicModules(pkgDir)
  return {
    main: "./dist/cjs/index.js",
    module: "./dist/esm/index.js",
    types: "./dist/cjs/index.d.ts",
    exports: {
      "./package.json": "./package.json",
      ".": entry("index"),
      ...Object.fromEntries(modules.map((module) => [`./${module}`, entry(module)])),
      "./internal/*": null,
      ...(withBin.has(name) ? { "./bin": null } : {})
    },
    typesVersions: { "*": Object.fromEntries(modules.map((module) => [module, [`./dist/cjs/${module}.d.ts`]])) },
    access: "public"
  }
}

if (import.meta.filename === process.argv[1]) {
  const root = join(import.meta.dirname, "..")
  for (const name of published) {
    const pkgDir = join(root, "packages", name)
    const file = join(pkgDir, "package.json")
    const manifest = JSON.parse(readFileSync(file, "utf8"))
    manifest.publishConfig = publishConfig(name, pkgDir)
    writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n")
  }
}
