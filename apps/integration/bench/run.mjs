// Benchmark of the vfio-pci → iommufd dma-buf cycle (`pnpm bench`), an integration of two drivers.
// One cycle: VFIO_DEVICE_FEATURE_DMA_BUF of a 1 GiB buffer made of 64 BAR ranges (16 MiB each,
// in reverse order), IOMMU_IOAS_MAP_FILE (attach [PAL], map_phys, 262,144 IOPTEs),
// VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE (invalidate: every IOPTE zapped, the list given back,
// the drain), IOMMU_IOAS_UNMAP (detach, release) and close of the dma-buf fd.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { Kernel, O_CLOEXEC, O_RDWR, buildTopology, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_SET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioDeviceFeatureDmaBufRevoke,
  vfioPciModule,
  vfioPciProbe,
} from "@dmabuf-sdk/driver-vfio-pci";
import { IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_MAP_READABLE, IOMMU_IOAS_MAP_WRITEABLE, IOMMU_IOAS_UNMAP, iommuIoasMapFile, iommuIoasUnmap, iommufdModule, iommufdOpenSession } from "@dmabuf-sdk/driver-iommufd";

const GiB = 1n << 30n;
const NR = 64;
const RANGE = GiB / BigInt(NR);

const k = new Kernel(topologyKernelOptions("same-switch"));
k.trace.enabled = false;
k.faults.recordLimit = 0;
const t = buildTopology(k, "same-switch");
k.modprobe(vfioPciModule);
k.modprobe(iommufdModule);
const vdev = vfioPciProbe(k, t.exporterSlot);
const user = k.fork({ comm: "vmm" });
const devFd = user.sys.open(vdev.cdevPath, O_RDWR);
const s = iommufdOpenSession(k, user, t.importerSlot);
const ranges = Array.from({ length: NR }, (_, i) => ({ offset: BigInt(NR - 1 - i) * RANGE, length: RANGE }));
const exportReq = vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: 0, openFlags: O_RDWR | O_CLOEXEC, ranges }));
const pgtable = () => t.importerSlot.iommuGroup.domain.pgtable;

function cycle() {
  const fd = user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, exportReq);
  if (fd < 0) throw new Error(`export: ${fd}`);
  const m = iommuIoasMapFile({ flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE, ioasId: s.ioasId, fd, start: 0n, length: GiB });
  if (user.sys.ioctl(s.fd, IOMMU_IOAS_MAP_FILE, m) !== 0) throw new Error("map");
  if (pgtable().ptes !== 262144) throw new Error(`ptes ${pgtable().ptes}`);
  const iova = new DataView(m.buffer).getBigUint64(32, true);
  if (user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, vfioDeviceFeatureDmaBufRevoke(fd))) !== 0) throw new Error("revoke");
  if (pgtable().ptes !== 0) throw new Error("IOPTEs left after revoke");
  if (user.sys.ioctl(s.fd, IOMMU_IOAS_UNMAP, iommuIoasUnmap(s.ioasId, iova, GiB)) !== 0) throw new Error("unmap");
  user.sys.close(fd);
}

for (let i = 0; i < 3; i++) cycle();
const rounds = [];
for (let r = 0; r < 5; r++) {
  const n = 20;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) cycle();
  rounds.push(n / ((performance.now() - t0) / 1000));
}
rounds.sort((a, b) => a - b);
const median = rounds[Math.floor(rounds.length / 2)];
const best = rounds[rounds.length - 1];
s.close();
k.exitTask(user, 0);
k.clock.flush();
if (!k.leakReport().empty) throw new Error(k.leakReport().text());

const name = "export + iommufd map + revoke + unmap, 1 GiB in 64 ranges";
console.log(`${name.padEnd(62)} ${median.toFixed(1).padStart(8)} cycles/s (median of 5×20; best ${best.toFixed(1)})`);
console.log(`machine: ${cpus().length} CPU(s), load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
writeFileSync(
  new URL("./results.json", import.meta.url),
  JSON.stringify({ node: process.version, date: new Date().toISOString(), loadavg: loadavg(), results: { [name]: { value: median, best, unit: "cycles/s" } } }, null, 2) + "\n",
);
