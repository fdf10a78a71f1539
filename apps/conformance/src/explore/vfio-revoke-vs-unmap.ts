// Race: vfio-pci revokes a buffer (PCI_COMMAND memory disable: invalidate, fence wait, drain of the mappings) while its importer maps and unmaps it.
import { Kernel, buildTopology, dmaBufPut, getDmaBuf, topologyKernelOptions, type ExploreScenario, type ExploreStep, type ExportedBuffer } from "@dmabuf-sdk/dmabuf-core";
import { vfioPciExporterFixture, vfioPciModule, vfioPciProbe, type VfioPciDmaBufRevokeVersion } from "@dmabuf-sdk/driver-vfio-pci";
import { DeferredUnmapImporter } from "./deferred-unmap-importer.js";

/** What the importer writes through its mapping. */
const DATA = Uint8Array.of(0xd, 0xb, 0xa, 0x5);

/**
 * The shared shape of the vfio invalidate-against-unmap races: a VMM's steps
 * against an importer that maps and posts a DMA write, unmaps (its transfer
 * completes first), maps and posts again and detaches; its invalidation
 * callback only queues the teardown on a kworker. Maps may fail with
 * `ENODEV`; a transfer that faults means a mapping outlived the revoke.
 * @public
 */
export function vfioDeferredUnmapRace(name: string, version: VfioPciDmaBufRevokeVersion, vmmSteps: (buf: ExportedBuffer) => ExploreStep[]): ExploreScenario {
  return {
    name,
    boot: () => new Kernel(topologyKernelOptions("same-switch")),
    build(k) {
      const topology = buildTopology(k, "same-switch");
      k.modprobe(vfioPciModule);
      vfioPciProbe(k, topology.exporterSlot).dmabufRevokeVersion = version;
      const vmm = k.fork({ comm: "vmm" });
      const app = k.fork({ comm: "rdma-app" });
      const buf = vfioPciExporterFixture.export({ kernel: k, topology, task: vmm }, 0x10000n);
      getDmaBuf(buf.dmabuf);
      const imp = k.runAs(app, () => new DeferredUnmapImporter(topology.importerSlot, buf.dmabuf));
      const revoked = (): boolean => (buf.dmabuf.priv as { status: string }).status !== "VFIO_PCI_DMA_BUF_OK";
      const map = () => {
        imp.mapAndPost(DATA);
        if (revoked()) throw new Error("a map succeeded on a revoked buffer");
      };
      return {
        tasks: [
          { name: "vmm", task: vmm, steps: vmmSteps(buf) },
          {
            name: "importer",
            task: app,
            steps: [
              { label: "map + post DMA", run: map },
              { label: "unmap", run: () => imp.unmap() },
              { label: "map again + post DMA", run: map },
              { label: "detach", run: () => imp.detach() },
            ],
          },
        ],
        finish() {
          dmaBufPut(buf.dmabuf);
          buf.release();
          k.exitTask(vmm, 0);
          k.exitTask(app, 0);
        },
        check: (outcomes) => [
          ...imp.faults.map((f) => `a mapping outlived the revoke: the importer's in-flight DMA faulted (${f.reason})\n${f.message}`),
          ...outcomes.filter((o) => o.errno !== undefined && o.errno !== "ENODEV").map((o) => `${o.task}: ${o.step} failed with ${o.errno} (only ENODEV is allowed)`),
        ],
      };
    },
  };
}

/**
 * The VMM revokes (clears `PCI_COMMAND.MEMORY`) and restores. Since
 * 1a8a5227f229 the revoke invalidates under the resv lock and waits until
 * every mapping came back (`vfio_pci_dma_buf_move()`), so the importer's
 * transfer completes while the BAR still decodes; before it the revoke only
 * notified, the memory decode went off with the mapping still live, and the
 * transfer the kworker finishes later is an Unsupported Request.
 * @public
 */
export function vfioRevokeVsUnmap(version: VfioPciDmaBufRevokeVersion = "post-2026-05-07"): ExploreScenario {
  const name = version === "post-2026-05-07" ? "vfio-revoke-vs-unmap" : `vfio-revoke-vs-unmap/${version}`;
  return vfioDeferredUnmapRace(name, version, (buf) => [
    { label: "PCI_COMMAND memory off (revoke)", run: () => buf.invalidate!() },
    { label: "PCI_COMMAND memory on (restore)", run: () => buf.restore!() },
  ]);
}
