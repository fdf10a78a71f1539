// Race: a vfio-pci device is hot-unplugged (vfio_pci_dma_buf_cleanup, then the function is gone) while an importer's DMA into its BAR is in flight.
import type { ExploreScenario } from "@dmabuf-sdk/dmabuf-core";
import type { VfioPciDmaBufRevokeVersion } from "@dmabuf-sdk/driver-vfio-pci";
import { vfioDeferredUnmapRace } from "./vfio-revoke-vs-unmap.js";

/**
 * The device is surprise-removed while the VMM still has it open; removal
 * revokes every exported buffer for good (`vfio_pci_dma_buf_cleanup()`)
 * before the function disappears. Since 1a8a5227f229 cleanup waits for the
 * importer to unmap, so its transfer completes while the BAR is still there;
 * before it cleanup only notified and the kworker's transfer hits a device
 * that no longer decodes. Later maps fail with `ENODEV`.
 * @public
 */
export function vfioUnplugVsDma(version: VfioPciDmaBufRevokeVersion): ExploreScenario {
  return vfioDeferredUnmapRace(`vfio-unplug-vs-dma/${version === "post-2026-05-07" ? "post-1a8a5227f229" : version}`, version, (buf) => [{ label: "PCI hot-unplug (vfio-pci remove)", run: () => buf.unplug!() }]);
}
