// drivers/nvme/host/pci.c module_init/exit: the nvme driver as a kernel module, binding controllers found on the platform.
import { KernelWeakMap, KernelLocal, ConformanceFixtures, KernelError, type Kernel, type KernelModule, type PciDev } from "@dmabuf-sdk/dmabuf-core";
import { ioUringModule } from "@dmabuf-sdk/io-uring";
import { dmaBufSgtModule } from "@dmabuf-sdk/map-sgt";
import { nvmeFixtures } from "./fixture.js";
import { nvmeBdevFops, type NvmeBlockDevice } from "./fops.js";
import { NvmeHw, type NvmeHwOptions } from "./nvme-hw.js";
import { NvmeDev, type NvmeDevOptions } from "./pci.js";

const HW = new KernelWeakMap<PciDev, NvmeHw>("HW", (pdev) => pdev.kernel);
const DEVS = new KernelLocal<NvmeDev[]>("DEVS");

/**
 * Puts an NVMe controller on PCI function `pdev` (the hardware: what the
 * machine has before any driver runs). `EBUSY` when it already has one.
 * @public
 */
export function nvmeHwAttach(pdev: PciDev, opts: NvmeHwOptions): NvmeHw {
  if (HW.has(pdev)) throw new KernelError("EBUSY", "nvme_hw_attach", `${pdev.name} already has a controller`);
  const hw = new NvmeHw(pdev.kernel, pdev, opts);
  HW.set(pdev, hw);
  return hw;
}

/** The controller hardware on `pdev`, if any. @public */
export function nvmeHwOf(pdev: PciDev): NvmeHw | undefined {
  return HW.get(pdev);
}

/**
 * `nvme_probe()`: binds the driver to the controller on `pdev` and creates
 * `/dev/nvme<N>n<nsid>` for each namespace. `ENODEV` without a controller,
 * `EBUSY` when a driver is bound; the module must be loaded (`ENOENT`).
 * @public
 */
export function nvmeProbe(kernel: Kernel, pdev: PciDev, opts: NvmeDevOptions = {}): NvmeDev {
  if (!kernel.modules.find(nvmeModule.name)) throw new KernelError("ENOENT", "nvme_probe", "nvme module not loaded");
  const hw = HW.get(pdev);
  if (!hw) throw new KernelError("ENODEV", "nvme_probe", `${pdev.name} is not an NVMe controller`);
  if (pdev.driver) throw new KernelError("EBUSY", "nvme_probe", `${pdev.name} is bound to ${pdev.driver}`);
  const devs = DEVS.get(kernel) ?? [];
  DEVS.set(kernel, devs);
  const dev = new NvmeDev(kernel, pdev, hw, opts);
  const instance = devs.length ? Math.max(...devs.map((d) => d.instance)) + 1 : 0;
  dev.instance = instance;
  dev.probe();
  const unregister: (() => void)[] = [];
  for (const ns of dev.namespaces) {
    const name = `nvme${instance}n${ns.nsid}`;
    const bdev: NvmeBlockDevice = { dev, ns, name };
    unregister.push(kernel.devfs.register(name, { fops: nvmeBdevFops, open: (file) => void (file.privateData = bdev) }));
  }
  devs.push(dev);
  REMOVERS.set(dev, () => unregister.forEach((u) => u()));
  return dev;
}

const REMOVERS = new KernelWeakMap<NvmeDev, () => void>("REMOVERS", (dev) => dev.kernel);

/** `nvme_remove()`: see {@link NvmeDev.remove}; the block device nodes go first. @public */
export function nvmeRemove(dev: NvmeDev, surprise = false): void {
  REMOVERS.get(dev)?.();
  REMOVERS.delete(dev);
  dev.remove(surprise);
  const devs = DEVS.get(dev.kernel);
  if (devs) devs.splice(devs.indexOf(dev), 1);
}

/** Controllers the driver is bound to in `kernel`. @public */
export function nvmeDevices(kernel: Kernel): readonly NvmeDev[] {
  return DEVS.get(kernel) ?? [];
}

/**
 * The nvme-pci driver as a module named `nvme`: uses the SGT mapping type
 * for its dma-buf attachments and io_uring's dma-buf I/O layer; offers the
 * `nvme` importer to the conformance matrix. Controllers are bound with
 * {@link nvmeProbe} (the PCI core's probe), unbound at module exit.
 * @public
 */
export const nvmeModule: KernelModule = {
  name: "nvme",
  license: "GPL",
  description: "NVM Express PCIe driver with dma-buf I/O context support",
  importNs: ["DMA_BUF"],
  uses: [
    "dma_buf_dynamic_attach",
    "dma_buf_detach",
    "dma_buf_sgt_map_attachment",
    "dma_buf_sgt_unmap_attachment",
    "dma_buf_io_init_map",
    "dma_buf_io_invalidate_mappings",
    "dma_buf_io_detach",
    "dma_map_phys",
    "dma_unmap_phys",
    "dma_iova_try_alloc",
    "dma_iova_link",
    "dma_iova_destroy",
    "dma_sync_single_for_device",
    "dma_sync_single_for_cpu",
  ],
  requires: [dmaBufSgtModule, ioUringModule],
  init(ctx) {
    const k = ctx.kernel;
    ctx.onExit(() => {
      for (const d of [...nvmeDevices(k)]) nvmeRemove(d);
    });
    ctx.provide(ConformanceFixtures, nvmeFixtures);
  },
};
