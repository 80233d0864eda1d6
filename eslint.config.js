// ESLint flat config: eslint's and typescript-eslint's `recommended` sets (syntax-only, no type
// information: type-aware linting of this tree costs several times as much on 2 cores), plus the
// project's conventions. Formatting is Prettier's job (.prettierrc.json), not ESLint's.
//   npm run lint        eslint .
//   npm run lint:fix    eslint --fix .
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    'dist/',
    'coverage/',
    'data/',
    '.tap/',
    'tmp/',
    'openapi/openapi.json',
    // AssemblyScript, not TypeScript: top-level decorators (@inline function) and its own types
    // (i32, v128, load<T>) that the TypeScript parser rejects. asc checks it when it compiles.
    'src/math/kernels/wasm/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // Unused names are errors, except the ones spelled `_x` on purpose (placeholders, ignored
      // arguments of callbacks with a fixed signature, the rest of a destructuring).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // The code already writes `import type { X }` and `import { y, type X }`: make it the rule
      // (auto-fixable), so type-only imports never load a module at run time.
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // Cheap, auto-fixable consistency.
      'prefer-const': ['error', { destructuring: 'all' }],
      'no-var': 'error',
      'object-shorthand': ['error', 'properties'],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Tests, benchmarks and scripts read JSON responses and poke at internals: `any` there is a
    // reasonable shortcut (31 uses today). src/ has none and stays strict.
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Plain JavaScript (this file, scripts/*.mjs): no TypeScript-only rules.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
