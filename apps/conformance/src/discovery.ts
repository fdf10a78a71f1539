// Discovery of the in-tree packages that contribute conformance fixtures, in report order.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ConformanceFixtures,
  Kernel,
  type ConformanceExpectation,
  type ConformanceScenario,
  type ExporterFixture,
  type ImporterFixture,
  type KernelModule,
} from "@dmabuf-sdk/dmabuf-core";
import { KVM_VFIO_SCENARIOS } from "./kvm-vfio.js";

/** The in-tree packages that contribute fixtures, in report order. @public */
export const IN_TREE_PACKAGES: readonly string[] = [
  "@dmabuf-sdk/map-sgt",
  "@dmabuf-sdk/map-pal",
  "@dmabuf-sdk/map-iov",
  "@dmabuf-sdk/driver-vfio-pci",
  "@dmabuf-sdk/driver-iommufd",
  "@dmabuf-sdk/driver-xe",
  "@dmabuf-sdk/memcg-lsm",
  "@dmabuf-sdk/driver-nvme",
  "@dmabuf-sdk/kvm",
];

/** Where a package is looked up. @public */
export interface PackageRequest {
  readonly name: string;
  /** Resolve from this directory (a plugin installed in the user's project); default: the app itself. */
  readonly from?: string;
}

/** A fixture with the package it came from. @public */
export interface Sourced<T> {
  readonly fixture: T;
  readonly package: string;
}

/** Everything the matrix can run. @public */
export interface FixtureSet {
  readonly exporters: readonly Sourced<ExporterFixture>[];
  readonly importers: readonly Sourced<ImporterFixture>[];
  readonly scenarios: readonly Sourced<ConformanceScenario>[];
  /** Oracle rows shipped by out-of-tree packages, with the package that shipped them. */
  readonly expectations: readonly Sourced<ConformanceExpectation>[];
  /** Packages loaded, with their module and version. */
  readonly packages: readonly { readonly name: string; readonly module: string; readonly version: string }[];
  /** In-tree packages not available yet (still shells), by name. */
  readonly unavailable: readonly string[];
}

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  "dmabuf-sdk"?: { module?: string | null };
}

const APP_REQUIRE = createRequire(import.meta.url);

function resolvePackageJson(req: PackageRequest): string {
  const r = req.from ? createRequire(join(resolve(req.from), "noop.js")) : APP_REQUIRE;
  try {
    return r.resolve(`${req.name}/package.json`);
  } catch (e) {
    throw new Error(`cannot find package ${req.name}${req.from ? ` from ${req.from}` : ""}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Loads the module descriptor of a package (the export named by
 * `package.json` `"dmabuf-sdk".module`), or null when the package is a shell
 * (`"private": true`, nothing built) or has no module.
 * @public
 */
export async function loadPackageModule(req: PackageRequest): Promise<{ name: string; version: string; module: KernelModule | null; shell: boolean }> {
  const pjPath = resolvePackageJson(req);
  const pj = JSON.parse(readFileSync(pjPath, "utf8")) as PackageJson;
  // An in-tree package still marked private is a shell; a plugin may be private (not published).
  if (pj.private && !req.from) return { name: pj.name, version: pj.version, module: null, shell: true };
  const exportName = pj["dmabuf-sdk"]?.module;
  if (!exportName) return { name: pj.name, version: pj.version, module: null, shell: false };
  const r = createRequire(pjPath);
  const entry = r.resolve(pj.name);
  const mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  const d = mod[exportName] as KernelModule | undefined;
  if (!d || typeof d.name !== "string") throw new Error(`${pj.name}: export "${exportName}" is not a kernel module descriptor`);
  return { name: pj.name, version: pj.version, module: d, shell: false };
}

/**
 * Loads each package's module into a scratch kernel and asks it for the
 * fixtures it provides (`ConformanceFixtures`). A fixture is taken from the
 * package that declares it (`fixtures.package`), so a module that requires
 * another does not duplicate the other's fixtures.
 * @public
 */
export async function loadFixtures(requests: readonly PackageRequest[]): Promise<FixtureSet> {
  const exporters: Sourced<ExporterFixture>[] = [];
  const importers: Sourced<ImporterFixture>[] = [];
  const scenarios: Sourced<ConformanceScenario>[] = [];
  const expectations: Sourced<ConformanceExpectation>[] = [];
  const packages: { name: string; module: string; version: string }[] = [];
  const unavailable: string[] = [];
  const seen = new Set<string>();
  for (const req of requests) {
    const { name, version, module, shell } = await loadPackageModule(req);
    if (shell) {
      unavailable.push(name);
      continue;
    }
    if (!module) continue;
    const k = new Kernel();
    k.modprobe(module);
    packages.push({ name, module: module.name, version });
    for (const f of k.providers(ConformanceFixtures)) {
      if (f.package !== name) continue;
      const first = (key: string): boolean => !seen.has(key) && !!seen.add(key);
      for (const e of f.exporters) if (first(`e:${e.name}`)) exporters.push({ fixture: e, package: name });
      for (const i of f.importers) if (first(`i:${i.name}`)) importers.push({ fixture: i, package: name });
      for (const s of f.scenarios ?? []) if (first(`s:${s.name}`)) scenarios.push({ fixture: s, package: name });
      if (req.from) for (const x of f.expectations ?? []) expectations.push({ fixture: x, package: name });
    }
  }
  // Cross-driver scenarios the app owns: KVM and vfio-pci meet only through dma-buf.
  const loaded = new Set(packages.map((p) => p.name));
  if (loaded.has("@dmabuf-sdk/kvm") && loaded.has("@dmabuf-sdk/driver-vfio-pci")) {
    for (const s of KVM_VFIO_SCENARIOS) scenarios.push({ fixture: s, package: "@dmabuf-sdk/conformance" });
  }
  return { exporters, importers, scenarios, expectations, packages, unavailable };
}

/** The default request list: every in-tree package, plus `--module` plugins resolved from `cwd`. @public */
export function defaultRequests(modules: readonly string[] = [], cwd = process.cwd(), inTree = true): PackageRequest[] {
  return [...(inTree ? IN_TREE_PACKAGES.map((name) => ({ name })) : []), ...modules.map((name) => ({ name, from: cwd }))];
}
