// drivers/vfio/pci/vfio_pci.c: the vfio-pci driver module, the devices bound to it and their device files.
import type { InjectionToken } from "tsyringe";
import { vfioPciDmaBufCleanup } from "./vfio-pci-dmabuf.js";
import {
  ConformanceFixtures,
  KernelError,
  exportSymbolGpl,
  provideSymbol,
  pcimP2pdmaInit,
  type File,
  type Kernel,
  type KernelModule,
  type LoadedModule,
  type PciBus,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIovModule } from "@dmabuf-sdk/map-iov";
import { dmaBufPalModule } from "@dmabuf-sdk/map-pal";
import { dmaBufSgtModule } from "@dmabuf-sdk/map-sgt";
import { vfioPciFixtures } from "./fixture.js";
import { VfioDeviceSet, VfioGroup, vfioDeviceFops, vfioGroupFops, type VfioDeviceFile } from "./vfio-main.js";
import { VfioPciCoreDevice, type VfioPciDeviceOps } from "./vfio-pci-core.js";
import { vfioDmaBufGetData, vfioPciCoreGetDmabufPhys } from "./vfio-pci-dmabuf.js";

/**
 * The vfio-pci driver of one kernel: the devices bound to it, their device
 * sets (one per bus) and groups. Provided by {@link vfioPciModule}'s `init`
 * under the `VfioPciDriver` token.
 * @public
 */
export interface VfioPciDriver {
  readonly kernel: Kernel;
  /** The loaded module (owner of the dma-bufs and device files). */
  readonly module: LoadedModule;
  /** Bound devices, in probe order. */
  readonly devices: readonly VfioPciCoreDevice[];
  /** `vfio_pci_probe()`: see {@link vfioPciProbe}. */
  probe(pdev: PciDev, opts?: VfioPciProbeOptions): VfioPciCoreDevice;
  /** `vfio_pci_remove()`: see {@link vfioPciRemove}. */
  remove(vdev: VfioPciCoreDevice): void;
}

/** DI token of the `VfioPciDriver` of a kernel (provided by the module). @public */
export const VfioPciDriver: InjectionToken<VfioPciDriver> = Symbol.for("@dmabuf-sdk/driver-vfio-pci/VfioPciDriver");

/** Options of {@link vfioPciProbe}. @public */
export interface VfioPciProbeOptions {
  /**
   * The device ops (`vdev->pci_ops`). By default vfio-pci's own, with
   * `get_dmabuf_phys`; `null` models a variant driver without dma-buf export.
   */
  readonly pciOps?: VfioPciDeviceOps | null;
  /** The function can do an FLR (default true). */
  readonly flrCapable?: boolean;
}

/** vfio-pci's own device ops (`vfio_pci_core_ops`'s `pci_ops`). */
const vfioPciCorePciOps: VfioPciDeviceOps = { getDmabufPhys: vfioPciCoreGetDmabufPhys };

class VfioPciDriverState implements VfioPciDriver {
  readonly devices: VfioPciCoreDevice[] = [];
  readonly #devSets = new Map<PciBus, VfioDeviceSet>();
  readonly #groups = new Map<number, { group: VfioGroup; unregister: () => void }>();
  readonly #nodes = new Map<VfioPciCoreDevice, () => void>();
  #nextMinor = 0;

  constructor(
    readonly kernel: Kernel,
    readonly module: LoadedModule,
  ) {}

  probe(pdev: PciDev, opts: VfioPciProbeOptions = {}): VfioPciCoreDevice {
    const k = this.kernel;
    if (pdev.driver) throw new KernelError("EBUSY", "vfio_pci_probe", `${pdev.name} is bound to ${pdev.driver}`);
    if (pdev.isBridge || pdev.portType !== "endpoint") throw new KernelError("EINVAL", "vfio_pci_probe", `${pdev.name} is not an endpoint`);
    const iommuGroup = pdev.iommuGroup;
    if (!iommuGroup) throw new KernelError("EINVAL", "vfio_pci_probe", `${pdev.name} has no IOMMU group`);
    // vfio_pci_core_register_device(): p2pdma for the dma-buf exporter.
    pcimP2pdmaInit(k.alloc, pdev);
    let set = this.#devSets.get(pdev.bus);
    if (!set) this.#devSets.set(pdev.bus, (set = new VfioDeviceSet(k, `${pdev.hostBridge.domain.toString(16).padStart(4, "0")}:${pdev.bus.number.toString(16).padStart(2, "0")}`)));
    let g = this.#groups.get(iommuGroup.id);
    if (!g) {
      const group = new VfioGroup(iommuGroup.id);
      const unregister = k.devfs.register(`vfio/${group.id}`, {
        fops: vfioGroupFops,
        open: (file: File) => {
          if (group.file) throw new KernelError("EBUSY", "vfio_group_fops_open", `group ${group.id} is already open`);
          group.file = file;
          file.privateData = group;
        },
      });
      this.#groups.set(iommuGroup.id, (g = { group, unregister }));
    }
    const vdev = new VfioPciCoreDevice(this, pdev, this.#nextMinor++, set, g.group, opts.pciOps === undefined ? vfioPciCorePciOps : opts.pciOps);
    vdev.flrCapable = opts.flrCapable ?? true;
    const unregisterNode = k.devfs.register(vdev.cdevPath.slice("/dev/".length), {
      fops: vfioDeviceFops,
      open: (file: File) => vdev.attachFile(file, true),
    });
    set.devices.push(vdev);
    g.group.devices.push(vdev);
    this.devices.push(vdev);
    this.#nodes.set(vdev, unregisterNode);
    pdev.driver = "vfio-pci";
    return vdev;
  }

  remove(vdev: VfioPciCoreDevice): void {
    if (!this.devices.includes(vdev)) throw new KernelError("ENODEV", "vfio_pci_remove", `${vdev.pdev.name} is not bound to vfio-pci`);
    vdev.unregister();
    this.#nodes.get(vdev)?.();
    this.#nodes.delete(vdev);
    this.devices.splice(this.devices.indexOf(vdev), 1);
    vdev.devSet.devices.splice(vdev.devSet.devices.indexOf(vdev), 1);
    const g = this.#groups.get(vdev.group.id)!;
    g.group.devices.splice(g.group.devices.indexOf(vdev), 1);
    if (g.group.devices.length === 0) {
      g.unregister();
      this.#groups.delete(vdev.group.id);
    }
    vdev.pdev.driver = undefined;
  }

  /** Module exit: unbind every device (none can be open: their files hold the module). */
  shutdown(): void {
    for (const vdev of [...this.devices].reverse()) this.remove(vdev);
  }
}

function driverOf(kernel: Kernel): VfioPciDriver {
  const drv = kernel.providers(VfioPciDriver)[0];
  if (!drv) throw new KernelError("ENODEV", "vfio_pci_probe", "vfio-pci is not loaded");
  return drv;
}

/**
 * Binds vfio-pci to `pdev` (`driver_override` + probe): a cdev
 * `/dev/vfio/devices/vfio<N>`, the group node `/dev/vfio/<iommu group>`, the
 * device set of its bus. `ENODEV` when vfio-pci is not loaded, `EBUSY` when
 * the function has a driver, `EINVAL` for a bridge or a function without an
 * IOMMU group.
 * @public
 */
export function vfioPciProbe(kernel: Kernel, pdev: PciDev, opts?: VfioPciProbeOptions): VfioPciCoreDevice {
  return driverOf(kernel).probe(pdev, opts);
}

/** Unbinds vfio-pci (`vfio_pci_remove()`); `EBUSY` while the device is open or a buffer holds it. @public */
export function vfioPciRemove(vdev: VfioPciCoreDevice): void {
  vdev.driver.remove(vdev);
}

/**
 * Surprise removal of a vfio-pci function from the PCI bus while its
 * buffers are shared. Every dma-buf of the device is revoked for good first
 * (`vfio_pci_dma_buf_cleanup()`, what the close of the device does): other
 * devices' in-flight DMA is waited for (BOOKKEEP fences) and their
 * mappings invalidated before the BAR stops decoding; new maps are
 * `ENODEV`, CPU mappings SIGBUS on their next fault. Then the function is
 * gone (`pdev->removed`). When nobody has the device open it is unbound at
 * once; otherwise the driver waits for the user to close it
 * (`vfio_unregister_group_dev()` sends a request and blocks), which the
 * model leaves to a later {@link vfioPciRemove}. Returns whether the device
 * was unbound.
 * @public
 */
export function vfioPciUnplug(vdev: VfioPciCoreDevice): boolean {
  vfioPciDmaBufCleanup(vdev);
  vdev.pdev.removed = true;
  vdev.kernel.printk.info(`vfio-pci ${vdev.pdev.name}: device removed${vdev.openCount ? ", waiting for the user to release it" : ""}`);
  if (vdev.openCount) return false;
  vfioPciRemove(vdev);
  return true;
}

const NS = "DMA_BUF";

/** `vfio_file_is_valid()`: a vfio device or group file. @public */
export function vfioFileIsValid(file: File): boolean {
  return file.fops === vfioDeviceFops || file.fops === vfioGroupFops;
}

/**
 * `vfio_file_set_kvm(file, kvm)`: the KVM-VFIO device tells vfio which VM the
 * device (or every device of the group) belongs to; null to forget.
 * @public
 */
export function vfioFileSetKvm(file: File, kvm: unknown): void {
  if (file.fops === vfioDeviceFops) (file.privateData as VfioDeviceFile).vdev.kvm = kvm;
  else if (file.fops === vfioGroupFops) for (const vdev of (file.privateData as VfioGroup).devices) vdev.kvm = kvm;
}

/** What vfio exports to KVM (`EXPORT_SYMBOL_GPL`), reached there with `symbol_get()`. */
const KVM_EXPORTS: readonly [string, unknown][] = [
  ["vfio_file_is_valid", vfioFileIsValid],
  ["vfio_file_set_kvm", vfioFileSetKvm],
  ["vfio_dma_buf_get_data", vfioDmaBufGetData],
];

/**
 * vfio-pci as a kernel module (vfio, vfio-pci-core and vfio-pci in one): the
 * dma-buf exporter of BAR ranges. It uses the SGT and PAL types and core's
 * dma-buf exports; it never uses `dma_buf_pal_map_phys` (that is for
 * iommufd). Loading it provides the driver (`VfioPciDriver`) and the
 * `vfio-pci` conformance exporter fixture.
 * @public
 */
export const vfioPciModule: KernelModule = {
  name: "vfio-pci",
  license: "GPL",
  description: "VFIO PCI driver with dma-buf export of BAR ranges (mapping types: IOV on VFs, PAL, SGT P2P)",
  importNs: [NS],
  uses: [
    "dma_buf_export",
    "dma_buf_fd",
    "dma_buf_get",
    "dma_buf_put",
    "dma_buf_match_mapping",
    "dma_buf_invalidate_mappings",
    "dma_buf_attach_revocable",
    "dma_resv_wait_timeout",
    "pcim_p2pdma_init",
    "pcim_p2pdma_provider",
    "dma_buf_mapping_sgt_type",
    "dma_buf_phys_vec_to_sgt",
    "dma_buf_free_sgt",
    "dma_buf_mapping_pal_type",
    "dma_buf_mapping_iov_type",
    "dma_buf_iov_alloc_ranges",
    "dma_buf_iov_free_ranges",
  ],
  exports: KVM_EXPORTS.map(([name]) => exportSymbolGpl(name)),
  requires: [dmaBufSgtModule, dmaBufPalModule, dmaBufIovModule],
  init(ctx) {
    for (const [name, fn] of KVM_EXPORTS) provideSymbol(ctx, name, fn);
    const drv = new VfioPciDriverState(ctx.kernel, ctx.module);
    ctx.provide(VfioPciDriver, drv);
    ctx.provide(ConformanceFixtures, vfioPciFixtures);
    ctx.onExit(() => drv.shutdown());
  },
};
