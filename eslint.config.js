// ESLint flat config: typescript-eslint's recommended rules, plus the import boundaries of docs/architecture.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const boundary = (from, forbidden) => ({
  files: [`${from}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: forbidden.map((dir) => ({ group: [`**/${dir}/*`, `**/${dir}/**`], message: `${from}/ must not import ${dir}/ (see docs/architecture.md, Layout).` })) },
    ],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/**', '.tap/**', 'bench/results/**', 'charts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', structuredClone: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  boundary('api', ['compiler', 'operator', 'dataplane', 'cli', 'kube']),
  boundary('kube', ['compiler', 'operator', 'dataplane', 'cli']),
  boundary('compiler', ['operator', 'dataplane', 'cli']),
  boundary('operator', ['dataplane', 'cli']),
  boundary('dataplane', ['operator', 'cli']),
  {
    // The compiler is pure: no file, network, process or clock access.
    files: ['compiler/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:fs', 'node:fs/promises', 'node:net', 'node:http', 'node:https', 'node:child_process', 'node:process', '@kubernetes/client-node'].map((name) => ({
            name,
            message: 'compiler/ is pure: no I/O (see docs/architecture.md).',
          })),
          patterns: [{ group: ['**/operator/**', '**/dataplane/**', '**/cli/**'], message: 'compiler/ imports only api/.' }],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'compiler/ takes the time as input (CompileInput.now).' },
        { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'compiler/ takes the time as input (CompileInput.now).' },
        { selector: "MemberExpression[object.name='process']", message: 'compiler/ must not read the process environment.' },
        { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'compiler/ is deterministic.' },
      ],
    },
  },
);
