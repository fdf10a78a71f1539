// Tests kvmBindReport over the in-tree exporters: which exporters each KVM design can bind, per topology.
import { describe, expect, it } from "vitest";
import { kvmBindReport } from "@dmabuf-sdk/kvm";
import { defaultRequests, loadFixtures } from "@dmabuf-sdk/conformance";

describe("which exporters each KVM design can bind (kvmBindReport over the in-tree exporters)", () => {
  it("same-switch: mainline binds what the VMM can mmap (the heap's pages, vfio's BAR, Xe's TTM-faulted BOs), v1/v2 nothing unassociated, pfn-attachment and PAL (once listed) only vfio-pci, PAL for iommufd never loads", async () => {
    const set = await loadFixtures(defaultRequests([], process.cwd(), true));
    const rows = kvmBindReport(set.exporters.map((e) => e.fixture), "same-switch");
    const table = Object.fromEntries(rows.map((r) => [`${r.importer} × ${r.exporter}`, r.bound ? "bound" : `${r.errno} at ${r.step}`]));
    expect(table).toEqual({
      "kvm × compat-exporter": "EINVAL at attach",
      "kvm × system-heap": "bound",
      "kvm × vfio-pci": "bound",
      "kvm × xe-vram": "bound",
      "kvm × xe-system": "bound",
      "kvm-yilun-v1 × compat-exporter": "ENOENT at attach",
      "kvm-yilun-v1 × system-heap": "ENOENT at attach",
      "kvm-yilun-v1 × vfio-pci": "EINVAL at attach",
      "kvm-yilun-v1 × xe-vram": "ENOENT at attach",
      "kvm-yilun-v1 × xe-system": "ENOENT at attach",
      "kvm-yilun-v2 × compat-exporter": "ENOENT at attach",
      "kvm-yilun-v2 × system-heap": "ENOENT at attach",
      "kvm-yilun-v2 × vfio-pci": "EINVAL at attach",
      "kvm-yilun-v2 × xe-vram": "ENOENT at attach",
      "kvm-yilun-v2 × xe-system": "ENOENT at attach",
      "kvm-pfn-attachment × compat-exporter": "EOPNOTSUPP at attach",
      "kvm-pfn-attachment × system-heap": "EOPNOTSUPP at attach",
      "kvm-pfn-attachment × vfio-pci": "bound",
      "kvm-pfn-attachment × xe-vram": "EOPNOTSUPP at attach",
      "kvm-pfn-attachment × xe-system": "EOPNOTSUPP at attach",
      "kvm-maptype-pal-iommufd × compat-exporter": "EINVAL at load",
      "kvm-maptype-pal-iommufd × system-heap": "EINVAL at load",
      "kvm-maptype-pal-iommufd × vfio-pci": "EINVAL at load",
      "kvm-maptype-pal-iommufd × xe-vram": "EINVAL at load",
      "kvm-maptype-pal-iommufd × xe-system": "EINVAL at load",
      "kvm-maptype-pal-iommufd+kvm × compat-exporter": "EINVAL at attach",
      "kvm-maptype-pal-iommufd+kvm × system-heap": "EINVAL at attach",
      "kvm-maptype-pal-iommufd+kvm × vfio-pci": "bound",
      "kvm-maptype-pal-iommufd+kvm × xe-vram": "EINVAL at attach",
      "kvm-maptype-pal-iommufd+kvm × xe-system": "EINVAL at attach",
    });
  });
});
