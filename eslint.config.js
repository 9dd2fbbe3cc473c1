// The project's style: neostandard (the maintained successor of standard, as fastify uses), with
// TypeScript, and lines of at most 200 characters. A line that is one sentence for people (a
// description, a message, a line of text on its own) may run longer: it reads better whole than
// cut, and a search for it finds it.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/results/**', '.venv-test/**', 'node_modules/**'] }),
  {
    rules: {
      '@stylistic/max-len': ['error', { code: 200, ignoreUrls: true, ignoreRegExpLiterals: true, ignorePattern: String.raw`^\s*(description|summary|allowed|help|message|error_description): |^\s*['"\x60]` }],
      // Several short properties on one line, then one a line: the project's style.
      '@stylistic/object-property-newline': 'off',
      // `void promise` marks a promise left to run on purpose (fastify's reply methods return one).
      'no-void': ['error', { allowAsStatement: true }]
    }
  }
]
