// Benchmark of the vfio-pci → iommufd dma-buf cycle (`pnpm bench`), an integration of two drivers.
// One cycle: VFIO_DEVICE_FEATURE_DMA_BUF of a 1 GiB buffer made of 64 BAR ranges (16 MiB each,
// in reverse order), IOMMU_IOAS_MAP_FILE (attach [PAL], map_phys: 512 2 MiB IOPTEs, as iommu_pgsize()
// picks them for 16 MiB-aligned ranges),
// VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE (invalidate: every IOPTE zapped, the list given back,
// the drain), IOMMU_IOAS_UNMAP (detach, release) and close of the dma-buf fd.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fitExponent, load, median as med } from "../../../scripts/bench-lib.mjs";
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
const exportReqFor = (rs) => vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: 0, openFlags: O_RDWR | O_CLOEXEC, ranges: rs }));
const exportReq = exportReqFor(ranges);
const pgtable = () => t.importerSlot.iommuGroup.domain.pgtable;

function cycle(req = exportReq, length = GiB, ptes = 512) {
  const fd = user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, req);
  if (fd < 0) throw new Error(`export: ${fd}`);
  const m = iommuIoasMapFile({ flags: IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE, ioasId: s.ioasId, fd, start: 0n, length });
  if (user.sys.ioctl(s.fd, IOMMU_IOAS_MAP_FILE, m) !== 0) throw new Error("map");
  if (pgtable().ptes !== ptes) throw new Error(`ptes ${pgtable().ptes}`);
  const iova = new DataView(m.buffer).getBigUint64(32, true);
  if (user.sys.ioctl(devFd, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, vfioDeviceFeatureDmaBufRevoke(fd))) !== 0) throw new Error("revoke");
  if (pgtable().ptes !== 0) throw new Error("IOPTEs left after revoke");
  if (user.sys.ioctl(s.fd, IOMMU_IOAS_UNMAP, iommuIoasUnmap(s.ioasId, iova, length)) !== 0) throw new Error("unmap");
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

// Scaling: the same cycle over N ranges of 64 KiB (16 4 KiB IOPTEs each), N = 64..16384; fitted exponent of time over N.
const scaleNs = [64, 256, 1024, 4096, 16384];
const scaleMs = [];
for (const nr of scaleNs) {
  const rs = Array.from({ length: nr }, (_, i) => ({ offset: BigInt(nr - 1 - i) * 65536n, length: 65536n }));
  const req = exportReqFor(rs);
  const len = BigInt(nr) * 65536n;
  cycle(req, len, nr * 16);
  const reps = Math.max(1, Math.round(4096 / nr));
  const ms = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) cycle(req, len, nr * 16);
    ms.push((performance.now() - t0) / reps);
  }
  scaleMs.push(med(ms));
}
const exponent = fitExponent(scaleNs, scaleMs);
console.log(`iommufd map cycle over 64..16384 ranges of 64 KiB: ${scaleMs.map((x) => x.toFixed(2)).join(" / ")} ms, fitted exponent ${exponent.toFixed(3)} | load ${load()}`);
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
  JSON.stringify({ node: process.version, date: new Date().toISOString(), loadavg: loadavg(), results: { [name]: { value: median, best, unit: "cycles/s" }, "iommufd scaling exponent 64..16384 ranges": { value: exponent, ns: scaleNs, ms: scaleMs, load: Number(load()) } } }, null, 2) + "\n",
);
