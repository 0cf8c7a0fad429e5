// Lint: a small, strict set of type-aware rules (issue #18), no stylistic rules.
// `npm run lint`; `npm test` runs it after the build. Each file is checked with
// the nearest tsconfig.json (projectService): ui/src with ui/tsconfig.json, the
// rest with the root one.
import tseslint from 'typescript-eslint'

export default [
  {
    // TypeScript only (examples/ and scripts/*.mjs are plain JS); build output and golden fixtures are not ours to lint
    ignores: ['**/*.js', '**/*.mjs', '**/*.cjs', 'dist/**', 'build/**', 'gen/**', '.node/**', 'test/golden/**', 'test/fixtures/**']
  },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'fuzz/**/*.ts', 'ui/src/**/*.ts', 'scripts/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname
      }
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }]
      }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {
        args: 'after-used',
        argsIgnorePattern: '^_',
        varsIgnorePattern: '^_',
        caughtErrors: 'all',
        caughtErrorsIgnorePattern: '^_',
        destructuredArrayIgnorePattern: '^_',
        // `const { secret, ...rest } = o` leaves secret out on purpose
        ignoreRestSiblings: true
      }],
      '@typescript-eslint/no-unused-expressions': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unnecessary-type-assertion': 'error'
    }
  }
]
