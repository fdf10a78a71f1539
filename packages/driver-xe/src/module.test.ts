// Tests of the xe module and its fixtures through the conformance lifecycle (the matrix's oracle rows).
import { describe, expect, it } from "vitest";
import { ConformanceFixtures, Kernel, TOPOLOGY_NAMES, VMLINUX_EXPORTS, buildTopology, modpost, runPairCase, topologyKernelOptions, type ExporterFixture, type ImporterFixture, type TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIovModule } from "@dmabuf-sdk/map-iov";
import { drmModule } from "@dmabuf-sdk/drm";
import { compatDynamicImporterFixture, compatExporterFixture, compatStaticImporterFixture, dmaBufSgtModule } from "@dmabuf-sdk/map-sgt";
import { LMEM_BAR, XE_SRIOV_PF, xeDeviceOf, xeDevices, xeGtSriovPfConfigGetLmem, xeImporterFixture, xeModule, xeSystemExporterFixture, xeVramExporterFixture } from "@dmabuf-sdk/driver-xe";
import { vfExporterFixture } from "@dmabuf-sdk/driver-xe/testing";

describe("xe module", () => {
  it("modprobe loads the DRM core, the SGT and IOV types first; on sriov the PF binds in PF mode and provisions its VFs; other functions stay unbound", () => {
    const k = new Kernel(topologyKernelOptions("sriov"));
    const t = buildTopology(k, "sriov", { sriovPf: XE_SRIOV_PF });
    const vfBacking = t.sriov!.vfs[0]!.bars[LMEM_BAR]!.backing;
    k.modprobe(xeModule);
    expect(k.modules.modules().map((m) => m.name)).toEqual(["drm", "dma_buf_mapping_sgt", "dma_buf_mapping_iov", "xe"]);
    const xe = xeDeviceOf(t.sriov!.pf)!;
    expect([xe.sriovMode, xeGtSriovPfConfigGetLmem(xe, 1), xeGtSriovPfConfigGetLmem(xe, 2), t.sriov!.vfs.map((v) => v.driver)]).toEqual(["XE_SRIOV_MODE_PF", 1n << 30n, 1n << 30n, [undefined, undefined]]);
    expect(k.printk.contains("xe 0000:01:00.0: [drm] PF: VF1 provisioned with 1024 MiB LMEM")).toBe(true);
    k.unloadModule("xe");
    // Unbound: the VF BARs and the PF's LMEM BAR have their old backings, nothing remains.
    expect([xeDevices(k), t.sriov!.pf.driver, t.sriov!.vfs[0]!.bars[LMEM_BAR]!.backing === vfBacking]).toEqual([[], undefined, true]);
    expect(k.leakReport().text()).toBe("");
  });

  it("on the other topologies no slot is an Xe function: nothing binds until a fixture binds it", () => {
    const k = new Kernel();
    const t = buildTopology(k, "same-switch");
    k.modprobe(xeModule);
    expect([t.exporterSlot.driver, t.importerSlot.driver, xeDevices(k)]).toEqual([undefined, undefined, []]);
  });

  it("offers its fixtures to the conformance matrix; names start with xe", () => {
    const k = new Kernel();
    k.modprobe(xeModule);
    const mine = k.providers(ConformanceFixtures).filter((f) => f.package === "@dmabuf-sdk/driver-xe");
    expect(mine.map((f) => [f.exporters.map((e) => e.name), f.importers.map((i) => i.name)])).toEqual([[["xe-vram", "xe-system"], ["xe"]]]);
    const topos = Object.fromEntries(TOPOLOGY_NAMES.map((n) => [n, buildTopology(new Kernel(topologyKernelOptions(n)), n)]));
    expect(TOPOLOGY_NAMES.filter((n) => xeVramExporterFixture.placeable(topos[n]!))).toEqual(TOPOLOGY_NAMES.filter((n) => n !== "sriov"));
    expect(TOPOLOGY_NAMES.filter((n) => xeImporterFixture.placeable(topos[n]!))).toEqual(TOPOLOGY_NAMES);
  });

  it("modpost: xe links against core, drm (drm_sched), the SGT and IOV types, in the DMA_BUF namespace", () => {
    expect(modpost({ modules: [drmModule, dmaBufSgtModule, dmaBufIovModule, xeModule], vmlinux: VMLINUX_EXPORTS })).toEqual({ errors: [], warnings: [] });
    expect(modpost({ modules: [dmaBufSgtModule, dmaBufIovModule, xeModule], vmlinux: VMLINUX_EXPORTS }).errors).toContain('ERROR: modpost: "drm_sched_init" [xe.ko] undefined!');
    const noNs = { ...xeModule, importNs: [] };
    expect(modpost({ modules: [drmModule, dmaBufSgtModule, dmaBufIovModule, noNs], vmlinux: VMLINUX_EXPORTS }).errors).toContain("ERROR: modpost: module xe uses symbol dma_buf_iov_map_ranges from namespace DMA_BUF, but does not import it.");
  });
});

describe("xe fixtures: the conformance lifecycle (the oracle rows proposed for the matrix)", () => {
  const P2P_TOPOS: [TopologyName, string][] = [
    ["same-switch", "BUS_ADDR"],
    ["same-switch-acs", "THRU_HOST_BRIDGE"],
    ["cross-root", "THRU_HOST_BRIDGE"],
    ["iommu-off", "THRU_HOST_BRIDGE"],
  ];
  type Row = { exp: ExporterFixture; imp: ImporterFixture; topo: TopologyName; mapType?: string; p2p?: string | null; errno?: string; step?: string; invalidated?: string };
  const rows: Row[] = [
    ...P2P_TOPOS.flatMap(([topo, p2p]) => [
      { exp: xeVramExporterFixture, imp: xeImporterFixture, topo, mapType: "SGT", p2p, invalidated: "evict" },
      { exp: xeVramExporterFixture, imp: compatDynamicImporterFixture, topo, mapType: "SGT", p2p, invalidated: "evict" },
    ]),
    { exp: xeVramExporterFixture, imp: xeImporterFixture, topo: "cross-root-no-p2p", mapType: "SGT", p2p: null, invalidated: "swapout" },
    { exp: xeVramExporterFixture, imp: compatDynamicImporterFixture, topo: "cross-root-no-p2p", mapType: "SGT", p2p: null, invalidated: "swapout" },
    ...(["same-switch", "cross-root-no-p2p"] as TopologyName[]).flatMap((topo) => [
      { exp: xeVramExporterFixture, imp: compatStaticImporterFixture, topo, mapType: "SGT", p2p: null },
      { exp: xeSystemExporterFixture, imp: compatStaticImporterFixture, topo, mapType: "SGT", p2p: null },
      { exp: xeSystemExporterFixture, imp: compatDynamicImporterFixture, topo, mapType: "SGT", p2p: null, invalidated: "swapout" },
      { exp: xeSystemExporterFixture, imp: xeImporterFixture, topo, mapType: "SGT", p2p: null, invalidated: "swapout" },
      { exp: compatExporterFixture, imp: xeImporterFixture, topo, mapType: "SGT", p2p: null },
    ]),
    { exp: compatExporterFixture, imp: xeImporterFixture, topo: "sriov", mapType: "SGT", p2p: null },
    { exp: vfExporterFixture, imp: xeImporterFixture, topo: "sriov", mapType: "IOV", p2p: null, invalidated: "revoke" },
  ];
  it.each(rows.map((r) => ({ ...r, name: `${r.topo}/${r.exp.name}/${r.imp.name}` })))("$name: $mapType $p2p", ({ exp, imp, topo, ...want }) => {
    const got = runPairCase(topo, exp, imp, 7);
    expect(got.violations).toEqual([]);
    expect({ ...got.actual, invalidated: got.invalidated }).toEqual({ mapType: want.mapType, p2p: want.p2p, errno: want.errno, step: want.step, invalidated: want.invalidated });
  });
});
