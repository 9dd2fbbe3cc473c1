// Writes docs/configuration.md from the settings table (`npm run docs`).
import { writeFileSync } from 'node:fs'
import { configurationReference } from '../src/config/index.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationReference())
