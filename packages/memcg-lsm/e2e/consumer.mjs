// Post-install check of @dmabuf-sdk/memcg-lsm, run by scripts/publish-e2e.mjs
// in an empty directory outside the workspace after
// `npm install @dmabuf-sdk/memcg-lsm@<version>` (npm brings dmabuf-core and
// map-sgt as peers; this file is not in the package's tarball). It uses the
// installed packages as a user would: a kernel, the system heap and SELinux
// loaded through the loader, an allocation charged to another process's
// cgroup through charge_pid_fd (allowed by policy), the same allocation
// refused with EACCES and the kernel's AVC record, the charge released with
// the last reference, an empty leak report, and dmabuf-modpost on the package.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Kernel, buildTopology, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { cgroupRead, dmaHeapAllocFd, selinuxAuditRecords, selinuxLoadPolicy, selinuxModule, systemHeapModule } from "@dmabuf-sdk/memcg-lsm";

const step = (s) => console.log(`  consumer: ${s}`);

// 1. The installed copies, not workspace links.
const cwd = realpathSync(process.cwd());
for (const name of ["@dmabuf-sdk/memcg-lsm", "@dmabuf-sdk/dmabuf-core", "@dmabuf-sdk/map-sgt"]) {
  const entry = realpathSync(fileURLToPath(import.meta.resolve(name)));
  assert.ok(entry.startsWith(cwd), `${name} resolved outside the consumer: ${entry}`);
}
step("imported the installed memcg-lsm, dmabuf-core and map-sgt");

// 2. A kernel with the system heap (memcg, LSM framework, dma-heap and SGT come with it) and SELinux.
const kernel = new Kernel(topologyKernelOptions("same-switch"));
buildTopology(kernel, "same-switch");
kernel.modprobe(systemHeapModule);
kernel.modprobe(selinuxModule);
assert.deepEqual(
  kernel.modules.modules().map((m) => m.name),
  ["memcg", "security", "dma_heap", "dma_buf_mapping_sgt", "system_heap", "selinux"],
);
step("modprobe system_heap selinux: memcg security dma_heap dma_buf_mapping_sgt system_heap selinux");

// 3. An allocator service and its client, each in its own cgroup.
const allocator = kernel.fork({ comm: "allocator", cred: { security: "u:r:allocator_app_t:s0" }, cgroup: kernel.cgroups.mkdirP("/services/allocator"), parent: kernel.init });
const client = kernel.fork({ comm: "client", cred: { security: "u:r:client_app_t:s0" }, cgroup: kernel.cgroups.mkdirP("/apps/client"), parent: kernel.init });
const heapFd = allocator.sys.open("/dev/dma_heap/system", 0);
const pidfd = allocator.sys.pidfdOpen(client.pid);
assert.ok(heapFd >= 0 && pidfd > 0, `open ${heapFd}, pidfd_open ${pidfd}`);
const stat = (cg) => cgroupRead(kernel, cg, "memory.stat");

// 4. Denied: no rule for allocator_app_t -> client_app_t.
selinuxLoadPolicy(kernel, "class dma_heap { charge_to }\n");
assert.equal(dmaHeapAllocFd(allocator, "system", 1n << 20n, { chargePidFd: pidfd }), -13);
assert.equal(stat("/apps/client"), "dmabuf 0\n");
const avc = selinuxAuditRecords(kernel).at(-1);
assert.equal(avc.text, `avc:  denied  { charge_to } for  pid=${allocator.pid} comm="allocator" scontext=u:r:allocator_app_t:s0 tcontext=u:r:client_app_t:s0 tclass=dma_heap permissive=0`);
step("charge to the client without a rule: EACCES, avc denied permissive=0");

// 5. Allowed: charged to the client's cgroup, visible in its ancestors and the root, released with the last reference.
selinuxLoadPolicy(kernel, "class dma_heap { charge_to }\nallow allocator_app_t client_app_t:dma_heap charge_to;\n");
const fd = dmaHeapAllocFd(allocator, "system", 1n << 20n, { chargePidFd: pidfd });
assert.ok(fd >= 0, `allocation failed: ${fd}`);
for (const cg of ["/apps/client", "/apps", "/"]) assert.equal(stat(cg), "dmabuf 1048576\n", cg);
assert.equal(stat("/services/allocator"), "dmabuf 0\n");
const cfd = allocator.sys.sendFd(client, fd);
allocator.sys.close(fd);
assert.equal(stat("/apps/client"), "dmabuf 1048576\n");
client.sys.close(cfd);
assert.equal(stat("/"), "dmabuf 0\n");
step("charge to the client with the rule: 1 MiB in /apps/client, /apps and /, released at the client's close");

// 6. Nothing left behind.
kernel.exitTask(allocator, 0);
kernel.exitTask(client, 0);
const leaks = kernel.leakReport();
assert.ok(leaks.empty, `leak report not empty:\n${leaks.text()}`);
step("leak report empty");

// 7. The shipped modpost bin on the installed package.
const pkgDir = dirname(realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/memcg-lsm/package.json"))));
const out = execFileSync(join(cwd, "node_modules", ".bin", "dmabuf-modpost"), [pkgDir], { encoding: "utf8" });
assert.match(out, /modpost: @dmabuf-sdk\/memcg-lsm: \d+ module\(s\), 0 error\(s\)/);
step(out.trim());

console.log("  consumer: @dmabuf-sdk/memcg-lsm OK");
