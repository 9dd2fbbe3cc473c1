import { readFileSync } from 'node:fs'

/** The package version, read once from package.json (two levels up from src/shared or dist/shared). */
export const VERSION: string = (JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8')
) as { version: string }).version

/** `linux-x64`, `linux-arm64`, `darwin-arm64`, ...: the platform part of the info document. */
export const PLATFORM = `${process.platform}-${process.arch}`
