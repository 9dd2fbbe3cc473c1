import { UsageError } from '../shared/errors.ts'

/** One setting that could not be accepted, with where its value came from. */
export interface ConfigProblem {
  setting: string
  source: string
  message: string
}

/** The configuration cannot be used; every problem found is listed, not only the first. */
export class ConfigError extends UsageError {
  readonly problems: ConfigProblem[]

  constructor (problems: ConfigProblem[]) {
    super('config_invalid', problems.map((p) => `${p.setting} (${p.source}): ${p.message}`).join('\n'))
    this.problems = problems
  }
}
