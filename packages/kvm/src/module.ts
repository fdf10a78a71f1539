// virt/kvm/kvm_main.c (kvm_init, misc device /dev/kvm) as a module descriptor, one build per design.
import { ConformanceFixtures, type File, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_MAPPING_PAL_TYPE, DMA_BUF_PAL_MAP_PHYS, DMA_BUF_PAL_UNMAP_PHYS, dmaBufPalModule } from "@dmabuf-sdk/map-pal";
import { kvmFixtures } from "./fixture.js";
import { kvmDevFops } from "./kvm-main.js";
import { _setKvmPalMapPhys } from "./kvm-pal.js";
import type { KvmPfnVersion } from "./kvm-version.js";

const BUILDS = new Map<KvmPfnVersion, KernelModule>();

/**
 * The `kvm` module as built from the tree of `version`: creates `/dev/kvm`
 * and offers the `kvm-*` conformance importer fixtures. The dma-buf
 * versions link `dma_buf_get`/`put`/`detach` from `DMA_BUF`; the
 * `maptype-pal` build also links `dma_buf_mapping_attach`, the PAL type,
 * `dma_buf_pal_unmap_phys` and `dma_buf_pal_map_phys` — which the loader
 * refuses (`EINVAL`, "module uses symbol (dma_buf_pal_map_phys) from
 * namespace module:iommufd, but does not import it.") unless the PAL module
 * loaded was built with a list that names `kvm`. Every build is named
 * `kvm`; one is loaded at a time. The same descriptor is returned for a version.
 * @public
 */
export function kvmModuleBuild(version: KvmPfnVersion): KernelModule {
  let m = BUILDS.get(version);
  if (m) return m;
  const pal = version === "maptype-pal";
  m = {
    name: "kvm",
    license: "GPL",
    description: `Kernel-based Virtual Machine (${version})`,
    importNs: ["DMA_BUF"],
    uses: [
      "dma_buf_get",
      "dma_buf_put",
      "dma_buf_detach",
      ...(pal ? ["dma_buf_mapping_attach", DMA_BUF_MAPPING_PAL_TYPE, DMA_BUF_PAL_UNMAP_PHYS, DMA_BUF_PAL_MAP_PHYS] : []),
    ],
    requires: pal ? [dmaBufPalModule] : [],
    init(ctx) {
      const k = ctx.kernel;
      if (pal) {
        _setKvmPalMapPhys(k, ctx.symbol(DMA_BUF_PAL_MAP_PHYS));
        ctx.onExit(() => _setKvmPalMapPhys(k, null));
      }
      const build = { module: ctx.module, version };
      const fops = kvmDevFops(build);
      ctx.onExit(k.devfs.register("kvm", { fops, open: (_file: File) => undefined }));
      ctx.provide(ConformanceFixtures, kvmFixtures);
    },
  };
  BUILDS.set(version, m);
  return m;
}

/** The `kvm` module of mainline: BARs reach a guest only through a userspace mapping. @public */
export const kvmModule: KernelModule = kvmModuleBuild("mainline-vma");
