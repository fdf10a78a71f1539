// Tests of drivers/pci/p2pdma.c: map types and distances between providers and clients on each topology.
import { describe, expect, it } from "vitest";
import {
  Device,
  Kernel,
  PciHostBridge,
  PciTopologyBuilder,
  TOPOLOGY_NAMES,
  buildTopology,
  calcMapTypeAndDist,
  pciBusAddress,
  pciIovVfId,
  pciP2pdmaBusAddrMap,
  pciP2pdmaDistance,
  pciP2pdmaMapType,
  pciPhysfn,
  pcimP2pdmaInit,
  pcimP2pdmaProvider,
  topologyKernelOptions,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";

function boot(name: TopologyName) {
  const k = new Kernel(topologyKernelOptions(name));
  return { k, t: buildTopology(k, name) };
}

describe("p2pdma", () => {
  it.each([
    { topology: "same-switch", mapType: "PCI_P2PDMA_MAP_BUS_ADDR", distance: 4 },
    { topology: "same-switch-acs", mapType: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE", distance: 4 },
    { topology: "cross-root", mapType: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE", distance: 4 },
    { topology: "cross-root-no-p2p", mapType: "PCI_P2PDMA_MAP_NOT_SUPPORTED", distance: -1 },
    { topology: "iommu-off", mapType: "PCI_P2PDMA_MAP_THRU_HOST_BRIDGE", distance: 4 },
    { topology: "sriov", mapType: "PCI_P2PDMA_MAP_BUS_ADDR", distance: 2 },
  ] as const)("$topology: pci_p2pdma_map_type = $mapType, distance $distance", ({ topology, mapType, distance }) => {
    const { k, t } = boot(topology);
    pcimP2pdmaInit(k.alloc, t.exporterSlot);
    const provider = pcimP2pdmaProvider(t.exporterSlot, topology === "sriov" ? 2 : 0)!;
    expect(pciP2pdmaMapType(provider, t.importerSlot)).toBe(mapType);
    expect(pciP2pdmaDistance(t.exporterSlot, t.importerSlot)).toBe(distance);
    expect(t.p2pMapType).toBe(mapType);
  });

  it("covers every named topology", () => {
    expect(TOPOLOGY_NAMES).toEqual(["same-switch", "same-switch-acs", "cross-root", "cross-root-no-p2p", "iommu-off", "sriov"]);
  });

  it("a function is at distance 0 from itself", () => {
    const { t } = boot("cross-root");
    expect(calcMapTypeAndDist(t.exporterSlot, t.exporterSlot)).toMatchObject({ mapType: "PCI_P2PDMA_MAP_BUS_ADDR", distance: 0 });
  });

  it("ACS redirect on either side of the path forces the host bridge and says so", () => {
    const { k, t } = boot("same-switch");
    const clientPort = t.importerSlot.bus.self!;
    clientPort.acs = { requestRedirect: true, completionRedirect: false, egressControl: false };
    const p = calcMapTypeAndDist(t.exporterSlot, t.importerSlot, k.printk);
    expect(p.mapType).toBe("PCI_P2PDMA_MAP_THRU_HOST_BRIDGE");
    expect(p.acsRedirects).toEqual([clientPort]);
    expect(k.printk.contains(`to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=${clientPort.name}`)).toBe(true);
    clientPort.acs = null;
    t.exporterSlot.bus.self!.acs = { requestRedirect: false, completionRedirect: true, egressControl: false };
    expect(calcMapTypeAndDist(t.exporterSlot, t.importerSlot).mapType).toBe("PCI_P2PDMA_MAP_THRU_HOST_BRIDGE");
  });

  it("a host bridge whitelisted only for itself does not route to another host bridge", () => {
    const k = new Kernel();
    const hb0 = new PciHostBridge(k, 0, { p2pCapable: true, p2pSameHostBridgeOnly: true });
    const hb1 = new PciHostBridge(k, 1, { p2pCapable: true });
    const b0 = new PciTopologyBuilder(hb0);
    const b1 = new PciTopologyBuilder(hb1, { mem64Base: 0x80_0000_0000n });
    const a = b0.endpoint(b0.bridge(hb0.rootBus, 8, "root-port").subordinate!, 0);
    const b = b1.endpoint(b1.bridge(hb1.rootBus, 8, "root-port").subordinate!, 0);
    const c = b0.endpoint(b0.bridge(hb0.rootBus, 16, "root-port").subordinate!, 0);
    expect(calcMapTypeAndDist(a, b).mapType).toBe("PCI_P2PDMA_MAP_NOT_SUPPORTED");
    expect(calcMapTypeAndDist(a, c).mapType).toBe("PCI_P2PDMA_MAP_THRU_HOST_BRIDGE");
  });

  it("pci_p2pdma_map_type: NOT_SUPPORTED for a non-PCI client; distance walks to a PCI parent", () => {
    const { k, t } = boot("same-switch");
    pcimP2pdmaInit(k.alloc, t.exporterSlot);
    const provider = pcimP2pdmaProvider(t.exporterSlot, 0)!;
    const platformDev = new Device(k, "platform-dev", "platform");
    const child = new Device(k, "card0", "virtual", t.importerSlot);
    expect(pciP2pdmaMapType(provider, platformDev)).toBe("PCI_P2PDMA_MAP_NOT_SUPPORTED");
    expect(pciP2pdmaMapType(provider, child)).toBe("PCI_P2PDMA_MAP_NOT_SUPPORTED");
    expect(pciP2pdmaDistance(t.exporterSlot, child)).toBe(4);
    expect(pciP2pdmaDistance(t.exporterSlot, platformDev, k.printk)).toBe(-1);
    expect(k.printk.contains("platform-dev: cannot be used for peer-to-peer DMA as it is not a PCI device")).toBe(true);
  });

  it("providers exist for memory BARs only, after pcim_p2pdma_init()", () => {
    const { k, t } = boot("cross-root");
    expect(pcimP2pdmaProvider(t.exporterSlot, 0)).toBeNull();
    pcimP2pdmaInit(k.alloc, t.exporterSlot);
    expect(pcimP2pdmaProvider(t.exporterSlot, 0)).not.toBeNull();
    expect(pcimP2pdmaProvider(t.exporterSlot, 4)).toBeNull(); // I/O port BAR
    expect(pcimP2pdmaProvider(t.exporterSlot, 3)).toBeNull(); // absent BAR
  });

  it("pci_p2pdma_bus_addr_map adds the bus offset", () => {
    const k = new Kernel();
    const hb = new PciHostBridge(k, 0, { p2pCapable: true, windowOffset: 0x10_0000_0000n });
    const b = new PciTopologyBuilder(hb);
    const ep = b.endpoint(b.bridge(hb.rootBus, 8, "root-port").subordinate!, 0);
    const bar = b.bar(ep, 0, 1n << 20n);
    pcimP2pdmaInit(k.alloc, ep);
    const p = pcimP2pdmaProvider(ep, 0)!;
    expect(p.busOffset).toBe(-0x10_0000_0000n);
    expect(pciP2pdmaBusAddrMap(p, bar.start + 0x2000n)).toBe(pciBusAddress(bar) + 0x2000n);
    expect(pciBusAddress(bar)).toBe(bar.start - 0x10_0000_0000n);
  });

  it("SR-IOV: VF ids are 0-based, physfn is the PF", () => {
    const { t } = boot("sriov");
    const { pf, vfs } = t.sriov!;
    expect(vfs.map((v) => v.name)).toEqual(["0000:01:00.1", "0000:01:00.2"]);
    expect(vfs.map(pciIovVfId)).toEqual([0, 1]);
    expect(pciIovVfId(pf)).toBe(-22);
    expect(pciPhysfn(vfs[1]!)).toBe(pf);
    expect(pciPhysfn(pf)).toBe(pf);
    expect(vfs[1]!.bars[2]!.start - vfs[0]!.bars[2]!.start).toBe(vfs[0]!.bars[2]!.size);
  });
});
