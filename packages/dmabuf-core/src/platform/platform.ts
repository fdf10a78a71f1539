// The machine under the kernel: physical memory, the PCI bus, IOMMUs and the DMA engine, as one platform.
import type { KernelAllocator } from "../kernel/slab.js";
import type { Trace } from "../kernel/trace.js";
import type { Device } from "./device.js";
import { Iommu, type IommuOptions } from "./iommu.js";
import { PciDev, type PciHostBridge } from "./pci.js";
import { PhysMem } from "./phys-mem.js";

/** Machine-level configuration. @public */
export interface PlatformOptions {
  /** IOMMU mode: translating (`'dma'`), passthrough (`'identity'`), or absent (`'off'`). */
  iommu: "dma" | "identity" | "off";
  /** `iommu.strict`: translated default domains unmap strictly (DMA) or lazily through a flush queue (DMA_FQ). Default true. */
  iommuStrict?: boolean;
  /** IOMMU input address width in bits. */
  iommuAddressWidth: number;
}

/**
 * The hardware of one machine: physical memory, PCI host bridges and their
 * devices, and the IOMMU. Devices register here when created, and PCI
 * functions are probed by the IOMMU as the PCI core does at bus add.
 * @public
 */
export class Platform {
  readonly physmem: PhysMem;
  /** The IOMMU; `undefined` when the machine has none (`iommu: 'off'`). */
  readonly iommu: Iommu | undefined;
  readonly hostBridges: PciHostBridge[] = [];
  readonly #devices = new Map<string, Device>();

  constructor(alloc: KernelAllocator, trace: Trace, readonly options: PlatformOptions) {
    this.physmem = new PhysMem(alloc);
    const iommuOpts: IommuOptions = {
      defaultDomain: options.iommu === "identity" ? "IOMMU_DOMAIN_IDENTITY" : options.iommuStrict === false ? "IOMMU_DOMAIN_DMA_FQ" : "IOMMU_DOMAIN_DMA",
      addressWidth: options.iommuAddressWidth,
    };
    this.iommu = options.iommu === "off" ? undefined : new Iommu(alloc, trace, iommuOpts);
  }

  /** Called by the PCI host bridge constructor. */
  addHostBridge(hb: PciHostBridge): void {
    this.hostBridges.push(hb);
    this.#devices.set(hb.name, hb);
  }

  /** Called by device constructors; PCI functions get an IOMMU group. */
  registerDevice(dev: Device): void {
    this.#devices.set(dev.name, dev);
    if (dev instanceof PciDev && this.iommu) this.iommu.probeDevice(dev);
  }

  /** `bus_find_device_by_name()`. */
  findDevice(name: string): Device | undefined {
    return this.#devices.get(name);
  }

  /** Every device, in creation order. */
  devices(): Device[] {
    return [...this.#devices.values()];
  }

  /** Every PCI function. */
  pciDevices(): PciDev[] {
    return this.devices().filter((d): d is PciDev => d instanceof PciDev);
  }
}
