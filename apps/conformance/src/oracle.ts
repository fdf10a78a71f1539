// The oracle: what the kernel does for each fixture pair on each topology, to judge the matrix against.
import type { TopologyName } from "@dmabuf-sdk/dmabuf-core";
import type { FixtureSet } from "./discovery.js";
import type { Actual, CaseSpec, Expectation } from "./types.js";

/**
 * One row of the oracle: what the kernel does for a pair on a topology
 * (`'*'`: every topology the pair can be placed on, unless a row names the
 * topology), with the reason, reviewed by hand against the reference.
 * @public
 */
export interface OracleRow {
  readonly exporter: string;
  readonly importer: string;
  readonly topology: TopologyName | "*";
  readonly expect: Expectation;
  /** Why, with the reference section that says so. */
  readonly why: string;
}

/** One row for a scenario case. @public */
export interface ScenarioOracleRow {
  readonly scenario: string;
  readonly topology: TopologyName | "*";
  readonly expect: Expectation;
  readonly why: string;
}

/** One row of the unplug family: the outcome after one side's device leaves the bus (`'*'` matches any fixture). @public */
export interface UnplugOracleRow {
  readonly scenario: "unplug-exporter" | "unplug-importer";
  readonly exporter: string;
  readonly importer: string;
  readonly topology: TopologyName | "*";
  readonly expect: Expectation;
  readonly why: string;
}

/** The oracle the app judges by. @public */
export interface Oracle {
  readonly pairs: readonly OracleRow[];
  readonly scenarios: readonly ScenarioOracleRow[];
  /** The unplug family; a pair whose lifecycle stops before the data path stops the same way here. */
  readonly unplug?: readonly UnplugOracleRow[];
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

// The kvm importer columns (kvm-pfn.md): one per design of the KVM/dma-buf argument.
const KVM_OTHERS = ["compat-exporter", "system-heap", "xe-system", "xe-vram"] as const;
const KVM_NO_MMAP = "mainline KVM reaches MMIO only through the VMM's mapping (kvm-pfn §11): the exporter has no dma-buf mmap, dma_buf_mmap_internal() fails with -EINVAL before any slot exists";
const KVM_XE_MMAP =
  "Xe's dma-buf mmap is drm_gem_dmabuf_mmap → the TTM fault handler (VM_PFNMAP|VM_IO); mainline KVM registers the VMM's mapping as an hva slot, GUP refuses the VMA, hva_to_pfn() takes hva_to_pfn_remapped(): follow_pfnmap, fixup_user_fault() runs xe's fault handler, and the PTE's pfn (a TT page, or VRAM behind the LMEM BAR) is mapped (virt/kvm/kvm_main.c: kvm_resolve_pfn() with no page, so nothing is refcounted); an eviction zaps the VMA (ttm_bo_unmap_virtual) and the mmu notifier zaps stage-2; no dma-buf attachment, no P2P route";
const KVM_NO_VFIO = "v1/v2 ask vfio about the buffer through symbol_get(vfio_dma_buf_get_data) (kvm-pfn §3.3, §6.1 step 3); vfio is not loaded in this case, so the lookup fails: -ENOENT (the RFC returns an uninitialised ret here, the model the PTR_ERR, model-choices)";
const KVM_PAL_RESTRICTED = "the maptype-pal kvm links dma_buf_pal_map_phys, which PAL exports with EXPORT_SYMBOL_FOR_MODULES(…, \"iommufd\") (mapping-types §8.4/§8.5, kvm-pfn §10.4): the loader refuses module kvm with -EINVAL (namespace module:iommufd not imported), whatever the exporter";

/** A row for every topology. */
const any = (exporter: string, importer: string, expect: Expectation, why: string): OracleRow => ({ exporter, importer, topology: "*", expect, why });

const KVM_ROWS: OracleRow[] = [
  any("compat-exporter", "kvm", { errno: "EINVAL", step: "attach" }, KVM_NO_MMAP),
  ...["xe-system", "xe-vram"].map((exporter) => any(exporter, "kvm", { p2p: null }, KVM_XE_MMAP)),
  { exporter: "system-heap", importer: "kvm", topology: "*", expect: { p2p: null }, why: "the heap's mmap inserts its pages; mainline KVM follows the PTE of the hva slot (kvm-pfn §11); no dma-buf attachment, no P2P route" },
  { exporter: "vfio-pci", importer: "kvm", topology: "*", expect: { p2p: null }, why: "the VMM mmaps the vfio dma-buf (VM_PFNMAP) and registers it as an hva slot; KVM follows the PTE; a revoke zaps the VMA (unmap_mapping_range) and the mmu notifier zaps stage-2; while revoked the VMA fault SIGBUSes and KVM_RUN fails with -EFAULT and a memory-fault exit (kvm-pfn §11, §7.5)" },
  ...KVM_OTHERS.flatMap((exporter) => ["kvm-yilun-v1", "kvm-yilun-v2"].map((importer) => any(exporter, importer, { errno: "ENOENT", step: "attach" }, KVM_NO_VFIO))),
  { exporter: "vfio-pci", importer: "kvm-yilun-v1", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: "v1 binds only private VFIO buffers of this VM: !data.is_private → -EINVAL (kvm-pfn §6.1 step 4); the fixture's device is shared (not bound with VFIO_DEVICE_BIND_IOMMUFD_PRIVATE)" },
  { exporter: "vfio-pci", importer: "kvm-yilun-v2", topology: "*", expect: { errno: "EINVAL", step: "attach" }, why: "the buffer was exported before the device was associated with a VM (KVM_DEV_VFIO_FILE_ADD), so vfio's snapshot has kvm = NULL ≠ this VM: -EINVAL (kvm-pfn §3.3, §6.1 step 4); the associated flow is the kvm/vfio-* scenarios" },
  ...KVM_OTHERS.map((exporter) => any(exporter, "kvm-pfn-attachment", { errno: "EOPNOTSUPP", step: "attach" }, "Simona Vetter's pfn attachment is a separate access method (kvm-pfn §10.3); an exporter without get_pfn does not offer it: -EOPNOTSUPP, as a mapping-type exporter refuses an entry it lacks (model choice)")),
  { exporter: "vfio-pci", importer: "kvm-pfn-attachment", topology: "*", expect: { p2p: null }, why: "vfio-pci has get_pfn; the device-less attachment passes vfio's revocable check (KVM supplies invalidate_mappings); faults take get_pfn under resv, revoke zaps under resv and KVM_RUN then fails with -EIO (kvm-pfn §7.2, §8.1)" },
  ...[...KVM_OTHERS, "vfio-pci"].map((exporter) => any(exporter, "kvm-maptype-pal-iommufd", { errno: "EINVAL", step: "load" }, KVM_PAL_RESTRICTED)),
  ...KVM_OTHERS.map((exporter) => any(exporter, "kvm-maptype-pal-iommufd+kvm", { errno: "EINVAL", step: "attach" }, "with PAL's list naming kvm the module loads; KVM attaches offering only [PAL] and this exporter offers no PAL: no candidate → -EINVAL (mapping-types §3)")),
  { exporter: "vfio-pci", importer: "kvm-maptype-pal-iommufd+kvm", topology: "*", expect: { mapType: "PAL", p2p: null }, why: "with PAL's list naming kvm, KVM imports PAL like iommufd: vfio-pci offers PAL (mapping-types §9.7), KVM takes dma_buf_pal_map_phys() under resv on fault and gives the list back in invalidate_mappings, so vfio's revoke drain completes; while revoked map_phys is -ENODEV and KVM_RUN -EIO (kvm-pfn §10.4)" },
];

/**
 * The checked-in expectations for the in-tree fixtures. A case with no row is
 * reported `unverified`, never `pass`.
 * @public
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
    ...KVM_ROWS,
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
    { scenario: "kvm/vfio-v2-associated", topology: "*", expect: { outcome: "ok" }, why: "the device was added to the VM (KVM_DEV_VFIO_FILE_ADD) before the export, so vfio's snapshot names this VM; the dev-less attach passes, get_pfn resolves each faulting page and the guest's loads and stores reach the BAR (kvm-pfn §3.3, §6.1, §7.2, §5)" },
    { scenario: "kvm/vfio-v2-not-associated", topology: "*", expect: { outcome: "EINVAL" }, why: "exported before any association: data.kvm = NULL ≠ kvm (kvm-pfn §3.3, §6.1 step 4)" },
    { scenario: "kvm/vfio-v2-other-vm", topology: "*", expect: { outcome: "EINVAL" }, why: "the buffer belongs to another VM: data.kvm ≠ kvm (kvm-pfn §6.1 step 4)" },
    { scenario: "kvm/vfio-v1-shared", topology: "*", expect: { outcome: "EINVAL" }, why: "v1 binds only private buffers: !data.is_private (kvm-pfn §6.1 step 4)" },
    { scenario: "kvm/vfio-v1-private", topology: "*", expect: { outcome: "ok" }, why: "a private device's buffer has no mmap (-EINVAL) and its BARs no device-fd access (-EINVAL, RFC 08/12); it maps only into the private root; a revoke makes the private access fail with -EIO and a PRIVATE memory-fault exit (kvm-pfn §1.2, §3.3, §7.3, §7.5)" },
    ...["memory-disable", "d3hot", "device-reset", "hot-reset"].map((t) => ({ scenario: `kvm/vfio-v2-revoke-${t}`, topology: "*" as const, expect: { outcome: "ok" }, why: "vfio's move(true) takes resv and calls invalidate_mappings: KVM zaps the whole slot under mmu_lock (seq++) (kvm-pfn §3.1, §8.1); while revoked get_pfn is -ENODEV → KVM_RUN -EIO; move(false) or the end of the reset lets the next fault map again (§8.3)" })),
    { scenario: "kvm/vfio-v2-revoke-feature", topology: "*", expect: { outcome: "EIO" }, why: "VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE is permanent: the slot is zapped and every later fault gets -ENODEV from get_pfn, -EIO from KVM_RUN (kvm-pfn §7.2)" },
    { scenario: "kvm/vfio-v2-close", topology: "*", expect: { outcome: "ok" }, why: "vfio's cleanup at close revokes (KVM zaps) and unlinks the buffer; the slot's file reference keeps the dma-buf alive, faults get -EIO, DELETE detaches and drops the last reference (kvm-pfn §8.4)" },
  ],
  unplug: [
    {
      scenario: "unplug-exporter",
      exporter: "xe-vram",
      importer: "*",
      topology: "*",
      expect: { outcome: "remap" },
      why: "xe_device_remove → xe_bo_pci_dev_remove_all: other devices' in-flight DMA is waited for, exported BOs move to system memory and their importers are invalidated; the next map serves the same bytes from pages (syncobj-unplug.md 7.4 xe step 3, 7.3 items 2–3)",
    },
    {
      scenario: "unplug-exporter",
      exporter: "xe-system",
      importer: "*",
      topology: "*",
      expect: { outcome: "remap" },
      why: "an exported Xe BO already in system memory stays there; importers are invalidated with the move notification and map the same pages again (7.4 xe step 3)",
    },
    { scenario: "unplug-exporter", exporter: "xe-vram", importer: "compat-static-importer", topology: "*", expect: { outcome: "kept" }, why: "a static importer pinned the BO: xe removes the pinned external BO's dynamic mappings only; the pinned pages stay (7.4 xe step 3)" },
    { scenario: "unplug-exporter", exporter: "xe-system", importer: "compat-static-importer", topology: "*", expect: { outcome: "kept" }, why: "a static importer pinned the BO: the pinned pages stay with it (7.4 xe step 3)" },
    {
      scenario: "unplug-exporter",
      exporter: "vfio-pci",
      importer: "*",
      topology: "*",
      expect: { outcome: "ENODEV" },
      why: "the BAR goes with the device: vfio_pci_dma_buf_cleanup revokes every buffer for good after waiting for in-flight DMA; importers are invalidated, maps fail with -ENODEV and DMA at the old addresses faults (vfio-resv-fence.md C.3 items 1–3, A.7)",
    },
    ...["xe-vram", "xe-system"].map((exporter) => ({
      scenario: "unplug-exporter" as const,
      exporter,
      importer: "kvm",
      topology: "*" as const,
      expect: { outcome: "dummy-page" },
      why: "mainline KVM follows the VMM's mmap of the buffer, not an attachment: the removal zaps the VMA (mmu notifier → stage-2 zap), the next guest access faults through hva_to_pfn_remapped → fixup_user_fault → xe_gem_fault, where drm_dev_enter() fails and ttm_bo_vm_dummy_page() maps a zeroed page over the VMA; KVM maps that page, so the guest reads zeros and its stores stay there while the BO's bytes survive in system memory (drivers may SIGBUS instead: syncobj-unplug.md 7.3 item 1, vfio-resv-fence.md C.3 item 1)",
    })),
    {
      scenario: "unplug-exporter",
      exporter: "vfio-pci",
      importer: "kvm",
      topology: "*",
      expect: { outcome: "EFAULT" },
      why: "vfio's cleanup revokes the buffer, which zaps the VMA (the mmu notifier zaps stage-2); the next guest access goes hva_to_pfn_remapped → fixup_user_fault, vfio's fault handler refuses the revoked buffer (VM_FAULT_SIGBUS → -EFAULT), hva_to_pfn gives KVM_PFN_ERR_FAULT and kvm_handle_error_pfn() -EFAULT with a memory-fault exit (virt/kvm/kvm_main.c, arch/x86/kvm/mmu/mmu.c; kvm-pfn §11, §7.5 last row)",
    },
    {
      scenario: "unplug-exporter",
      exporter: "vfio-pci",
      importer: "kvm-pfn-attachment",
      topology: "*",
      expect: { outcome: "EIO" },
      why: "the revoke calls invalidate_mappings and KVM zaps the slot; the next fault asks the exporter again and gets -ENODEV, which the dma-buf slot's fault path turns into -EIO on purpose (-EFAULT would make userspace try an attribute conversion): kvm-pfn §7.2 step 1, §8.4",
    },
    {
      scenario: "unplug-exporter",
      exporter: "vfio-pci",
      importer: "kvm-maptype-pal-iommufd+kvm",
      topology: "*",
      expect: { outcome: "EIO" },
      why: "the revoke calls invalidate_mappings (KVM zaps and gives the PAL list back); the next fault's dma_buf_pal_map_phys() is -ENODEV, which KVM's dma-buf slot returns as -EIO, as for the other dma-buf slot designs (kvm-pfn §7.2 step 1, §10.4)",
    },
    { scenario: "unplug-importer", exporter: "*", importer: "*", topology: "*", expect: { outcome: "ok" }, why: "\"as long as the exporter stays around the buffers stay around\": the importer's mappings go with its device, the exporter's buffer stays valid (syncobj-unplug.md 7.3 item 3, 7.5)" },
  ],
};

/**
 * The oracle a run judges by: the in-tree table, then the rows plugins ship,
 * each limited to the cases that involve one of its own fixtures.
 * @public
 */
export function oracleFor(set: FixtureSet, extra?: Oracle): Oracle {
  const own = (pkg: string, name: string, kind: "e" | "i"): boolean =>
    (kind === "e" ? set.exporters : set.importers).some((x) => x.package === pkg && x.fixture.name === name);
  const pluginRows: OracleRow[] = set.expectations
    .filter((x) => own(x.package, x.fixture.exporter, "e") || own(x.package, x.fixture.importer, "i"))
    .map((x) => ({ exporter: x.fixture.exporter, importer: x.fixture.importer, topology: x.fixture.topology, expect: x.fixture.expect as Expectation, why: `${x.package}: ${x.fixture.why}` }));
  return mergeOracles(IN_TREE_ORACLE, { pairs: pluginRows, scenarios: [] }, extra ?? { pairs: [], scenarios: [] });
}

/** Joins oracles (later rows win over earlier ones for the same key). @public */
export function mergeOracles(...oracles: readonly Oracle[]): Oracle {
  return { pairs: oracles.flatMap((o) => o.pairs), scenarios: oracles.flatMap((o) => o.scenarios), unplug: oracles.flatMap((o) => o.unplug ?? []) };
}

/** Lifecycle steps before the data path: a pair stopped there stops there in the unplug family too. */
const BEFORE_DATA_PATH: ReadonlySet<string> = new Set(["setup", "load", "export", "attach", "map", "dma"]);

/** The expectation for a case: an exact topology row first, then a `'*'` row; undefined when none. @public */
export function expectationFor(oracle: Oracle, spec: CaseSpec): Expectation | undefined {
  return oracleRowFor(oracle, spec)?.expect;
}

/** The oracle row that judges a case, with its reason (same precedence as {@link expectationFor}). @public */
export function oracleRowFor(oracle: Oracle, spec: CaseSpec): { readonly expect: Expectation; readonly why: string } | undefined {
  if (spec.exporter !== null && spec.importer !== null && spec.scenario.startsWith("unplug-")) {
    // A pair that stops before the data path (refused attach, faulting DMA) stops the same way in the family.
    const pair = oracleRowFor(oracle, { ...spec, scenario: "lifecycle" });
    if (!pair) return undefined;
    if (pair.expect.errno !== undefined && (pair.expect.step === undefined || BEFORE_DATA_PATH.has(pair.expect.step))) return pair;
    const matches = (oracle.unplug ?? []).filter(
      (r) => r.scenario === spec.scenario && (r.exporter === "*" || r.exporter === spec.exporter) && (r.importer === "*" || r.importer === spec.importer) && (r.topology === "*" || r.topology === spec.topology),
    );
    // The most specific row wins: named fixtures and topology count.
    const score = (r: UnplugOracleRow): number => (r.exporter !== "*" ? 1 : 0) + (r.importer !== "*" ? 2 : 0) + (r.topology !== "*" ? 4 : 0);
    return matches.sort((x, y) => score(y) - score(x))[0];
  }
  const rows: readonly { topology: TopologyName | "*"; expect: Expectation; why: string }[] =
    spec.exporter === null || spec.importer === null
      ? oracle.scenarios.filter((r) => r.scenario === spec.scenario)
      : oracle.pairs.filter((r) => r.exporter === spec.exporter && r.importer === spec.importer);
  const last = (topology: string) => [...rows].reverse().find((r) => r.topology === topology);
  return last(spec.topology) ?? last("*");
}

/** Differences between an expectation and what happened (empty when they agree). @public */
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
