import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES, type ApiErrorCode } from '../../control-plane/api-error-codes.ts';
import { renderErrorCodesReference } from '../../control-plane/error-codes-reference.ts';
import { PERMANENT_REFUSALS, STATUS_REASON_RETRIABLE } from '../../runtime/index.ts';

const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'ui' || name === 'node_modules' ? [] : sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

interface ApiErrorUse {
  at: string;
  via: 'new ApiError' | 'sendApiError' | 'res.status().json()';
  /** Null where the status is not a literal and only the code can be checked (the generic error handler). */
  status: number | null;
  code: string;
}

/**
 * Every place a control-plane file answers with an API error code, read from its syntax tree (TypeScript's parser):
 * `new ApiError(status, code, …)`, `sendApiError(res, status, code, …)` and `….status(status)….json({ error: { code } })`.
 * A `new ApiError` or `sendApiError` whose status or code is not a literal is returned in `unchecked`: the test could
 * not compare it with the table, so it fails rather than skipping it.
 */
function apiErrorUsesIn(file: string, text: string): { uses: ApiErrorUse[]; unchecked: string[] } {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const uses: ApiErrorUse[] = [];
  const unchecked: string[] = [];
  const at = (node: ts.Node) => `${path.relative(root, file)}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}`;
  const literalStatus = (node: ts.Node | undefined) => (node && ts.isNumericLiteral(node) ? Number(node.text) : null);
  const literalCode = (node: ts.Node | undefined) => (node && ts.isStringLiteralLike(node) ? node.text : null);
  const withArguments = (node: ts.Node, via: 'new ApiError' | 'sendApiError', args: readonly ts.Expression[]) => {
    const status = literalStatus(args[0]);
    const code = literalCode(args[1]);
    if (status === null || code === null) unchecked.push(`${at(node)} ${via}`);
    else uses.push({ at: at(node), via, status, code });
  };
  /** The `status(…)` call a `.json(…)` hangs off, through chained calls such as `.type(…)` or `.location(…)`. */
  const statusCallOf = (call: ts.CallExpression): ts.CallExpression | null => {
    let target: ts.Expression = call.expression;
    while (ts.isPropertyAccessExpression(target) && ts.isCallExpression(target.expression)) {
      const inner = target.expression;
      if (ts.isPropertyAccessExpression(inner.expression) && inner.expression.name.text === 'status') return inner;
      target = inner.expression;
    }
    return null;
  };
  const property = (object: ts.ObjectLiteralExpression, name: string) =>
    object.properties.find((p): p is ts.PropertyAssignment => ts.isPropertyAssignment(p) && p.name.getText(source) === name)?.initializer;
  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'ApiError') {
      withArguments(node, 'new ApiError', node.arguments ?? []);
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'sendApiError') {
      withArguments(node, 'sendApiError', node.arguments.slice(1));
    } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'json') {
      const body = node.arguments[0];
      const error = body && ts.isObjectLiteralExpression(body) ? property(body, 'error') : undefined;
      const code = error && ts.isObjectLiteralExpression(error) ? literalCode(property(error, 'code')) : null;
      const statusCall = statusCallOf(node);
      if (code !== null && statusCall) uses.push({ at: at(node), via: 'res.status().json()', status: literalStatus(statusCall.arguments[0]), code });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { uses, unchecked };
}

function apiErrorUses(files: readonly string[]): { uses: ApiErrorUse[]; unchecked: string[] } {
  const all = files.map((file) => apiErrorUsesIn(file, readFileSync(file, 'utf8')));
  return { uses: all.flatMap((r) => r.uses), unchecked: all.flatMap((r) => r.unchecked) };
}

describe('docs/error-codes.md', () => {
  it('is what `npm run docs:generate` writes from the closed lists (run it after changing one)', () => {
    expect(readFileSync(path.join(root, 'docs/error-codes.md'), 'utf8')).toBe(renderErrorCodesReference());
  });

  it('sends every API error code with the HTTP status its table entry names', () => {
    const { uses, unchecked } = apiErrorUses(sourceFiles(path.join(root, 'control-plane')));
    // Every way the control plane answers an error, found by the parser, not by the formatting of the call.
    expect(unchecked).toEqual([]);
    expect(uses.filter((u) => u.via === 'new ApiError').length).toBeGreaterThan(30);
    expect(uses.filter((u) => u.via === 'sendApiError').length).toBeGreaterThan(3);
    expect(uses.filter((u) => u.via === 'res.status().json()').length).toBeGreaterThan(2);
    for (const use of uses) {
      expect(Object.keys(API_ERROR_CODES), `${use.at}: ${use.code}`).toContain(use.code);
      if (use.status !== null) expect(API_ERROR_CODES[use.code as ApiErrorCode].status, `${use.at}: ${use.code}`).toBe(use.status);
    }
  });

  it('finds an ApiError however it is written, and refuses one whose status or code it cannot read', () => {
    const file = path.join(root, 'control-plane/example.ts');
    const found = apiErrorUsesIn(
      file,
      [
        'throw new ApiError(',
        '  404, // the organization',
        "  /* code */ 'not_found',",
        '  `gone`);',
        'next(new ApiError(409 , "conflict", \'x\'));',
        "sendApiError(res,503,'opensearch_unavailable','down');",
        "res.status(413).type('json').json({ error: { message: 'big', code: 'too_large' } });",
        "throw new ApiError(status, 'not_found', 'x');",
        "throw new ApiError(404, code, 'x');",
      ].join('\n'),
    );
    expect(found.uses.map((u) => [u.via, u.status, u.code])).toEqual([
      ['new ApiError', 404, 'not_found'],
      ['new ApiError', 409, 'conflict'],
      ['sendApiError', 503, 'opensearch_unavailable'],
      ['res.status().json()', 413, 'too_large'],
    ]);
    expect(found.unchecked).toEqual(['control-plane/example.ts:8 new ApiError', 'control-plane/example.ts:9 new ApiError']);
  });

  it('never calls a refusal that waits for a change retriable', () => {
    for (const reason of PERMANENT_REFUSALS) expect(STATUS_REASON_RETRIABLE[reason], reason).toBe(false);
    expect(STATUS_REASON_RETRIABLE.internal_error).toBe(true);
  });
});
