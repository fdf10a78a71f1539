// Race: a VMM clears PCI_COMMAND.MEMORY (revoke) and closes its vfio device (vfio_pci_dma_buf_cleanup) while an importer maps: the kref underflow fixed on 2026-05-07.
import { Kernel, buildTopology, dmaBufPut, getDmaBuf, topologyKernelOptions, type ExploreScenario } from "@dmabuf-sdk/dmabuf-core";
import { vfioPciExporterFixture, vfioPciModule, vfioPciProbe, type VfioPciDmaBufRevokeVersion } from "@dmabuf-sdk/driver-vfio-pci";
import { CompatDynamicImporter } from "@dmabuf-sdk/map-sgt";

/**
 * One VMM thread revokes, another closes the device fd; an RDMA-style
 * importer holding its own reference attaches, maps and detaches. With
 * 1a8a5227f229 alone the revoke drops the registered kref and consumes the
 * completion without re-arming, and cleanup drains every buffer again: the
 * second `kref_put()` underflows (refcount_t WARN) and `wait_for_completion()`
 * never returns. Alex Williamson's fix re-arms after the drain and makes
 * cleanup revoke through `move(true)`, which skips revoked buffers. Allowed
 * outcomes: `ENODEV` (attach or map of a revoked buffer), `EBADF` (the revoke
 * after the close).
 * @public
 */
export function vfioRevokeVsClose(version: VfioPciDmaBufRevokeVersion): ExploreScenario {
  return {
    name: `vfio-revoke-vs-close/${version}`,
    boot: () => new Kernel(topologyKernelOptions("same-switch")),
    build(k) {
      const topology = buildTopology(k, "same-switch");
      k.modprobe(vfioPciModule);
      vfioPciProbe(k, topology.exporterSlot).dmabufRevokeVersion = version;
      const vmm = k.fork({ comm: "vmm" });
      const app = k.fork({ comm: "rdma-app" });
      const buf = vfioPciExporterFixture.export({ kernel: k, topology, task: vmm }, 0x10000n);
      getDmaBuf(buf.dmabuf);
      let imp: CompatDynamicImporter | undefined;
      return {
        tasks: [
          { name: "vmm/vcpu", task: vmm, steps: [{ label: "PCI_COMMAND memory off (revoke)", run: () => buf.invalidate!() }] },
          { name: "vmm/main", task: vmm, steps: [{ label: "close(device fd): vfio_pci_dma_buf_cleanup", run: () => buf.release() }] },
          {
            name: "importer",
            task: app,
            steps: [
              { label: "attach + map", run: () => (imp = new CompatDynamicImporter(topology.importerSlot, buf.dmabuf)).map() },
              { label: "detach", run: () => imp?.detach() },
            ],
          },
        ],
        finish() {
          dmaBufPut(buf.dmabuf);
          k.exitTask(vmm, 0);
          k.exitTask(app, 0);
        },
        check: (outcomes) => outcomes.filter((o) => o.errno !== undefined && o.errno !== "ENODEV" && o.errno !== "EBADF").map((o) => `${o.task}: ${o.step} failed with ${o.errno} (only ENODEV and EBADF are allowed)`),
      };
    },
  };
}
