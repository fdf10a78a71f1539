// Post-install check of @dmabuf-sdk/map-pal, run by scripts/publish-e2e.mjs in an empty
// directory after `npm install @dmabuf-sdk/map-pal@<version>` alone (core comes as a peer).
// It shows that the restricted dma_buf_pal_map_phys (EXPORT_SYMBOL_FOR_MODULES(..., "iommufd"))
// is refused to a module with any other name, with EINVAL and the loader's messages, granted to
// a module named iommufd, and reachable from none of the package's entry points.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Kernel, KernelError } from "@dmabuf-sdk/dmabuf-core";
import * as pal from "@dmabuf-sdk/map-pal";

const step = (s) => console.log(`  consumer: ${s}`);
const { dmaBufPalModule, DMA_BUF_PAL_MAP_PHYS, dmaBufMappingPalType } = pal;

// 1. The installed copy.
const entry = realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/map-pal")));
assert.ok(entry.startsWith(realpathSync(process.cwd())), `@dmabuf-sdk/map-pal resolved outside the consumer: ${entry}`);
step(`imported ${entry.slice(realpathSync(process.cwd()).length + 1)}`);

// 2. insmod the PAL type.
const kernel = new Kernel();
assert.equal(kernel.loadModule(dmaBufPalModule).state, "live");
assert.equal(dmaBufMappingPalType.name, "Physical Address List");
assert.deepEqual(kernel.modules.lookup("dma_buf_pal_map_phys").decl, { name: "dma_buf_pal_map_phys", license: "GPL", namespace: "module:iommufd" });
step("insmod dma_buf_mapping_pal: dma_buf_pal_map_phys in namespace module:iommufd");

// 3. Any other module name: EINVAL with the kernel's two messages.
for (const name of ["kvm", "vfio_pci", "iommufd_test"]) {
  let err;
  try {
    kernel.loadModule({ name, license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS] });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof KernelError, `${name} loaded`);
  assert.equal(err.errno, "EINVAL");
  assert.ok(kernel.printk.contains(`${name}: module uses symbol (dma_buf_pal_map_phys) from namespace module:iommufd, but does not import it.`));
  assert.ok(kernel.printk.contains(`${name}: Unknown symbol dma_buf_pal_map_phys (err -22)`));
  assert.equal(kernel.modules.find(name), undefined);
}
step("insmod kvm / vfio_pci / iommufd_test using dma_buf_pal_map_phys: EINVAL, with the kernel's messages");

// 4. The module named iommufd gets it.
let mapPhys;
const iommufd = kernel.loadModule({ name: "iommufd", license: "GPL", importNs: ["DMA_BUF"], uses: [DMA_BUF_PAL_MAP_PHYS], init: (ctx) => (mapPhys = ctx.symbol(DMA_BUF_PAL_MAP_PHYS)) });
assert.equal(iommufd.state, "live");
assert.equal(typeof mapPhys, "function");
step("insmod iommufd using dma_buf_pal_map_phys: live, the function handed over by the loader");

// 5. Not reachable from the package: no exported value (nor anything under it) is the function,
//    and deep imports are refused by the exports map.
const seen = new Set();
const walk = (v, depth) => {
  if (v === null || (typeof v !== "object" && typeof v !== "function") || seen.has(v) || depth < 0) return;
  seen.add(v);
  for (const key of Reflect.ownKeys(v)) {
    const d = Object.getOwnPropertyDescriptor(v, key);
    if (d && "value" in d) walk(d.value, depth - 1);
  }
};
walk(pal, 5);
assert.ok(!seen.has(mapPhys), "dma_buf_pal_map_phys is reachable from @dmabuf-sdk/map-pal");
for (const spec of ["@dmabuf-sdk/map-pal/dist/module.js", "@dmabuf-sdk/map-pal/src/module.ts"]) {
  await assert.rejects(import(spec), (e) => e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED", `${spec} was importable`);
}
step("not reachable from the entry point; deep imports: ERR_PACKAGE_PATH_NOT_EXPORTED");
console.log("  consumer: @dmabuf-sdk/map-pal OK");
