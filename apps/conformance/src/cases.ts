// Case selection of a run: the matrix's cases, filtered by names and globs, and each case's seed.
import { Kernel, TOPOLOGY_NAMES, buildTopology, topologyKernelOptions, type Topology, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import type { FixtureSet } from "./discovery.js";
import type { CaseSpec } from "./types.js";

/** Filters of a run: comma-separated names with `*` wildcards. @public */
export interface CaseFilter {
  readonly exporter?: string;
  readonly importer?: string;
  readonly topology?: string;
  /** Include the non-pair scenarios (default true). */
  readonly scenarios?: boolean;
  /** Case ids or id globs (`sriov/vfio-pci/xe`, `same-switch/*`); a case must match one. */
  readonly ids?: readonly string[];
  /** Case ids or id globs to leave out. */
  readonly exclude?: readonly string[];
}

/** A case-id glob as a RegExp: `*` is any run of characters (`/` included), `?` one character. @public */
export function idGlob(pattern: string): RegExp {
  const re = [...pattern].map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("");
  return new RegExp(`^${re}$`);
}

/** True when `id` matches one of `patterns` (ids or globs). @public */
export function matchesAny(id: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => idGlob(p).test(id));
}

/** A `--exporter`/`--importer`/`--topology` filter: comma-separated names with `*` wildcards. @public */
export function matcher(pattern: string | undefined): (name: string) => boolean {
  if (!pattern) return () => true;
  const res = pattern
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`));
  return (name) => res.some((r) => r.test(name));
}

/** One scratch machine per topology, for placement questions only. */
function scratchTopologies(): Map<TopologyName, Topology> {
  const m = new Map<TopologyName, Topology>();
  for (const name of TOPOLOGY_NAMES) m.set(name, buildTopology(new Kernel(topologyKernelOptions(name)), name));
  return m;
}

/**
 * Every case the fixtures can be placed in: (topology, exporter, importer)
 * for each pair whose fixtures are placeable on the topology, then the
 * scenarios. Sorted by id, so a run and its shards see the same order.
 * @public
 */
export function enumerateCases(set: FixtureSet, filter: CaseFilter = {}): CaseSpec[] {
  const topo = matcher(filter.topology);
  const exp = matcher(filter.exporter);
  const imp = matcher(filter.importer);
  const topologies = scratchTopologies();
  const cases: CaseSpec[] = [];
  for (const name of TOPOLOGY_NAMES) {
    if (!topo(name)) continue;
    const t = topologies.get(name)!;
    for (const e of set.exporters) {
      if (!exp(e.fixture.name) || !e.fixture.placeable(t)) continue;
      for (const i of set.importers) {
        if (!imp(i.fixture.name) || !i.fixture.placeable(t)) continue;
        cases.push({
          id: `${name}/${e.fixture.name}/${i.fixture.name}`,
          topology: name,
          exporter: e.fixture.name,
          importer: i.fixture.name,
          scenario: "lifecycle",
          packages: [...new Set([e.package, i.package])],
        });
        // The unplug family (syncobj-unplug.md 7.5): for every side whose device can leave the bus.
        for (const [family, able] of [
          ["unplug-exporter", e.fixture.hotUnplug],
          ["unplug-importer", i.fixture.hotUnplug],
        ] as const) {
          if (!able) continue;
          cases.push({
            id: `${name}/${e.fixture.name}/${i.fixture.name}/${family}`,
            topology: name,
            exporter: e.fixture.name,
            importer: i.fixture.name,
            scenario: family,
            packages: [...new Set([e.package, i.package])],
          });
        }
      }
    }
  }
  if (filter.scenarios !== false && !filter.exporter && !filter.importer) {
    for (const s of set.scenarios) {
      if (!topo(s.fixture.topology)) continue;
      cases.push({ id: `${s.fixture.topology}/${s.fixture.name}`, topology: s.fixture.topology, exporter: null, importer: null, scenario: s.fixture.name, packages: [s.package] });
    }
  }
  return selectIds(cases, filter).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Applies the id and exclude patterns of `filter`. @public */
export function selectIds<T extends { readonly id: string }>(cases: readonly T[], filter: CaseFilter): T[] {
  return cases.filter((c) => (!filter.ids?.length || matchesAny(c.id, filter.ids)) && !(filter.exclude?.length && matchesAny(c.id, filter.exclude)));
}

/** A 32-bit seed for a case, from the run's seed and the case id (FNV-1a). @public */
export function caseSeed(runSeed: number, id: string): number {
  let h = (0x811c9dc5 ^ runSeed) >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
