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

/**
 * The layers of src/, lowest first: a folder may import from the folders before it, never from
 * the ones after it (house style, "Dependency direction"). transport, mdns and trust share a
 * level; of them only transport uses another (trust: it verifies peer certificates during TLS).
 * src/ship has its own, stricter block below; src/index.ts, the package entry, may import anything.
 */
const LAYERS = [
  ['util', []],
  ['spine', ['util', 'ship']],
  ['transport', ['util', 'ship', 'trust']],
  ['mdns', ['util', 'ship']],
  ['trust', ['util', 'ship']],
  ['hub', ['util', 'ship', 'spine', 'transport', 'mdns', 'trust']],
  ['ops', ['util', 'ship', 'spine', 'transport', 'mdns', 'trust', 'hub']],
  ['cli', ['util', 'ship', 'spine', 'transport', 'mdns', 'trust', 'hub', 'ops']],
];
const FOLDERS = ['util', 'ship', 'spine', 'transport', 'mdns', 'trust', 'hub', 'ops', 'cli'];

/** Timer functions that bypass the injected clock (named, listable timers: src/util/clock.ts). */
const RAW_TIMER_MESSAGE =
  'Timers go through the injected Clock (clock.setTimer with a name), so tests can drive them and diagnostics can list them.';
const RAW_TIMER_MODULES = ['timers', 'timers/promises', 'node:timers', 'node:timers/promises'];

/** The one file that may call setTimeout/setInterval: the system clock behind the Clock port. */
const RAW_TIMER_ALLOWED = ['src/util/clock.ts'];

/** One no-restricted-imports block per layer: the folders above it and the package entry. */
const layerBlocks = LAYERS.map(([folder, allowed]) => {
  const forbidden = FOLDERS.filter((f) => f !== folder && !allowed.includes(f));
  const patterns = [
    {
      group: RAW_TIMER_MODULES,
      message: RAW_TIMER_MESSAGE,
    },
    {
      group: ['../index.js', '../../index.js', '../../../index.js'],
      message: 'src/index.ts is the public entry; import the module itself.',
    },
  ];
  if (forbidden.length > 0) {
    patterns.push({
      group: forbidden.flatMap((f) => [`**/${f}/**`, `../${f}`, `../../${f}`]),
      message: `src/${folder} may import only from ${allowed.length > 0 ? allowed.map((f) => `src/${f}`).join(', ') : 'itself'} (layers: docs/architecture.md).`,
    });
  }
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
});

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'coverage/**', 'eslint.config.js', 'scripts/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Numbers and booleans in messages read as they should; objects and undefined do not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
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
  ...layerBlocks,
  {
    // Issue 11 item 3: no source file over 500 lines, blank lines and comments included.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 500, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    // Before the src/ship block, which sets the same rules more strictly for the pure core.
    files: ['src/**/*.ts'],
    ignores: [...RAW_TIMER_ALLOWED, 'src/ship/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: RAW_TIMER_MESSAGE },
        { name: 'setInterval', message: RAW_TIMER_MESSAGE },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'globalThis', property: 'setTimeout', message: RAW_TIMER_MESSAGE },
        { object: 'globalThis', property: 'setInterval', message: RAW_TIMER_MESSAGE },
      ],
    },
  },
  {
    files: ['src/ship/**/*.ts', 'src/spine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: IMPURE_MODULES,
              message: 'src/ship and src/spine are the pure protocol cores: no I/O.',
            },
            {
              group: [
                '**/transport/**',
                '**/hub/**',
                '**/ops/**',
                '**/cli/**',
                '**/mdns/**',
                '**/trust/**',
              ],
              message: 'src/ship may only depend on src/util (src/spine also on src/ship).',
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
      // Tests read values the types call certain with ?. on purpose: a wrong value then fails
      // as an assertion that names it, not as a TypeError.
      '@typescript-eslint/no-unnecessary-condition': 'off',
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
