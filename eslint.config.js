// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Imports that would make the pure SHIP core impure (house style: ship/ never touches I/O). */
const IMPURE_MODULES = [
  'node:*',
  'fs',
  'net',
  'tls',
  'dgram',
  'http',
  'https',
  'crypto',
  'ws',
  'pino',
  'fastify',
  'prom-client',
];

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'coverage/**', 'eslint.config.js', 'scripts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        // A `default:` does not count as handling a union's members: a new member must be
        // handled (or listed) where it is switched on, not swallowed by a catch-all.
        { considerDefaultExhaustiveForUnions: false },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['src/ship/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: IMPURE_MODULES, message: 'src/ship is the pure protocol core: no I/O.' },
            {
              group: [
                '**/transport/**',
                '**/hub/**',
                '**/ops/**',
                '**/cli/**',
                '**/mdns/**',
                '**/trust/**',
              ],
              message: 'src/ship may only depend on src/util.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask'].map((name) => ({
          name,
          message: 'Timers are effects; the driver runs them.',
        })),
        ...['clearTimeout', 'clearInterval', 'clearImmediate'].map((name) => ({
          name,
          message: 'Timers are effects; the driver runs them.',
        })),
        { name: 'process', message: 'No process access in the pure core.' },
        { name: 'performance', message: 'Time comes with every input (the injected clock).' },
        { name: 'Buffer', message: 'Node-only: use Uint8Array (the core runs without node:*).' },
        { name: 'global', message: 'No global state in the pure core.' },
        {
          name: 'globalThis',
          message: 'No global state or timers via globalThis in the pure core.',
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Time comes from the injected clock.' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date']",
          message: 'Time comes with every input (the injected clock); no new Date() in the core.',
        },
        {
          selector: "CallExpression[callee.name='Date']",
          message: 'Date() reads the wall clock; time comes with every input.',
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  prettier,
);
