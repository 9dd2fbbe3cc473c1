// Writes the references made from the code's own tables (`npm run docs`): docs/configuration.md
// from the settings table, docs/errors.md from the error catalogue.
import { writeFileSync } from 'node:fs'
import { configurationReference } from '../src/config/index.ts'
import { errorReference } from '../src/shared/error-codes.ts'

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationReference())
writeFileSync(new URL('../docs/errors.md', import.meta.url), errorReference())
