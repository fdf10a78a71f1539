// The JSON report and its published JSON Schema.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ValidateFunction } from "ajv";
import { InputError, LocatedDocument, pointerPath } from "../input-error.js";
import type { ConformanceReport } from "../types.js";
import { packageFile } from "../package-dir.js";

/** The JSON Schema of the report (`schema/report.schema.json`, exported as `@dmabuf-sdk/conformance/report.schema.json`). @public */
export function reportSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(packageFile("schema/report.schema.json"), "utf8")) as Record<string, unknown>;
}

// ajv is loaded, and the schema compiled, the first time a report is read (merge, diff, --rerun-failed).
const requireLazy = createRequire(import.meta.url);
let validator: ValidateFunction | undefined;
function reportValidator(): ValidateFunction {
  if (!validator) {
    const { Ajv2020 } = requireLazy("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js");
    // ajv-formats is CommonJS: the module itself is the plugin.
    const addFormats = requireLazy("ajv-formats") as (ajv: InstanceType<typeof Ajv2020>) => InstanceType<typeof Ajv2020>;
    validator = addFormats(new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true })).compile(reportSchema());
  }
  return validator;
}

/** The JSON report (schema `dmabuf-conformance/v1`, see {@link reportSchema}). @public */
export function formatJson(report: ConformanceReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Parses a JSON report and checks it against the report schema.
 * @throws InputError naming `file`, line and column of each problem
 * @public
 */
export function parseJsonReport(text: string, file = "<report>"): ConformanceReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Locates the syntax error.
    new LocatedDocument(text, file, true);
  }
  const validate = reportValidator();
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
