// Tests of the LSM framework: hooks come and go with their module, and security_dma_heap_alloc's export.
import { describe, expect, it } from "vitest";
import { INIT_CRED, Kernel, KernelError, prepareCreds, type Cred, type Errno, type KernelModule } from "@dmabuf-sdk/dmabuf-core";
import { LSM_ID_BPF, LSM_ID_LANDLOCK, LSM_ID_LOCKDOWN, securityAddHooks, securityDmaHeapAlloc, securityLsmList, securityModule, type LsmId } from "@dmabuf-sdk/memcg-lsm";

type Verdict = "grant" | Errno | "no-hook";

/** A test LSM that records its calls and answers `verdict`. */
function lsm(name: string, id: number, verdict: Verdict, calls: string[]): KernelModule {
  const lsmid: LsmId = { name, id };
  return {
    name: `lsm_${name}`,
    license: "GPL",
    requires: [securityModule],
    init(ctx) {
      securityAddHooks(
        ctx,
        verdict === "no-hook"
          ? {}
          : {
              dmaHeapAlloc(from: Cred, to: Cred) {
                calls.push(`${name}(${from.security}->${to.security})`);
                if (verdict !== "grant") throw new KernelError(verdict, `${name}_dma_heap_alloc`);
              },
            },
        lsmid,
      );
    },
  };
}

const FROM = prepareCreds(INIT_CRED, { security: "u:r:from_t:s0" });
const TO = prepareCreds(INIT_CRED, { security: "u:r:to_t:s0" });

describe("lsm", () => {
  it.each([
    { desc: "no LSM: granted (the !CONFIG_SECURITY stub)", stack: [] as Verdict[], result: "grant", calls: [] as string[] },
    { desc: "every LSM grants: all are asked, in order", stack: ["grant", "grant", "grant"], result: "grant", calls: ["a", "b", "c"] },
    { desc: "the first refusal wins and ends the walk", stack: ["grant", "EPERM", "EACCES"], result: "EPERM", calls: ["a", "b"] },
    { desc: "a refusal from the first LSM: later LSMs are not asked", stack: ["EACCES", "EPERM", "grant"], result: "EACCES", calls: ["a"] },
    { desc: "an LSM without the hook is skipped", stack: ["no-hook", "EPERM"], result: "EPERM", calls: ["b"] },
    { desc: "the errno is returned unchanged", stack: ["grant", "ENOMEM"], result: "ENOMEM", calls: ["a", "b"] },
  ] as { desc: string; stack: Verdict[]; result: Verdict; calls: string[] }[])("$desc", ({ stack, result, calls }) => {
    const k = new Kernel();
    k.loadModule(securityModule);
    const seen: string[] = [];
    const names = ["a", "b", "c"];
    const ids = [LSM_ID_LOCKDOWN, LSM_ID_BPF, LSM_ID_LANDLOCK];
    stack.forEach((v, i) => k.loadModule(lsm(names[i]!, ids[i]!, v, seen)));
    expect(securityLsmList(k).map((l) => l.name)).toEqual(names.slice(0, stack.length));
    let got: Verdict = "grant";
    try {
      securityDmaHeapAlloc(k, FROM, TO);
    } catch (e) {
      got = (e as KernelError).errno;
    }
    expect(got).toBe(result);
    expect(seen).toEqual(calls.map((n) => `${n}(u:r:from_t:s0->u:r:to_t:s0)`));
  });

  it("an LSM's hooks go away with its module; a second LSM of the same name is refused with EEXIST", () => {
    const k = new Kernel();
    const seen: string[] = [];
    k.loadModule(securityModule);
    k.loadModule(lsm("deny", LSM_ID_LOCKDOWN, "EPERM", seen));
    expect(() => securityDmaHeapAlloc(k, FROM, TO)).toThrow(expect.objectContaining({ errno: "EPERM" }));
    expect(() => k.loadModule({ ...lsm("deny", LSM_ID_LOCKDOWN, "grant", seen), name: "lsm_deny_again" })).toThrow(expect.objectContaining({ errno: "EEXIST" }));
    k.unloadModule("lsm_deny");
    expect(securityLsmList(k)).toEqual([]);
    expect(() => securityDmaHeapAlloc(k, FROM, TO)).not.toThrow();
  });

  it("the framework module exports security_dma_heap_alloc to GPL modules only", () => {
    const k = new Kernel();
    k.loadModule(securityModule);
    expect(k.modules.lookup("security_dma_heap_alloc")).toEqual({ decl: { name: "security_dma_heap_alloc", license: "GPL", namespace: "" }, owner: "security" });
    expect(() => k.loadModule({ name: "proprietary", license: "Proprietary", uses: ["security_dma_heap_alloc"] })).toThrow(expect.objectContaining({ errno: "ENOENT" }));
  });
});
