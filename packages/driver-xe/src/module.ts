// drivers/gpu/drm/xe/xe_module.c: xe.ko, whose module_init registers the PCI driver.
import { ConformanceFixtures, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIovModule } from "@dmabuf-sdk/map-iov";
import { dmaBufSgtModule } from "@dmabuf-sdk/map-sgt";
import { drmModule } from "@dmabuf-sdk/drm";
import { xeDeviceProbe, xeDeviceRemove, xeDevices, xePciMatch } from "./xe-device.js";
import { xeFixtures } from "./fixture.js";

/**
 * The Xe driver as a kernel module (`xe.ko`). `module_init` registers the PCI
 * driver, which probes every function `xe_pci_table` lists (on the `sriov`
 * topology: the PF, which enters SR-IOV PF mode and provisions its VFs'
 * LMEM); a probe failure is logged and leaves the device unbound, as the PCI
 * core does. `module_exit` removes every Xe device. It also offers the Xe
 * fixtures to the conformance matrix.
 * @public
 */
export const xeModule: KernelModule = {
  name: "xe",
  license: "GPL and additional rights",
  description: "Intel Xe2 Graphics",
  importNs: ["DMA_BUF"],
  uses: [
    "dma_buf_export",
    "dma_buf_put",
    "dma_buf_mapping_attach",
    "dma_buf_detach",
    "dma_buf_match_mapping",
    "dma_buf_invalidate_mappings",
    "dma_buf_mapping_sgt_type",
    "dma_buf_sgt_map_attachment",
    "dma_buf_sgt_unmap_attachment",
    "dma_buf_phys_vec_to_sgt",
    "dma_buf_free_sgt",
    "sg_alloc_table",
    "sg_free_table",
    "dma_map_sgtable",
    "dma_unmap_sgtable",
    "dma_buf_mapping_iov_type",
    "dma_buf_iov_map_ranges",
    "dma_buf_iov_unmap_ranges",
    "pcim_p2pdma_init",
    "pcim_p2pdma_provider",
    "device_dma_read",
    "device_dma_write",
    "drm_sched_init",
    "drm_sched_fini",
    "drm_sched_job_init",
    "drm_sched_job_arm",
    "drm_sched_job_cleanup",
    "drm_sched_entity_init",
    "drm_sched_entity_push_job",
    "drm_sched_entity_destroy",
  ],
  requires: [drmModule, dmaBufSgtModule, dmaBufIovModule],
  init(ctx) {
    const k = ctx.kernel;
    for (const pdev of k.platform.pciDevices()) {
      if (pdev.driver || !xePciMatch(pdev)) continue;
      try {
        xeDeviceProbe(pdev);
      } catch (e) {
        k.printk.err(`xe ${pdev.name}: probe with driver xe failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    ctx.provide(ConformanceFixtures, xeFixtures);
  },
  exit(ctx) {
    for (const xe of xeDevices(ctx.kernel)) xeDeviceRemove(xe);
  },
};
