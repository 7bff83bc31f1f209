// One jest run over every package: tests import the workspace packages from src/ (no build
// needed for unit tests); tests that spawn apps/load_balancer use its built dist/.
/** @type {import('jest').Config} */
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }];
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/apps', '<rootDir>/bench', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // .mjs too: bench/ is plain ESM JavaScript, compiled to CommonJS for jest like the .ts files.
  transform: { '^.+\\.(t|j)sx?$': swc, '^.+\\.mjs$': swc },
  moduleNameMapper: {
    '^@pingora-ts/(core|pool|load-balancing|proxy|cache|observability)$': '<rootDir>/packages/$1/src/index.ts',
    // Subpath exports map to their entry file the same way (package.json "exports").
    '^@pingora-ts/core/internal$': '<rootDir>/packages/core/src/internal.ts',
    '^@pingora-ts/load-balancing/undici$': '<rootDir>/packages/load-balancing/src/undici.ts',
    '^@pingora-ts/observability/sentry$': '<rootDir>/packages/observability/src/sentry.ts',
  },
  testTimeout: 30000,
  maxWorkers: 2,
};
