// Linter: eslint (flat config) with typescript-eslint's recommended rules.
// Why eslint rather than biome: typescript-eslint understands the project's tsconfig and the
// same rule set covers the .ts packages and the plain-ESM .mjs bench; its rules are the ones
// TypeScript users already know.
// Not type-aware: `recommendedTypeChecked` over this repo took 54 s on the 2-core CI machine
// (vs ~10 s without types), not "well under a minute"; `pnpm typecheck` already runs tsc.
// Covers everything not built or generated: packages/*/{src,test,examples,bench}, apps/*,
// bench/ (plain ESM .mjs), test-support/, and the root config files.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', 'bench/results/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The house convention for a parameter an implementation must accept but does not use
      // (an interface method, a hook's leading arguments): name it `_x`.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'all' }],
    },
  },
  {
    files: ['**/test/**/*.ts', 'test-support/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    // CommonJS files (jest's config, test fixtures run as child processes): require() is
    // their module system, not a TypeScript import written the old way.
    files: ['**/*.cjs', 'jest.config.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
