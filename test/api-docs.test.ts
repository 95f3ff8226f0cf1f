// Every export of @lad/tensor, @lad/nn and @lad/lad (through namespaces such as `F`) has a doc
// comment, which `pnpm run docs` (TypeDoc) turns into the API reference; the test names the ones
// without.
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const PACKAGES = ['tensor', 'nn', 'lad'] as const;

/** `pkg:Name` (or `pkg:Namespace.Name`) of every export of the package without a doc comment. */
function undocumented(program: ts.Program, pkg: string): string[] {
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(`packages/${pkg}/src/index.ts`)!;
  const out: string[] = [];
  const visit = (moduleSymbol: ts.Symbol, prefix: string) => {
    for (const exp of checker.getExportsOfModule(moduleSymbol)) {
      const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
      const decls = sym.getDeclarations() ?? [];
      const isNamespace = decls.some((d) => ts.isSourceFile(d) || ts.isNamespaceExport(d));
      if (isNamespace) {
        visit(sym, `${prefix}${exp.name}.`); // `export * as F from ...`: its members are the exports
        continue;
      }
      const documented = sym.getDocumentationComment(checker).length > 0 || decls.some((d) => ts.getJSDocCommentsAndTags(d).length > 0);
      if (!documented) out.push(`${pkg}:${prefix}${exp.name}`);
    }
  };
  visit(checker.getSymbolAtLocation(file)!, '');
  return out.sort();
}

describe('API reference', () => {
  it('every export has a doc comment', () => {
    const program = ts.createProgram(
      PACKAGES.map((p) => `packages/${p}/src/index.ts`),
      {
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        allowImportingTsExtensions: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
    );
    const missing = PACKAGES.flatMap((p) => undocumented(program, p));
    expect(missing, 'exports without a doc comment (add a /** ... */ comment)').toEqual([]);
  }, 120_000);
});
