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
      'no-void': ['error', { allowAsStatement: true }],
      // The test helpers' MCP clients have a method named `call`, which the rule takes for Function.prototype.call.
      'no-useless-call': 'off',
      // A promise's resolve named for what it waits for (`done`) reads better in nested promises.
      'promise/param-names': ['error', { resolvePattern: '^_?(resolve|done)$' }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // TypeScript checks redeclarations itself, and a type and a value may share a name.
      '@typescript-eslint/no-redeclare': 'off',
      // `_` names a value that must be taken but is not used (a for-await over progress events).
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, vars: 'all', varsIgnorePattern: '^_' }]
    }
  }
]
