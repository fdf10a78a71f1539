// Race: vfio-pci revokes a buffer (PCI_COMMAND memory disable: invalidate, fence wait, drain of the mappings) while its importer maps and unmaps it.
import { Kernel, buildTopology, dmaBufPut, getDmaBuf, topologyKernelOptions, type ExploreScenario } from "@dmabuf-sdk/dmabuf-core";
import { vfioPciExporterFixture, vfioPciModule, vfioPciProbe } from "@dmabuf-sdk/driver-vfio-pci";
import { CompatDynamicImporter } from "@dmabuf-sdk/map-sgt";

/**
 * The importer is attached; it maps, unmaps, maps again and detaches while
 * the VMM revokes (clears `PCI_COMMAND.MEMORY`) and restores. The revoke
 * invalidates under the resv lock and waits until every mapping came back
 * (`vfio_pci_dma_buf_set_status`), so no schedule may hang, leak a mapping
 * or see a map succeed while revoked; maps may fail with `ENODEV`.
 * @public
 */
export function vfioRevokeVsUnmap(): ExploreScenario {
  return {
    name: "vfio-revoke-vs-unmap",
    boot: () => new Kernel(topologyKernelOptions("same-switch")),
    build(k) {
      const topology = buildTopology(k, "same-switch");
      k.modprobe(vfioPciModule);
      vfioPciProbe(k, topology.exporterSlot);
      const vmm = k.fork({ comm: "vmm" });
      const app = k.fork({ comm: "rdma-app" });
      const buf = vfioPciExporterFixture.export({ kernel: k, topology, task: vmm }, 0x10000n);
      getDmaBuf(buf.dmabuf);
      const imp = k.runAs(app, () => new CompatDynamicImporter(topology.importerSlot, buf.dmabuf));
      const revoked = (): boolean => (buf.dmabuf.priv as { status: string }).status !== "VFIO_PCI_DMA_BUF_OK";
      const map = () => {
        imp.map();
        if (revoked()) throw new Error("a map succeeded on a revoked buffer");
      };
      return {
        tasks: [
          {
            name: "vmm",
            task: vmm,
            steps: [
              { label: "PCI_COMMAND memory off (revoke)", run: () => buf.invalidate!() },
              { label: "PCI_COMMAND memory on (restore)", run: () => buf.restore!() },
            ],
          },
          {
            name: "importer",
            task: app,
            steps: [
              { label: "map", run: map },
              { label: "unmap", run: () => imp.unmap() },
              { label: "map again", run: map },
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
        check: (outcomes) => outcomes.filter((o) => o.errno !== undefined && o.errno !== "ENODEV").map((o) => `${o.task}: ${o.step} failed with ${o.errno} (only ENODEV is allowed)`),
      };
    },
  };
}
