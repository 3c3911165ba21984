/**
 * The public API report of the package (issue 11 item 6), built with the TypeScript compiler API
 * from the declaration output (build/src/index.d.ts), so no extra tool is needed offline. The
 * report lists every export of the entry with its declaration as tsc emits it; a unit test
 * compares it with the committed docs/api/ship-hub.api.md, so an API change shows in review.
 * Regenerate with `npm run build && node scripts/gen-api-report.mjs`.
 */
import ts from 'typescript';
import { relative } from 'node:path';

export interface ApiReport {
  /** The markdown report. */
  text: string;
  /**
   * Types declared in the package, used in an exported signature, but not exported themselves:
   * `"Exported > Unexported (file)"`. Empty when the API is closed.
   */
  unexported: string[];
}

const HEADER = `# ship-hub public API

Generated from \`build/src/index.d.ts\` by \`node scripts/gen-api-report.mjs\` (after \`npm run build\`).
Do not edit: \`test/unit/api-report.test.ts\` fails when this file differs from the build, or when a
type used in an exported signature is not exported itself.
`;

function resolveAlias(checker: ts.TypeChecker, symbol: ts.Symbol): ts.Symbol {
  return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
}

function kindOf(declaration: ts.Declaration): string {
  if (ts.isClassDeclaration(declaration)) return 'class';
  if (ts.isInterfaceDeclaration(declaration)) return 'interface';
  if (ts.isTypeAliasDeclaration(declaration)) return 'type';
  if (ts.isFunctionDeclaration(declaration)) return 'function';
  if (ts.isVariableDeclaration(declaration)) return 'const';
  if (ts.isEnumDeclaration(declaration)) return 'enum';
  return ts.SyntaxKind[declaration.kind];
}

/** The declaration text without its TSDoc, one statement per export. */
function declarationText(declaration: ts.Declaration): string {
  const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
  return node.getText().replace(/^export (declare )?/, '');
}

/** @param root the repository root; build/ must hold a fresh build. */
export function renderApiReport(root: string): ApiReport {
  const entry = `${root}/build/src/index.d.ts`;
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (source === undefined) throw new Error(`no ${entry}: run npm run build first`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error(`${entry} is not a module`);

  const exports = checker
    .getExportsOfModule(moduleSymbol)
    .sort((a, b) => a.name.localeCompare(b.name, 'en'));
  const exported = new Set(exports.map((symbol) => resolveAlias(checker, symbol)));
  const buildSrc = `${root}/build/src/`;
  const unexported = new Set<string>();

  const sections: string[] = [];
  for (const symbol of exports) {
    const target = resolveAlias(checker, symbol);
    for (const declaration of target.declarations ?? []) {
      const file = declaration.getSourceFile().fileName;
      sections.push(
        `## ${kindOf(declaration)} \`${symbol.name}\`\n\nFrom \`${relative(root, file)
          .replace(/^build\//, '')
          .replace(/\.d\.ts$/, '.ts')}\`.\n\n\`\`\`ts\n${declarationText(declaration)}\n\`\`\`\n`,
      );
      const visit = (node: ts.Node): void => {
        if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
          const name = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
          const referenced = checker.getSymbolAtLocation(name);
          if (referenced !== undefined) {
            const resolved = resolveAlias(checker, referenced);
            const at = resolved.declarations?.[0]?.getSourceFile().fileName ?? '';
            const isTypeParameter = (resolved.flags & ts.SymbolFlags.TypeParameter) !== 0;
            if (!isTypeParameter && at.startsWith(buildSrc) && !exported.has(resolved)) {
              unexported.add(
                `${symbol.name} > ${resolved.name} (${relative(buildSrc, at).replace(/\.d\.ts$/, '.ts')})`,
              );
            }
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(declaration);
    }
  }
  return { text: `${HEADER}\n${sections.join('\n')}`, unexported: [...unexported].sort() };
}
