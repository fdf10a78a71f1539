// Errors in the files a user hands the CLI (scenario files, reports), located as file:line:col.
import { createRequire } from "node:module";
import type { Document, Node } from "yaml";

// yaml is loaded on first use: a plain `run` reads no YAML, and loading it costs start-up time.
const requireLazy = createRequire(import.meta.url);
let yamlLib: typeof import("yaml") | undefined;
const yaml = (): typeof import("yaml") => (yamlLib ??= requireLazy("yaml") as typeof import("yaml"));

/** One problem in an input file; line and column are 1-based. @public */
export interface InputProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** A bad input file (the CLI exits 2): every problem, one `file:line:col: message` line each. @public */
export class InputError extends Error {
  readonly problems: readonly InputProblem[];
  constructor(problems: readonly InputProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join("\n"));
    this.name = "InputError";
    this.problems = problems;
  }
}

/** A parsed YAML or JSON text that can say where a path of keys sits. @public */
export class LocatedDocument {
  readonly doc: Document;
  readonly #lines = new (yaml().LineCounter)();
  readonly file: string;

  /** @throws InputError for a syntax error (YAML's own position; JSON's from `JSON.parse`). */
  constructor(text: string, file: string, json = file.endsWith(".json")) {
    this.file = file;
    if (json) {
      try {
        JSON.parse(text);
      } catch (e) {
        const message = (e as Error).message;
        const at = offsetPos(text, jsonErrorOffset(text, message));
        throw new InputError([{ file, ...at, message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, "").replace(/, (\.\.\.)?".*" is not valid JSON$/s, "")}` }]);
      }
    }
    this.doc = yaml().parseDocument(text, { lineCounter: this.#lines, prettyErrors: false });
    if (this.doc.errors.length) {
      throw new InputError(
        this.doc.errors.map((e) => {
          const p = this.#lines.linePos(e.pos[0]);
          return { file, line: p.line, col: p.col, message: e.message.split("\n")[0]! };
        }),
      );
    }
  }

  /** The plain data. */
  value(): unknown {
    return this.doc.toJS();
  }

  /**
   * Where `path` is: the node's start, or with `key` the start of that key
   * inside the mapping at `path`; the nearest existing ancestor otherwise.
   */
  locate(path: readonly (string | number)[], key?: string): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let at = node as Node | null;
    for (const p of path) {
      const next = (node as { get?: (k: unknown, keep: boolean) => unknown })?.get?.(p, true);
      if (next === undefined) break;
      node = next;
      at = next as Node;
    }
    const { isMap, isPair, isScalar } = yaml();
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === key);
      if (pair && isScalar(pair.key) && pair.key.range) at = pair.key;
    }
    const offset = at?.range?.[0] ?? 0;
    return this.#lines.linePos(offset);
  }

  /** A problem at `path` (or at `key` inside it). */
  problem(path: readonly (string | number)[], message: string, key?: string): InputProblem {
    return { file: this.file, ...this.locate(path, key), message };
  }
}

/**
 * Where `JSON.parse` stopped: V8 names the position in most messages; for
 * "Unexpected token 'x'" it does not, so the first `x` at which a prefix of
 * the text fails the same way is the place.
 */
function jsonErrorOffset(text: string, message: string): number {
  const m = /position (\d+)/.exec(message);
  if (m) return Number(m[1]);
  const t = /^Unexpected token '(.)'/.exec(message)?.[1];
  if (t) {
    for (let i = text.indexOf(t); i >= 0; i = text.indexOf(t, i + 1)) {
      try {
        JSON.parse(text.slice(0, i + 1));
      } catch (e) {
        if ((e as Error).message.startsWith(`Unexpected token '${t}'`)) return i;
      }
    }
  }
  return text.length;
}

function offsetPos(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, col: before.at(-1)!.length + 1 };
}

/** Turns an ajv `instancePath` (`/steps/2/map`) into a key path. */
export function pointerPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
