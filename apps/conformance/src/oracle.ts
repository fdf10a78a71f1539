import type { TopologyName } from "@dmabuf-sdk/dmabuf-core";
import type { FixtureSet } from "./discovery.js";
import type { Actual, CaseSpec, Expectation } from "./types.js";

/**
 * One row of the oracle: what the kernel does for a pair on a topology
 * (`'*'`: every topology the pair can be placed on, unless a row names the
 * topology), with the reason, reviewed by hand against the reference.
 */
export interface OracleRow {
  readonly exporter: string;
  readonly importer: string;
  readonly topology: TopologyName | "*";
  readonly expect: Expectation;
  /** Why, with the reference section that says so. */
  readonly why: string;
}

/** One row for a scenario case. */
export interface ScenarioOracleRow {
  readonly scenario: string;
  readonly topology: TopologyName | "*";
  readonly expect: Expectation;
  readonly why: string;
}

/** The oracle the app judges by. */
export interface Oracle {
  readonly pairs: readonly OracleRow[];
  readonly scenarios: readonly ScenarioOracleRow[];
}

const SYSTEM_MEMORY_SGT = "system memory exported by a legacy map_dma_buf through the compat SGT entry (NO_P2P), so any SGT importer matches (mapping-types §6); page-backed, so no P2P route applies";
const HEAP_SGT = "the system heap is a simple exporter offering SGT (DMA_BUF_SIMPLE_SGT_EXP_MATCH, mapping-types §7) over pages; no P2P route applies";
const XE_SYSTEM_SGT = "an Xe BO in system memory is served as page-backed SGT (mapping-types §7: the plain SGT entry); no P2P route applies";
const NO_PAL = "iommufd offers only [PAL] (mapping-types §10.1 step 1); an exporter without PAL fails matching with -EINVAL (§3: no candidate → -EINVAL, §10.1 'Error code change')";

/**
 * The P2P map type `pci_p2pdma_map_type()` gives for the exporter and importer
 * slots of each topology (DESIGN.md topology table; mapping-types §5.4 and
 * §11), or null where the distance is negative (no P2P).
 */
const P2P_ROUTE: Readonly<Record<TopologyName, string | null>> = {
  "same-switch": "BUS_ADDR",
  "same-switch-acs": "THRU_HOST_BRIDGE",
  "cross-root": "THRU_HOST_BRIDGE",
  "cross-root-no-p2p": null,
  "iommu-off": "THRU_HOST_BRIDGE",
  // The VF's upstream bridge is its PF's root port, shared with the PF: BUS_ADDR.
  sriov: "BUS_ADDR",
};
const TOPOLOGIES = Object.keys(P2P_ROUTE) as TopologyName[];

/**
 * Rows for an exporter whose best entry for a P2P-accepting SGT importer is
 * `SGT_P2P(dev)`: the route per topology, and what happens where the
 * distance is negative (`noP2p`).
 */
function sgtP2pRows(exporter: string, importer: string, noP2p: Expectation, why: string, only: readonly TopologyName[] = TOPOLOGIES): OracleRow[] {
  return only.map((topology) => {
    const route = P2P_ROUTE[topology];
    return route === null
      ? { exporter, importer, topology, expect: noP2p, why: `${why}; pci_p2pdma_distance() < 0 on ${topology}, so SGT_P2P is skipped (mapping-types §5.4)` }
      : { exporter, importer, topology, expect: { mapType: "SGT", p2p: route }, why: `${why}; ${topology}: pci_p2pdma_map_type() = ${route} (§5.4, §11)` };
  });
}

const NVME_SGT = "nvme-pci attaches with dma_buf_dynamic_attach(allow_peer2peer = true), i.e. [SGT(nvmeDev, ACCEPTS_P2P)] (io-uring-nvme §3.3); the map is made lazily by the first fixed I/O (§2.4, §3.4)";
const VFIO_SGT = "vfio-pci offers [PAL, SGT_P2P(pdev)] (mapping-types §7, §9.7); a dynamic importer accepting P2P matches SGT_P2P";
const XE_VRAM_SGT = "an Xe VRAM BO offers [SGT_P2P(pdev), SGT] (mapping-types §7): P2P when the importer reaches the BAR, otherwise the BO migrates and plain SGT serves pages";

/**
 * The checked-in expectations for the in-tree fixtures. A case with no row is
 * reported `unverified`, never `pass`.
 */
export const IN_TREE_ORACLE: Oracle = {
  pairs: [
    { exporter: "compat-exporter", importer: "compat-static-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${SYSTEM_MEMORY_SGT}; dma_buf_attach() offers SGT(dev, NO_P2P) (§4.2)` },
    { exporter: "compat-exporter", importer: "compat-dynamic-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${SYSTEM_MEMORY_SGT}; dma_buf_dynamic_attach() offers SGT(dev, ACCEPTS_P2P) (§4.2)` },
    { exporter: "compat-exporter", importer: "xe", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${SYSTEM_MEMORY_SGT}; Xe imports with [IOV(pf, LMEM_BAR), SGT(dev, ACCEPTS_P2P)] and IOV matches only an IOV exporter entry (iov-memcg-lsm A.11)` },
    { exporter: "compat-exporter", importer: "iommufd", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: NO_PAL },

    { exporter: "system-heap", importer: "compat-static-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${HEAP_SGT}; dma_buf_attach() offers SGT(dev, NO_P2P)` },
    { exporter: "system-heap", importer: "compat-dynamic-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${HEAP_SGT}; dma_buf_dynamic_attach() offers SGT(dev, ACCEPTS_P2P)` },
    { exporter: "system-heap", importer: "xe", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${HEAP_SGT}; Xe's IOV entry has no IOV exporter entry to meet` },
    { exporter: "system-heap", importer: "iommufd", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: NO_PAL },

    // A static importer offers SGT(dev, NO_P2P): SGT_P2P skips it and PAL is another type (§9.7).
    { exporter: "vfio-pci", importer: "compat-static-importer", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: "vfio-pci offers [PAL, SGT_P2P] and dma_buf_attach() offers [SGT(dev, NO_P2P)]: SGT_P2P needs IMPORTER_ACCEPTS_P2P, nothing matches, -EINVAL (mapping-types §9.7 row 4)" },
    ...sgtP2pRows("vfio-pci", "compat-dynamic-importer", { errno: "EINVAL", step: "attach" }, `${VFIO_SGT}; with no other candidate matching fails with -EINVAL (§9.7 row 3)`),
    ...sgtP2pRows("vfio-pci", "xe", { errno: "EINVAL", step: "attach" }, `${VFIO_SGT}; Xe's IOV entry needs the exporter to be a VF of the importing PF (iov-memcg-lsm A.5/A.11); with no other candidate matching fails with -EINVAL (§9.7 row 3)`, TOPOLOGIES.filter((t) => t !== "sriov")),
    { exporter: "vfio-pci", importer: "xe", topology: "sriov", expect: { mapType: "IOV", p2p: null }, why: "vfio-pci on a VF offers [IOV(vf, bar), PAL, SGT_P2P] and the PF's Xe imports with [IOV(pf, LMEM_BAR), SGT]: IOV matches (VF of this PF, same BAR) and comes first in the exporter's priority; the PF translates the BAR ranges into DPAs of the VF's quota (iov-memcg-lsm A.5, A.7, A.11)" },
    { exporter: "vfio-pci", importer: "iommufd", topology: "*", expect: { mapType: "PAL", p2p: null }, why: "iommufd imports with [PAL] and vfio-pci offers PAL first (mapping-types §9.7 row 1); PAL carries CPU physical addresses, no P2P map type is computed" },
    {
      exporter: "vfio-pci",
      importer: "iommufd",
      topology: "cross-root-no-p2p",
      expect: { mapType: "PAL", errno: "EIO", step: "dma" },
      why: "PAL is negotiated with no P2P distance check (mapping-types §8, §10.1: iommufd installs the ranges as IOMMU_MMIO IOPTEs whatever the path), so the import succeeds; the device's DMA then crosses a host bridge that cannot forward P2P and faults (DESIGN.md: cross-root-no-p2p is NOT_SUPPORTED)",
    },

    { exporter: "xe-vram", importer: "compat-static-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${XE_VRAM_SGT}; a static importer never accepts P2P, so the BO migrates to system memory and SGT serves pages` },
    ...sgtP2pRows("xe-vram", "compat-dynamic-importer", { mapType: "SGT", p2p: null }, `${XE_VRAM_SGT}; the RDMA-style importer accepts P2P`, TOPOLOGIES.filter((t) => t !== "sriov")),
    ...sgtP2pRows("xe-vram", "xe", { mapType: "SGT", p2p: null }, `${XE_VRAM_SGT}; Xe ↔ Xe between two GPUs: the importer accepts P2P`, TOPOLOGIES.filter((t) => t !== "sriov")),
    { exporter: "xe-vram", importer: "iommufd", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: `${NO_PAL}; Xe offers no PAL (issue 5: refused the way the kernel refuses it)` },

    { exporter: "xe-system", importer: "compat-static-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: XE_SYSTEM_SGT },
    { exporter: "xe-system", importer: "compat-dynamic-importer", topology: "*", expect: { mapType: "SGT", p2p: null }, why: XE_SYSTEM_SGT },
    { exporter: "xe-system", importer: "xe", topology: "*", expect: { mapType: "SGT", p2p: null }, why: XE_SYSTEM_SGT },
    { exporter: "xe-system", importer: "iommufd", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: `${NO_PAL}; Xe offers no PAL` },

    { exporter: "compat-exporter", importer: "nvme", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${SYSTEM_MEMORY_SGT}; ${NVME_SGT}: the udmabuf-like case of the cover letter` },
    { exporter: "system-heap", importer: "nvme", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${HEAP_SGT}; ${NVME_SGT}` },
    { exporter: "xe-system", importer: "nvme", topology: "*", expect: { mapType: "SGT", p2p: null }, why: `${XE_SYSTEM_SGT}; ${NVME_SGT}` },
    ...sgtP2pRows("vfio-pci", "nvme", { errno: "EINVAL", step: "attach" }, `${VFIO_SGT}; ${NVME_SGT}; without P2P reach the attach fails and registration returns its errno (io-uring-nvme §3.3, §2.4 step 7d)`, TOPOLOGIES.filter((t) => t !== "sriov")),
    ...sgtP2pRows("xe-vram", "nvme", { mapType: "SGT", p2p: null }, `${XE_VRAM_SGT}; ${NVME_SGT}`, TOPOLOGIES.filter((t) => t !== "sriov")),
  ],
  scenarios: [
    { scenario: "memcg-lsm/charge-other-allowed", topology: "*", expect: { outcome: "ok" }, why: "charge_pid_fd of the client, policy allows allocator_app_t client_app_t:dma_heap charge_to: the client's memcg is charged (iov-memcg-lsm C.3 'Which cgroup is charged', C.5)" },
    { scenario: "memcg-lsm/charge-other-denied", topology: "*", expect: { outcome: "EACCES" }, why: "no allow rule in enforcing mode: security_dma_heap_alloc() returns -EACCES before any allocation (C.3 step 4.2, C.5, C.6)" },
    { scenario: "memcg-lsm/charge-other-permissive", topology: "*", expect: { outcome: "ok" }, why: "permissive mode: the denial is logged and the charge allowed (C.5)" },
    { scenario: "memcg-lsm/charge-other-permissive-domain", topology: "*", expect: { outcome: "ok" }, why: "a permissive domain under enforcing: logged and allowed (C.5)" },
    { scenario: "memcg-lsm/charge-self-pidfd", topology: "*", expect: { outcome: "ok" }, why: "a pidfd of the caller itself still runs the hook; with allocator_app_t self:dma_heap charge_to the caller is charged (C.3 table, C.4)" },
    { scenario: "memcg-lsm/handle-unknown-allow", topology: "*", expect: { outcome: "ok" }, why: "a policy without the dma_heap class follows handle_unknown: allow → 0 (C.5)" },
    { scenario: "memcg-lsm/bad-pidfd", topology: "*", expect: { outcome: "EBADF" }, why: "an open fd that is not a pidfd: pidfd_get_task() fails with -EBADF, before the LSM hook (C.4 'pidfd errors win', C.6)" },
    { scenario: "memcg-lsm/reaped-target", topology: "*", expect: { outcome: "ESRCH" }, why: "the pidfd's process was reaped: pidfd_get_task() gives -ESRCH (C.6)" },
    { scenario: "memcg-lsm/zombie-target", topology: "*", expect: { outcome: "ok" }, why: "a target past exit_mm has no mm: get_mem_cgroup_from_mm() falls back to the caller, who is charged silently (C.3 edge cases)" },
    { scenario: "memcg-lsm/over-limit", topology: "*", expect: { outcome: "ENOMEM" }, why: "the charge cannot be satisfied in the target memcg: -ENOMEM, the buffer is put and no fd is created (C.3 'Memcg limit hit', C.6)" },
    { scenario: "memcg-lsm/oom-kill-in-target", topology: "*", expect: { outcome: "ok" }, why: "try_charge() invokes the memcg OOM killer in the target cgroup, frees the victim's charge and retries (C.3 'Memcg limit hit')" },
    { scenario: "memcg-lsm/release-after-handoff", topology: "*", expect: { outcome: "ok" }, why: "the charge stays with the first owner and is uncharged once, at the last reference (dma_buf_release), not at the allocator's close (C.3 'When released')" },
  ],
};

/**
 * The oracle a run judges by: the in-tree table, then the rows plugins ship,
 * each limited to the cases that involve one of its own fixtures.
 */
export function oracleFor(set: FixtureSet, extra?: Oracle): Oracle {
  const own = (pkg: string, name: string, kind: "e" | "i"): boolean =>
    (kind === "e" ? set.exporters : set.importers).some((x) => x.package === pkg && x.fixture.name === name);
  const pluginRows: OracleRow[] = set.expectations
    .filter((x) => own(x.package, x.fixture.exporter, "e") || own(x.package, x.fixture.importer, "i"))
    .map((x) => ({ exporter: x.fixture.exporter, importer: x.fixture.importer, topology: x.fixture.topology, expect: x.fixture.expect as Expectation, why: `${x.package}: ${x.fixture.why}` }));
  return mergeOracles(IN_TREE_ORACLE, { pairs: pluginRows, scenarios: [] }, extra ?? { pairs: [], scenarios: [] });
}

/** Joins oracles (later rows win over earlier ones for the same key). */
export function mergeOracles(...oracles: readonly Oracle[]): Oracle {
  return { pairs: oracles.flatMap((o) => o.pairs), scenarios: oracles.flatMap((o) => o.scenarios) };
}

/** The expectation for a case: an exact topology row first, then a `'*'` row; undefined when none. */
export function expectationFor(oracle: Oracle, spec: CaseSpec): Expectation | undefined {
  return oracleRowFor(oracle, spec)?.expect;
}

/** The oracle row that judges a case, with its reason (same precedence as {@link expectationFor}). */
export function oracleRowFor(oracle: Oracle, spec: CaseSpec): { readonly expect: Expectation; readonly why: string } | undefined {
  const rows: readonly { topology: TopologyName | "*"; expect: Expectation; why: string }[] =
    spec.exporter === null || spec.importer === null
      ? oracle.scenarios.filter((r) => r.scenario === spec.scenario)
      : oracle.pairs.filter((r) => r.exporter === spec.exporter && r.importer === spec.importer);
  const last = (topology: string) => [...rows].reverse().find((r) => r.topology === topology);
  return last(spec.topology) ?? last("*");
}

/** Differences between an expectation and what happened (empty when they agree). */
export function compare(expected: Expectation, actual: Actual): string[] {
  const out: string[] = [];
  const show = (v: unknown): string => (v === undefined ? "nothing" : v === null ? "none" : String(v));
  if (expected.errno !== undefined || actual.errno !== undefined) {
    if (expected.errno !== actual.errno) out.push(`errno: expected ${show(expected.errno)}, got ${show(actual.errno)}${actual.step ? ` at ${actual.step}` : ""}`);
    else if (expected.step !== undefined && expected.step !== actual.step) out.push(`errno ${actual.errno} at ${show(actual.step)}, expected at ${expected.step}`);
  }
  if (expected.mapType !== undefined && expected.mapType !== actual.mapType) out.push(`mapping type: expected ${show(expected.mapType)}, got ${show(actual.mapType)}`);
  if (expected.p2p !== undefined && expected.p2p !== (actual.p2p ?? null)) out.push(`P2P route: expected ${show(expected.p2p)}, got ${show(actual.p2p)}`);
  if (expected.outcome !== undefined && expected.outcome !== actual.outcome) out.push(`outcome: expected ${show(expected.outcome)}, got ${show(actual.outcome)}`);
  return out;
}
