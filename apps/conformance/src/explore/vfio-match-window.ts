// Race: a VMM closes its vfio device (vfio_pci_dma_buf_cleanup) while an importer attaches to one of its dma-bufs — the v1 match_mapping window.
import { Kernel, buildTopology, dmaBufPut, getDmaBuf, topologyKernelOptions, type ExploreScenario, type ExportedBuffer } from "@dmabuf-sdk/dmabuf-core";
import { vfioPciExporterFixture, vfioPciModule, vfioPciProbe, type VfioPciMatchMappingVersion } from "@dmabuf-sdk/driver-vfio-pci";
import { CompatDynamicImporter } from "@dmabuf-sdk/map-sgt";

/**
 * The VMM exports a BAR slice and closes its device fd (the last close runs
 * `vfio_pci_dma_buf_cleanup()`: revoke, then `priv->vdev = NULL`); an
 * RDMA-style dynamic importer holding its own reference attaches, maps,
 * detaches and puts it. Attach and map may fail with `ENODEV` (the buffer is
 * revoked for good); anything else — an oops, a leak, a lockdep report, a
 * hung drain, another errno — is a failure.
 * @public
 */
export function vfioCloseVsAttach(version: VfioPciMatchMappingVersion): ExploreScenario {
  return {
    name: `vfio-close-vs-attach/${version}`,
    boot: () => new Kernel(topologyKernelOptions("same-switch")),
    build(k) {
      const topology = buildTopology(k, "same-switch");
      k.modprobe(vfioPciModule);
      vfioPciProbe(k, topology.exporterSlot).matchMappingVersion = version;
      const vmm = k.fork({ comm: "vmm" });
      const app = k.fork({ comm: "rdma-app" });
      const buf: ExportedBuffer = vfioPciExporterFixture.export({ kernel: k, topology, task: vmm }, 0x10000n);
      getDmaBuf(buf.dmabuf); // the importer's reference (the fd it was handed)
      let imp: CompatDynamicImporter | undefined;
      return {
        tasks: [
          { name: "vmm", task: vmm, steps: [{ label: "close(device fd): vfio_pci_dma_buf_cleanup", run: () => buf.release() }] },
          {
            name: "importer",
            task: app,
            steps: [
              { label: "dma_buf_dynamic_attach", run: () => void (imp = new CompatDynamicImporter(topology.importerSlot, buf.dmabuf)) },
              { label: "map", run: () => imp?.map() },
              { label: "detach", run: () => imp?.detach() },
              { label: "dma_buf_put", run: () => dmaBufPut(buf.dmabuf) },
            ],
          },
        ],
        finish() {
          k.exitTask(vmm, 0);
          k.exitTask(app, 0);
        },
        check: (outcomes) => outcomes.filter((o) => o.errno !== undefined && o.errno !== "ENODEV").map((o) => `${o.task}: ${o.step} failed with ${o.errno} (only ENODEV is allowed)`),
      };
    },
  };
}
