// Post-install check of @dmabuf-sdk/dmabuf-core, run by scripts/publish-e2e.mjs
// in an empty directory outside the workspace after
// `npm install @dmabuf-sdk/dmabuf-core@<version>` from the local registry
// (this file is not in the package's tarball). It uses the installed package
// as a user would: a kernel, a topology, a driver module loaded through the
// loader, a dma-buf exported and attached with a mapping type, an empty leak
// report, a restricted symbol refused to the wrong module, and the shipped
// dmabuf-modpost bin. Exit status 0 means it works.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  defineModule,
  Kernel,
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  buildTopology,
  dmaBufDetach,
  dmaBufFd,
  dmaBufGet,
  dmaBufMatchMapping,
  exportSymbolForModules,
  provideSymbol,
  topologyKernelOptions,
} from "@dmabuf-sdk/dmabuf-core";

const step = (s) => console.log(`  consumer: ${s}`);

// 1. What was imported is the installed copy, not a workspace link.
const entry = realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/dmabuf-core")));
assert.ok(entry.startsWith(realpathSync(process.cwd())), `@dmabuf-sdk/dmabuf-core resolved outside the consumer: ${entry}`);
step(`imported ${entry.slice(realpathSync(process.cwd()).length + 1)}`);

// 2. A kernel with a named topology.
const kernel = new Kernel(topologyKernelOptions("same-switch"));
const topo = buildTopology(kernel, "same-switch");
assert.ok(topo.exporterSlot && topo.importerSlot, "topology has no exporter/importer slot");
step(`topology same-switch: ${topo.exporterSlot.name} -> ${topo.importerSlot.name}`);

// 3. A driver module (a module descriptor) linking against core's DMA_BUF exports.
const E2E_TYPE = { name: "E2E_TYPE", finishMatch: (args, exp) => args.attach && (args.attach.mapType = { type: E2E_TYPE, expOps: exp.expOps }) };
let sym;
const driver = {
  name: "e2e_driver",
  license: "GPL",
  importNs: ["DMA_BUF"],
  uses: ["dma_buf_export", "dma_buf_mapping_attach", "dma_buf_put"],
  init(ctx) {
    sym = { export: ctx.symbol("dma_buf_export"), attach: ctx.symbol("dma_buf_mapping_attach"), put: ctx.symbol("dma_buf_put"), owner: ctx.module };
  },
};
assert.equal(kernel.loadModule(driver).state, "live");
step("insmod e2e_driver: live");

// 4. Export a dma-buf offering the mapping type, hand it over as an fd, attach with that type.
const dmabuf = sym.export(kernel, {
  owner: sym.owner,
  expName: "e2e_exporter",
  ops: { release() {}, matchMapping: (args) => dmaBufMatchMapping(args, [{ type: E2E_TYPE }]) },
  size: 0x1000n,
  flags: O_RDWR,
  priv: { bar: topo.exporterSlot.bars[0] },
});
const task = kernel.fork({ comm: "e2e" });
const fd = kernel.runAs(task, () => dmaBufFd(dmabuf, O_RDWR | O_CLOEXEC));
const got = kernel.runAs(task, () => dmaBufGet(kernel, fd));
const attach = sym.attach(got, [{ type: E2E_TYPE }], { invalidateMappings() {} });
assert.equal(attach.mapType.type, E2E_TYPE, "the attachment did not negotiate E2E_TYPE");
step("exported, fd, attached: negotiated E2E_TYPE");
dmaBufDetach(got, attach);
sym.put(got);
task.sys.close(fd);

// 5. Nothing left behind.
const leaks = kernel.leakReport();
assert.ok(leaks.empty, `leak report not empty:\n${leaks.text()}`);
step("leak report empty");

// 6. EXPORT_SYMBOL_FOR_MODULES(e2e_secret, "iommufd"): refused to any other module, with the kernel's messages.
const decl = exportSymbolForModules("e2e_secret", "iommufd");
kernel.loadModule(defineModule({ name: "e2e_provider", license: "GPL", exports: [decl], init: (ctx) => provideSymbol(ctx, decl.name, () => "secret") }));
let err;
try {
  kernel.loadModule({ name: "kvm", license: "GPL", importNs: ["DMA_BUF"], uses: ["e2e_secret"] });
} catch (e) {
  err = e;
}
assert.ok(err instanceof KernelError, `loading kvm did not throw a KernelError: ${err}`);
assert.equal(err.errno, "EINVAL");
assert.ok(kernel.printk.contains("kvm: module uses symbol (e2e_secret) from namespace module:iommufd, but does not import it."), "missing the namespace message");
assert.ok(kernel.printk.contains("kvm: Unknown symbol e2e_secret (err -22)"), "missing the Unknown symbol message");
assert.equal(kernel.modules.find("kvm"), undefined, "kvm is loaded");
step("insmod kvm using e2e_secret: EINVAL, with the kernel's messages");
const iommufd = kernel.loadModule({ name: "iommufd", license: "GPL", uses: ["e2e_secret"], init: (ctx) => assert.equal(ctx.symbol("e2e_secret")(), "secret") });
assert.equal(iommufd.state, "live");
step("insmod iommufd using e2e_secret: live");

// 7. The shipped bin: dmabuf-modpost on a package whose module uses an undefined symbol.
const pkgDir = join(process.cwd(), "modpost-fixture");
mkdirSync(join(pkgDir, "dist"), { recursive: true });
writeFileSync(join(pkgDir, "package.json"), JSON.stringify({ name: "fixture", type: "module", "dmabuf-sdk": { module: "fixtureModule" } }));
writeFileSync(join(pkgDir, "dist", "index.js"), 'export const fixtureModule = { name: "fixture", license: "GPL", importNs: ["DMA_BUF"], uses: ["dma_buf_export", "no_such_symbol"] };\n');
const bin = join(process.cwd(), "node_modules", ".bin", "dmabuf-modpost");
let modpostOut = "";
let modpostStatus = 0;
try {
  modpostOut = execFileSync(bin, [pkgDir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
} catch (e) {
  modpostStatus = e.status;
  modpostOut = `${e.stdout}${e.stderr}`;
}
assert.equal(modpostStatus, 1, `dmabuf-modpost exited ${modpostStatus}:\n${modpostOut}`);
assert.match(modpostOut, /ERROR: modpost: "no_such_symbol" \[fixture\.ko\] undefined!/);
step("dmabuf-modpost: flags the undefined symbol");

console.log("  consumer: @dmabuf-sdk/dmabuf-core OK");
