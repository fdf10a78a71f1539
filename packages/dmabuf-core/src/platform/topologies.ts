// The named machines (PCI switch, root ports, ACS, IOMMU, SR-IOV) every test and the conformance matrix boot.
import type { Kernel, KernelOptions } from "../kernel/kernel.js";
import type { PciP2pdmaMapType } from "./p2pdma.js";
import { PciDev, PciHostBridge, PciTopologyBuilder } from "./pci.js";

/** The named machines every test and the conformance matrix use (DESIGN.md). @public */
export type TopologyName = "same-switch" | "same-switch-acs" | "cross-root" | "cross-root-no-p2p" | "iommu-off" | "sriov";

/** Every named topology, in report order. @public */
export const TOPOLOGY_NAMES: readonly TopologyName[] = ["same-switch", "same-switch-acs", "cross-root", "cross-root-no-p2p", "iommu-off", "sriov"];

/** A BAR to create on a slot endpoint. @public */
export interface BarSpec {
  readonly index: number;
  readonly size: bigint;
  readonly type?: "mem" | "io";
  readonly is64?: boolean;
  readonly prefetch?: boolean;
}

/**
 * Default endpoint BARs: BAR0 64-bit prefetchable 1 GiB, BAR2 32-bit 16 MiB,
 * BAR4 an I/O-port BAR; BAR1/3/5 absent (BAR1 is BAR0's upper half).
 */
export const DEFAULT_ENDPOINT_BARS: readonly BarSpec[] = [
  { index: 0, size: 1n << 30n, is64: true, prefetch: true },
  { index: 2, size: 16n << 20n, is64: false, prefetch: false },
  { index: 4, size: 256n, type: "io" },
];

/** The SR-IOV physical function of the `sriov` machine: its PCI identity, its BARs and its VFs' BARs. @public */
export interface SriovPfSpec {
  readonly vendor: number;
  readonly device: number;
  /** BARs of the PF. */
  readonly bars: readonly BarSpec[];
  /** The BAR holding the device memory window, on the PF and on each VF (what a VF's exporter exports). */
  readonly memBar: number;
  /** Device ID of the VFs (`PCI_SRIOV_VF_DID`). */
  readonly vfDevice: number;
  /** `PCI_SRIOV_TOTAL_VF`. */
  readonly totalVfs: number;
  /** Per-VF BAR sizes by BAR index (`undefined`: no BAR there). */
  readonly vfBarSizes: readonly (bigint | undefined)[];
}

/**
 * The PF of `sriov` unless the caller names one: a generic SR-IOV endpoint
 * that no driver of the model binds by ID (QEMU's vendor ID), with 16 MiB of
 * registers at BAR0 and a 64-bit prefetchable 4 GiB memory window at BAR2;
 * up to 7 VFs with 16 MiB + 1 GiB. A driver's fixture passes its own device
 * (driver-xe: an Xe PF) through {@link TopologyOptions.sriovPf}.
 * @public
 */
export const GENERIC_SRIOV_PF: SriovPfSpec = {
  vendor: 0x1b36,
  device: 0x00ff,
  bars: [
    { index: 0, size: 16n << 20n, is64: true, prefetch: false },
    { index: 2, size: 4n << 30n, is64: true, prefetch: true },
  ],
  memBar: 2,
  vfDevice: 0x00fe,
  totalVfs: 7,
  vfBarSizes: [16n << 20n, undefined, 1n << 30n],
};

/** A built topology: where an exporter and an importer go. @public */
export interface Topology {
  readonly name: TopologyName;
  readonly kernel: Kernel;
  readonly hostBridge: PciHostBridge;
  readonly builder: PciTopologyBuilder;
  /** The endpoint an exporting device sits on (a VF in `sriov`). */
  readonly exporterSlot: PciDev;
  /** The endpoint an importing device sits on (the PF in `sriov`). */
  readonly importerSlot: PciDev;
  /** What `pci_p2pdma_map_type()` gives between the two slots (DESIGN.md table). */
  readonly p2pMapType: PciP2pdmaMapType;
  /** In `sriov`: the PF, its VFs and the memory BAR index ({@link SriovPfSpec.memBar}). */
  readonly sriov?: { readonly pf: PciDev; readonly vfs: readonly PciDev[]; readonly memBar: number };
}

/** Kernel options a topology needs (the IOMMU mode is a property of the machine). @public */
export function topologyKernelOptions(name: TopologyName): Partial<KernelOptions> {
  return { iommu: name === "iommu-off" ? "identity" : "dma" };
}

/** Options of {@link buildTopology}. @public */
export interface TopologyOptions {
  /** BARs of the two slot endpoints (non-sriov topologies). */
  readonly endpointBars?: readonly BarSpec[];
  /** Base of the 64-bit MMIO window (place BARs above 2^53 with e.g. `1n << 56n`). */
  readonly mem64Base?: bigint;
  /** `sriov`: number of VFs to enable (default 2). */
  readonly numVfs?: number;
  /** `sriov`: the PF (identity, BARs, VF BARs); default {@link GENERIC_SRIOV_PF}. */
  readonly sriovPf?: SriovPfSpec;
}

function addBars(b: PciTopologyBuilder, dev: PciDev, bars: readonly BarSpec[]): void {
  for (const s of bars) b.bar(dev, s.index, s.size, { type: s.type, is64: s.is64, prefetch: s.prefetch });
}

/**
 * Builds topology `name` on `kernel` (whose IOMMU mode must match
 * {@link topologyKernelOptions}). System RAM is [0, 2 GiB) and [4 GiB, 16 GiB).
 * @public
 */
export function buildTopology(kernel: Kernel, name: TopologyName, opts: TopologyOptions = {}): Topology {
  const physmem = kernel.platform.physmem;
  if (physmem.regions().every((r) => r.kind !== "ram")) {
    physmem.addRam(0x10_0000n, 0x8000_0000n - 0x10_0000n);
    physmem.addRam(0x1_0000_0000n, 0x3_0000_0000n);
  }
  const hb = new PciHostBridge(kernel, kernel.platform.hostBridges.length, { p2pCapable: name !== "cross-root-no-p2p" });
  const b = new PciTopologyBuilder(hb, { mem64Base: opts.mem64Base });
  const bars = opts.endpointBars ?? DEFAULT_ENDPOINT_BARS;
  const root = hb.rootBus;
  let exporterSlot: PciDev;
  let importerSlot: PciDev;
  let sriov: Topology["sriov"];
  let p2pMapType: PciP2pdmaMapType;

  switch (name) {
    case "same-switch":
    case "same-switch-acs": {
      const acs = name === "same-switch-acs" ? { requestRedirect: true, completionRedirect: true } : {};
      const rp = b.bridge(root, 0x08, "root-port");
      const usp = b.bridge(rp.subordinate!, 0x00, "upstream-port");
      const dsp0 = b.bridge(usp.subordinate!, 0x00, "downstream-port", acs);
      const dsp1 = b.bridge(usp.subordinate!, 0x08, "downstream-port", acs);
      exporterSlot = b.endpoint(dsp0.subordinate!, 0x00, { vendor: 0x10de, device: 0x2330 });
      importerSlot = b.endpoint(dsp1.subordinate!, 0x00, { vendor: 0x15b3, device: 0x1021 });
      p2pMapType = name === "same-switch" ? "PCI_P2PDMA_MAP_BUS_ADDR" : "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE";
      break;
    }
    case "cross-root":
    case "cross-root-no-p2p":
    case "iommu-off": {
      const rp0 = b.bridge(root, 0x08, "root-port");
      const rp1 = b.bridge(root, 0x10, "root-port");
      exporterSlot = b.endpoint(rp0.subordinate!, 0x00, { vendor: 0x10de, device: 0x2330 });
      importerSlot = b.endpoint(rp1.subordinate!, 0x00, { vendor: 0x15b3, device: 0x1021 });
      p2pMapType = name === "cross-root-no-p2p" ? "PCI_P2PDMA_MAP_NOT_SUPPORTED" : "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE";
      break;
    }
    case "sriov": {
      const rp = b.bridge(root, 0x08, "root-port");
      const spec = opts.sriovPf ?? GENERIC_SRIOV_PF;
      const pf = b.endpoint(rp.subordinate!, 0x00, { vendor: spec.vendor, device: spec.device });
      addBars(b, pf, spec.bars);
      const vfs = b.enableSriov(pf, { totalVfs: spec.totalVfs, numVfs: opts.numVfs ?? 2, vfBarSizes: [...spec.vfBarSizes], vfDevice: spec.vfDevice });
      exporterSlot = vfs[0]!;
      importerSlot = pf;
      sriov = { pf, vfs, memBar: spec.memBar };
      p2pMapType = "PCI_P2PDMA_MAP_BUS_ADDR";
      break;
    }
  }
  if (name !== "sriov") {
    addBars(b, exporterSlot, bars);
    addBars(b, importerSlot, bars);
  }
  return { name, kernel, hostBridge: hb, builder: b, exporterSlot, importerSlot, p2pMapType, sriov };
}
