import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { InputError, LocatedDocument, pointerPath } from "../input-error.js";
import type { ConformanceReport } from "../types.js";

/** The JSON Schema of the report (`schema/report.schema.json`, exported as `@dmabuf-sdk/conformance/report.schema.json`). */
export function reportSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL("../../schema/report.schema.json", import.meta.url), "utf8")) as Record<string, unknown>;
}

// ajv-formats is CommonJS: its default export is the plugin itself.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
let validate: ReturnType<Ajv2020["compile"]> | undefined;

/** The JSON report (schema `dmabuf-conformance/v1`, see {@link reportSchema}). */
export function formatJson(report: ConformanceReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Parses a JSON report and checks it against the report schema.
 * @throws InputError naming `file`, line and column of each problem
 */
export function parseJsonReport(text: string, file = "<report>"): ConformanceReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Locates the syntax error.
    new LocatedDocument(text, file, true);
  }
  validate ??= addFormats(new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })).compile(reportSchema());
  if (!validate(data)) {
    const doc = new LocatedDocument(text, file);
    throw new InputError(
      validate.errors!.slice(0, 20).map((e) => {
        const path = pointerPath(e.instancePath);
        const key = e.keyword === "additionalProperties" ? (e.params as { additionalProperty: string }).additionalProperty : undefined;
        const what = e.keyword === "additionalProperties" ? `unknown key \`${key}\`` : (e.message ?? "invalid");
        return doc.problem(path, `not a dmabuf-conformance/v1 report: ${path.length ? `\`${path.join(".")}\` ` : ""}${what}`, key);
      }),
    );
  }
  return data as ConformanceReport;
}
