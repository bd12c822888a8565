import ts from 'typescript';
import type { Plugin } from 'vite';

/**
 * Vite's TypeScript transform (oxc) does not lower standard (TC39) decorators yet. Files named
 * `*.decorated.ts` (and `*.decorated.test.ts`) are compiled by TypeScript first, which does.
 */
export function standardDecorators(): Plugin {
  return {
    name: 'atmosphere:standard-decorators',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0] ?? id;
      if (!/\.decorated(\.test)?\.ts$/.test(file)) return undefined;
      const output = ts.transpileModule(code, {
        fileName: file,
        compilerOptions: {
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          sourceMap: true,
          verbatimModuleSyntax: false,
        },
      });
      return { code: output.outputText, map: output.sourceMapText ?? null };
    },
  };
}
