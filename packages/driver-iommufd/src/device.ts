// drivers/iommu/iommufd/device.c: binding a device to iommufd and attaching it to an IOAS's auto hw_pagetable.
import { KernelError, type Device, type IommuDomain, type IommuGroup } from "@dmabuf-sdk/dmabuf-core";
import { MSI_RESV } from "./io-pagetable.js";
import { iommufdGetIoas, type IommufdIoas } from "./ioas.js";
import type { IommufdCtx } from "./main.js";

/**
 * `struct iommufd_hwpt_paging` auto-allocated for an IOAS: an UNMANAGED
 * domain of the platform IOMMU that mirrors the IOAS's areas.
 * @public
 */
export class IommufdHwptPaging {
  readonly kind = "hwpt_paging";
  readonly devices = new Set<IommufdDevice>();
  constructor(
    readonly ictx: IommufdCtx,
    readonly id: number,
    readonly ioas: IommufdIoas,
    readonly domain: IommuDomain,
  ) {}
}

/**
 * `struct iommufd_device`: a device bound to an iommufd ctx by its driver
 * (vfio's `VFIO_DEVICE_BIND_IOMMUFD` calls `iommufd_device_bind()`). It owns
 * its IOMMU group's DMA while bound.
 * @public
 */
export class IommufdDevice {
  readonly kind = "device";
  hwpt: IommufdHwptPaging | null = null;
  constructor(
    readonly ictx: IommufdCtx,
    readonly id: number,
    readonly dev: Device,
    readonly group: IommuGroup,
  ) {}
}

/**
 * `iommufd_device_bind(ictx, dev, &id)`: claims DMA ownership of the
 * device's group for the ctx (`EBUSY` when another owner has it; `ENODEV`
 * without an IOMMU group) and takes a reference on the ctx's file.
 * @public
 */
export function iommufdDeviceBind(ictx: IommufdCtx, dev: Device): IommufdDevice {
  const k = ictx.kernel;
  const group = dev.iommuGroup;
  if (!group || !k.platform.iommu) throw new KernelError("ENODEV", "iommufd_device_bind", `${dev.name} has no IOMMU group`);
  if (group.owner !== undefined && group.owner !== ictx) throw new KernelError("EBUSY", "iommu_device_claim_dma_owner", `group ${group.id} is owned`);
  k.alloc.kzalloc("iommufd_device");
  group.owner = ictx;
  group.ownerCount++;
  ictx.file.get();
  return ictx.addObject((id) => new IommufdDevice(ictx, id, dev, group)) as IommufdDevice;
}

/**
 * `iommufd_device_attach(idev, IOMMU_NO_PASID, &pt_id)` with `pt_id` an IOAS:
 * reuses the IOAS's paging domain or allocates one (an UNMANAGED domain,
 * filled with every area), reserves the device's MSI window in the IOAS
 * (`EADDRINUSE` when mapped there) and attaches the group. `ENOENT` for an
 * unknown IOAS, `EINVAL` when already attached. Returns the hwpt id. On
 * failure nothing remains.
 * @public
 */
export function iommufdDeviceAttach(idev: IommufdDevice, ioasId: number): number {
  const ictx = idev.ictx;
  const k = ictx.kernel;
  const iommu = k.platform.iommu!;
  const ioas = iommufdGetIoas(ictx, ioasId);
  if (idev.hwpt) throw new KernelError("EINVAL", "iommufd_device_attach", "already attached");
  let hwpt = ioas.hwpts[0];
  const created = !hwpt;
  if (!hwpt) {
    const domain = iommu.domainAlloc("IOMMU_DOMAIN_UNMANAGED", `iommufd ioas ${ioasId} hwpt`);
    try {
      k.alloc.kzalloc("iommufd_hwpt_paging");
      ioas.iopt.addDomain(domain);
    } catch (e) {
      iommu.domainFree(domain);
      throw e;
    }
    hwpt = ictx.addObject((id) => new IommufdHwptPaging(ictx, id, ioas, domain)) as IommufdHwptPaging;
    ioas.hwpts.push(hwpt);
  }
  try {
    ioas.iopt.reserve(idev, MSI_RESV.start, MSI_RESV.last);
    try {
      iommu.attachGroup(hwpt.domain, idev.group);
    } catch (e) {
      ioas.iopt.unreserve(idev);
      throw e;
    }
  } catch (e) {
    if (created) destroyHwpt(hwpt);
    throw e;
  }
  hwpt.devices.add(idev);
  idev.hwpt = hwpt;
  return hwpt.id;
}

function destroyHwpt(hwpt: IommufdHwptPaging): void {
  const ioas = hwpt.ioas;
  ioas.iopt.removeDomain(hwpt.domain);
  ioas.hwpts.splice(ioas.hwpts.indexOf(hwpt), 1);
  hwpt.ictx.removeObject(hwpt);
  hwpt.ictx.kernel.platform.iommu!.domainFree(hwpt.domain);
}

/**
 * `iommufd_device_detach()`: the group leaves the domain; the last device of
 * an auto-allocated domain frees it (its IOPTEs are removed first).
 * @public
 */
export function iommufdDeviceDetach(idev: IommufdDevice): void {
  const hwpt = idev.hwpt;
  if (!hwpt) return;
  idev.ictx.kernel.platform.iommu!.detachGroup(hwpt.domain, idev.group);
  hwpt.ioas.iopt.unreserve(idev);
  hwpt.devices.delete(idev);
  idev.hwpt = null;
  if (hwpt.devices.size === 0) destroyHwpt(hwpt);
}

/** `iommufd_device_unbind()`: detaches, releases DMA ownership and the ctx reference. @public */
export function iommufdDeviceUnbind(idev: IommufdDevice): void {
  iommufdDeviceDetach(idev);
  const g = idev.group;
  if (--g.ownerCount === 0) g.owner = undefined;
  idev.ictx.removeObject(idev);
  idev.ictx.file.put();
}
