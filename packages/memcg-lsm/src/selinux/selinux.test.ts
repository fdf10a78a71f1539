// Tests of SELinux dma_heap:charge_to decisions: allocator source, the AVC cache and policy text.
import { describe, expect, it } from "vitest";
import { Kernel, KernelError, prepareCreds } from "@dmabuf-sdk/dmabuf-core";
import {
  parseSelinuxPolicy,
  securityDmaHeapAlloc,
  selinuxAuditRecords,
  selinuxAvcStats,
  selinuxEnforcing,
  selinuxLoadPolicy,
  selinuxModule,
  selinuxModuleWithParams,
  selinuxPolicy,
  selinuxSetEnforce,
} from "@dmabuf-sdk/memcg-lsm";

const A = "u:r:allocator_app_t:s0";
const C = "u:r:client_app_t:s0";

function bootSelinux(policy: string | null, enforcing = true) {
  const k = new Kernel();
  k.modprobe(enforcing ? selinuxModule : selinuxModuleWithParams({ enforcing: false }));
  if (policy !== null) selinuxLoadPolicy(k, policy);
  const allocator = k.fork({ comm: "allocator", cred: { security: A }, parent: k.init });
  const check = (from: string, to: string): string => {
    try {
      k.runAs(allocator, () => securityDmaHeapAlloc(k, prepareCreds(allocator.cred, { security: from }), prepareCreds(allocator.cred, { security: to })));
      return "ok";
    } catch (e) {
      return (e as KernelError).errno;
    }
  };
  return { k, allocator, check };
}

const recordOf = (k: Kernel): string => {
  const r = selinuxAuditRecords(k);
  if (r.length === 0) return "none";
  const last = r.at(-1)!;
  return last.denied ? `denied permissive=${last.permissive}` : "granted";
};

const CLASS = "class dma_heap { charge_to }\n";

describe("selinux", () => {
  describe("dma_heap:charge_to decisions (source = allocator's domain, target = charged process's domain)", () => {
    it.each([
      { desc: "an allow rule grants, silently", policy: `${CLASS}allow allocator_app_t client_app_t:dma_heap charge_to;`, to: C, result: "ok", record: "none" },
      { desc: "no rule, enforcing: EACCES, audited", policy: CLASS, to: C, result: "EACCES", record: "denied permissive=0" },
      { desc: "no rule, permissive mode: allowed, audited permissive=1", policy: CLASS, to: C, enforcing: false, result: "ok", record: "denied permissive=1" },
      { desc: "no rule, the source is a permissive domain: allowed, permissive=1", policy: `${CLASS}permissive allocator_app_t;`, to: C, result: "ok", record: "denied permissive=1" },
      { desc: "a permissive target domain does not help", policy: `${CLASS}permissive client_app_t;`, to: C, result: "EACCES", record: "denied permissive=0" },
      { desc: "self: charging the caller's own domain needs a rule", policy: CLASS, to: A, result: "EACCES", record: "denied permissive=0" },
      { desc: "allow t self grants the caller's own domain", policy: `${CLASS}allow allocator_app_t self:dma_heap charge_to;`, to: A, result: "ok", record: "none" },
      { desc: "allow t self does not grant another domain", policy: `${CLASS}allow allocator_app_t self:dma_heap charge_to;`, to: C, result: "EACCES", record: "denied permissive=0" },
      { desc: "type and permission sets", policy: `allow { x_t allocator_app_t } { y_t client_app_t }:dma_heap { charge_to };`, to: C, result: "ok", record: "none" },
      { desc: "dontaudit: refused without a record", policy: `${CLASS}dontaudit allocator_app_t client_app_t:dma_heap charge_to;`, to: C, result: "EACCES", record: "none" },
      { desc: "auditallow: granted with a record", policy: `allow allocator_app_t client_app_t:dma_heap charge_to;\nauditallow allocator_app_t client_app_t:dma_heap charge_to;`, to: C, result: "ok", record: "granted" },
      { desc: "a rule of another class does not grant", policy: `${CLASS}allow allocator_app_t client_app_t:file read;`, to: C, result: "EACCES", record: "denied permissive=0" },
      { desc: "class not in the policy, handle_unknown allow", policy: "handle_unknown allow;", to: C, result: "ok", record: "none" },
      { desc: "class not in the policy, handle_unknown deny (the default)", policy: "type allocator_app_t;", to: C, result: "EACCES", record: "denied permissive=0" },
      { desc: "class defined without charge_to, handle_unknown allow: the permission is unknown, so allowed", policy: "handle_unknown allow;\nclass dma_heap;", to: C, result: "ok", record: "none" },
      { desc: "no policy loaded: everything is allowed, nothing logged", policy: null, to: C, result: "ok", record: "none" },
    ] as { desc: string; policy: string | null; to: string; enforcing?: boolean; result: string; record: string }[])("$desc", ({ policy, to, enforcing, result, record }) => {
      const { k, check } = bootSelinux(policy, enforcing ?? true);
      expect(check(A, to)).toBe(result);
      expect(recordOf(k)).toBe(record);
      expect(k.oopses()).toEqual([]);
    });
  });

  it("the AVC record is the kernel's, to the space, in the kernel log as audit type 1400", () => {
    const { k, allocator, check } = bootSelinux(CLASS);
    k.clock.advance(1_234_567_890);
    expect(check(A, C)).toBe("EACCES");
    const text = `avc:  denied  { charge_to } for  pid=${allocator.pid} comm="allocator" scontext=${A} tcontext=${C} tclass=dma_heap permissive=0`;
    expect(selinuxAuditRecords(k).at(-1)).toEqual({ denied: true, perms: ["charge_to"], pid: allocator.pid, comm: "allocator", scontext: A, tcontext: C, tclass: "dma_heap", permissive: 0, text });
    const line = k.printk.records().at(-1)!;
    expect(line.level).toBe("notice");
    expect(line.text).toMatch(/^audit: type=1400 audit\(1\.234:\d+\): /);
    expect(line.text.endsWith(text)).toBe(true);
  });

  it("a comm with a space or quote is logged in hex, as audit_log_untrustedstring() does", () => {
    const { k, allocator, check } = bootSelinux(CLASS);
    allocator.comm = "my app";
    check(A, C);
    expect(selinuxAuditRecords(k).at(-1)!.text).toContain(" comm=6D7920617070 scontext=");
  });

  describe("the AVC cache", () => {
    it("permissive: a denial is logged once, then the granted permission is cached; switching to enforcing flushes it", () => {
      const { k, check } = bootSelinux(CLASS, false);
      expect([check(A, C), check(A, C), check(A, C)]).toEqual(["ok", "ok", "ok"]);
      expect(selinuxAuditRecords(k).map((r) => r.permissive)).toEqual([1]);
      selinuxSetEnforce(k, true);
      expect(selinuxEnforcing(k)).toBe(true);
      expect([check(A, C), check(A, C)]).toEqual(["EACCES", "EACCES"]);
      expect(selinuxAuditRecords(k).map((r) => r.permissive)).toEqual([1, 0, 0]);
      selinuxSetEnforce(k, false);
      expect(check(A, C)).toBe("ok");
      expect(selinuxAuditRecords(k).map((r) => r.permissive)).toEqual([1, 0, 0, 1]);
      expect(k.printk.contains("enforcing=1 old_enforcing=0 auid=4294967295 ses=4294967295 enabled=1 old-enabled=1 lsm=selinux res=1")).toBe(true);
    });

    it("a policy load resets the AVC: the new policy decides at once", () => {
      const { k, check } = bootSelinux(CLASS);
      expect(check(A, C)).toBe("EACCES");
      selinuxLoadPolicy(k, `${CLASS}allow allocator_app_t client_app_t:dma_heap charge_to;`);
      expect(check(A, C)).toBe("ok");
      expect(check(A, C)).toBe("ok");
      expect(selinuxAvcStats(k)).toEqual({ lookups: 3, misses: 2, entries: 1 });
    });
  });

  describe("policy text", () => {
    it.each([
      { text: "allow a_t b_t:dma_heap charge_to", error: "line 1: missing ';'" },
      { text: "\n\nallow a_t b_t charge_to;", error: "line 3: bad allow rule" },
      { text: "handle_unknown maybe;", error: "line 1: handle_unknown must be allow, deny or reject" },
      { text: "# comment\nfrobnicate x;", error: 'line 2: unknown statement "frobnicate"' },
      { text: "allow self b_t:dma_heap charge_to;", error: '"self" is only valid as a target' },
      { text: "allow a_t b_t:dma_heap { };", error: "bad permission" },
      { text: "class dma_heap { charge_to", error: "missing ';'" },
    ])("$text → $error", ({ text, error }) => {
      expect(() => parseSelinuxPolicy(text)).toThrow(expect.objectContaining({ errno: "EINVAL", message: expect.stringContaining(error) }));
    });

    it("compiles sets, self, classes, permissive domains and counts the expanded rules", () => {
      const p = parseSelinuxPolicy(`
        handle_unknown reject;   # comments and blank lines are fine
        class dma_heap { charge_to }
        class file { read write };
        allow { a_t b_t } { c_t self }:dma_heap charge_to;
        permissive a_t;
      `);
      expect(p.handleUnknown).toBe("reject");
      expect(p.ruleCount).toBe(4);
      expect([...p.classes.keys()]).toEqual(["dma_heap", "file"]);
      expect(p.rule("b_t", "b_t", "dma_heap")?.allow.has("charge_to")).toBe(true);
      expect(p.rule("a_t", "b_t", "dma_heap")).toBeUndefined();
      expect([...p.permissive]).toEqual(["a_t"]);
    });

    it("handle_unknown reject refuses a policy without the dma_heap class and keeps the old one", () => {
      const { k, check } = bootSelinux(`${CLASS}allow allocator_app_t client_app_t:dma_heap charge_to;`);
      expect(() => selinuxLoadPolicy(k, "handle_unknown reject;\nclass file { read };")).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      expect(k.printk.contains("SELinux:  Class dma_heap not defined in policy.")).toBe(true);
      expect(k.printk.contains("SELinux:  the above unknown classes and permissions will be rejected")).toBe(true);
      expect(selinuxPolicy(k)!.handleUnknown).toBe("deny");
      expect(check(A, C)).toBe("ok");
    });

    it("an unknown class under handle_unknown deny is announced at load", () => {
      const { k } = bootSelinux("type t;");
      expect(k.printk.contains("SELinux:  the above unknown classes and permissions will be denied")).toBe(true);
    });
  });
});
