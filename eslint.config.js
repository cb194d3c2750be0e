import tseslint from 'typescript-eslint';
import { layeringRule } from './scripts/eslint-layering.js';

const ferry = { rules: { layering: layeringRule } };

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'patches/**'] },
  ...tseslint.configs.recommended,
  {
    plugins: { ferry },
    rules: {
      'ferry/layering': 'error',
      complexity: ['warn', 25],
      'max-depth': ['warn', 5],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'enums are not erasable syntax; use a union of string literals' }],
    },
  },
  {
    // The Raft core is pure and deterministic: time is a tick, randomness a parameter.
    files: ['cluster/raft/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'net', 'crypto', 'timers', 'events'], message: 'cluster/raft imports nothing outside itself (DESIGN.md)' }] }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'Date', 'process', 'performance'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'pass the seeded PRNG in' }],
    },
  },
);
