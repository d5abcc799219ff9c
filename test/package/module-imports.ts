/**
 * What a module imports, read with the TypeScript parser rather than regular
 * expressions, so that comments, strings and multi-line import lists cannot
 * fool it. Works for the TypeScript source and for the compiled JavaScript.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** One module specifier a file names. */
export interface ModuleImport {
  /** As written: `./store.ts`, `koa`, `node:crypto`, `@koa/router/lib/x`. */
  specifier: string;
  /** Erased at compile time (`import type …`, `export type … from`, or only `type` names): never loaded at run time. */
  typeOnly: boolean;
}

/**
 * Every module a file names: static `import`/`export … from`, `import x = require()`,
 * dynamic `import('…')`, `require('…')` and `createRequire(…)('…')` with a literal name.
 */
export function importsOf(fileName: string, sourceText: string): ModuleImport[] {
  const source = ts.createSourceFile(fileName, sourceText, ts.ScriptTarget.Latest, false);
  const found: ModuleImport[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnlyImport(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnlyExport(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const target = node.moduleReference.expression;
      if (ts.isStringLiteral(target)) found.push({ specifier: target.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && isModuleLoadingCall(node)) {
      const [first] = node.arguments;
      if (first && ts.isStringLiteralLike(first)) found.push({ specifier: first.text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      // `import('pg').Pool` in a declaration file.
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** `import type { A } from`, or `import { type A, type B } from` (nothing left at run time). */
function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import 'x'`: loaded for its side effects
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return !clause.name && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((element) => element.isTypeOnly);
}

/** `import('x')`, `require('x')`, or `createRequire(import.meta.url)('x')`. */
function isModuleLoadingCall(call: ts.CallExpression): boolean {
  const callee = call.expression;
  if (callee.kind === ts.SyntaxKind.ImportKeyword) return true;
  if (ts.isIdentifier(callee)) return callee.text === 'require';
  return ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'createRequire';
}

/** The npm package a bare specifier loads: `@koa/router/x` → `@koa/router`, `pg/lib/x` → `pg`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** True for `./x` and `../x`: a file of the same package. */
export function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../');
}

/** The files under `dir` (absolute paths, every depth) whose names pass `wanted`, sorted. */
export function filesUnder(dir: string, wanted: (name: string) => boolean): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && wanted(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** `importsOf` for a file on disk. */
export function importsOfFile(path: string): ModuleImport[] {
  return importsOf(path, readFileSync(path, 'utf8'));
}
