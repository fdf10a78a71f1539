// include/linux/device.h: struct device, its bus and DMA configuration (dev_is_pci).
import type { IommuGroup } from "./iommu.js";
import type { Kernel } from "../kernel/kernel.js";

/** The bus a device sits on (`dev->bus`). @public */
export type DeviceBus = "pci" | "platform" | "virtual";

/**
 * `struct device`: a name, a parent, a bus and DMA configuration. PCI
 * functions extend it; platform and virtual devices (a kunit-style test
 * device, a DMA heap) use it directly.
 * @public
 */
export class Device {
  /** `dev->driver` name once bound. */
  driver: string | undefined;
  /** `dev->iommu_group`; undefined when no IOMMU translates for it (dma-direct). */
  iommuGroup: IommuGroup | undefined;
  /** `dma_get_mask()`. */
  dmaMask: bigint = (1n << 64n) - 1n;
  /** `dma_get_max_seg_size()`: the kernel's default for devices without `dma_parms` is 64 KiB. */
  dmaMaxSegSize = 0x1_0000;
  /** `pdev->untrusted`: behind an external-facing port; the IOMMU always gives it strict DMA. */
  untrusted = false;
  /** Set once the device is removed (hot-unplug). */
  removed = false;

  constructor(
    /** The machine the device belongs to. */
    readonly kernel: Kernel,
    /** `dev_name()`, e.g. `'0000:03:00.0'`. */
    readonly name: string,
    /** `dev->bus` (the bus type). */
    readonly busType: DeviceBus,
    /** `dev->parent`. */
    readonly parent?: Device,
  ) {}

  toString(): string {
    return this.name;
  }
}

/** `dev_is_pci()`. @public */
export function devIsPci(dev: Device | null | undefined): boolean {
  return dev?.busType === "pci";
}
