// Tests of drivers/dma-buf/dma-buf-mapping.c: dma_buf_match_mapping() over exporter and importer type lists.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DmaBuf,
  Kernel,
  KernelError,
  O_RDWR,
  dmaBufExport,
  dmaBufMatchMapping,
  dmaBufPut,
  registerTraceDmaBufMatchMapping,
  type DmaBufMatchTrace,
  type DmaBufMappingMatch,
  type DmaBufMappingType,
  type DmaBufMatchArgs,
} from "@dmabuf-sdk/dmabuf-core";

/** What a mock type's `match` does for one call (as the kunit mocks' return codes). */
type MatchBehaviour = "accept" | "skip" | "throw-EOPNOTSUPP" | "abort-ENODEV" | "return-0";

interface Log {
  matches: string[];
  finished: string[];
}

/** Two types with identical callbacks, to prove identity is by object (as kunit's mock types). */
function mockType(name: string, log: Log, behaviour: (exp: string, imp: string) => MatchBehaviour, withMatch = true): DmaBufMappingType<{ id: string }> {
  const t: DmaBufMappingType<{ id: string }> = {
    name,
    finishMatch(args, exp, imp) {
      log.finished.push(`${exp.data!.id}/${imp.data!.id}`);
      if (args.attach) args.attach.mapType = { type: t, expOps: exp.expOps, data: exp.data };
    },
  };
  if (withMatch) {
    (t as { match?: DmaBufMappingType<{ id: string }>["match"] }).match = (_d, exp, imp) => {
      log.matches.push(`${exp.data!.id}/${imp.data!.id}`);
      switch (behaviour(exp.data!.id, imp.data!.id)) {
        case "accept":
          return true;
        case "skip":
          return false;
        case "throw-EOPNOTSUPP":
          throw new KernelError("EOPNOTSUPP", "mock_match");
        case "abort-ENODEV":
          throw new KernelError("ENODEV", "mock_match");
        case "return-0":
          return 0 as unknown as boolean;
      }
    };
  }
  return t;
}

const entry = (type: DmaBufMappingType<{ id: string }>, id: string): DmaBufMappingMatch => ({ type, data: { id } }) as DmaBufMappingMatch;

describe("dma-buf-mapping", () => {
  let k: Kernel;
  let dmabuf: DmaBuf;
  let log: Log;
  beforeEach(() => {
    k = new Kernel();
    log = { matches: [], finished: [] };
    dmabuf = dmaBufExport(k, {
      owner: k.modules.vmlinux,
      ops: { release() {}, singleExporterMatch: { type: mockType("unused", log, () => "accept") } },
      size: 4096n,
      flags: O_RDWR,
      priv: {},
    });
  });

  const run = (exp: DmaBufMappingMatch[], imp: DmaBufMappingMatch[]): string => {
    const args: DmaBufMatchArgs = { dmabuf, attach: null, impMatches: imp };
    try {
      dmaBufMatchMapping(args, exp);
      return "0";
    } catch (e) {
      return (e as KernelError).errno;
    }
  };

  it.each([
    { desc: "both lists empty", exp: [] as string[], imp: [] as string[], ret: "EINVAL", finished: [] },
    { desc: "empty importer list", exp: ["A:e1"], imp: [], ret: "EINVAL", finished: [] },
    { desc: "empty exporter list", exp: [], imp: ["A:i1"], ret: "EINVAL", finished: [] },
    { desc: "type mismatch is never matched, even with identical callbacks", exp: ["A:e1"], imp: ["B:i1"], ret: "EINVAL", finished: [] },
    { desc: "simple match", exp: ["A:e1"], imp: ["A:i1"], ret: "0", finished: ["e1/i1"] },
    { desc: "exporter priority beats importer order", exp: ["A:e1", "B:e2"], imp: ["B:i1", "A:i2"], ret: "0", finished: ["e1/i2"] },
    { desc: "importer order breaks ties for one exporter entry", exp: ["A:e1"], imp: ["A:i1", "A:i2"], ret: "0", finished: ["e1/i1"] },
    { desc: "second exporter entry when the first has no partner", exp: ["A:e1", "B:e2"], imp: ["B:i1"], ret: "0", finished: ["e2/i1"] },
  ])("$desc", ({ exp, imp, ret, finished }) => {
    const types = { A: mockType("A", log, () => "accept"), B: mockType("B", log, () => "accept") };
    const mk = (s: string) => {
      const [t, id] = s.split(":") as ["A" | "B", string];
      return entry(types[t], id);
    };
    expect(run(exp.map(mk), imp.map(mk))).toBe(ret);
    expect(log.finished).toEqual(finished);
  });

  it.each([
    { desc: "false means try the next importer entry", rule: (_e: string, i: string): MatchBehaviour => (i === "i1" ? "skip" : "accept"), ret: "0", matches: ["e1/i1", "e1/i2"], finished: ["e1/i2"] },
    { desc: "thrown EOPNOTSUPP is the same as false", rule: (_e: string, i: string): MatchBehaviour => (i === "i1" ? "throw-EOPNOTSUPP" : "accept"), ret: "0", matches: ["e1/i1", "e1/i2"], finished: ["e1/i2"] },
    { desc: "all EOPNOTSUPP gives EINVAL, not EOPNOTSUPP", rule: (): MatchBehaviour => "skip", ret: "EINVAL", matches: ["e1/i1", "e1/i2", "e2/i1", "e2/i2"], finished: [] },
    { desc: "any other error aborts the whole search", rule: (e: string): MatchBehaviour => (e === "e1" ? "abort-ENODEV" : "accept"), ret: "ENODEV", matches: ["e1/i1"], finished: [] },
    { desc: "after a skip, an abort still aborts", rule: (_e: string, i: string): MatchBehaviour => (i === "i1" ? "skip" : "abort-ENODEV"), ret: "ENODEV", matches: ["e1/i1", "e1/i2"], finished: [] },
    { desc: "a C-style 0 is a contract violation (EINVAL + WARN)", rule: (): MatchBehaviour => "return-0", ret: "EINVAL", matches: ["e1/i1"], finished: [] },
  ])("match callback: $desc", ({ rule, ret, matches, finished }) => {
    const A = mockType("A", log, rule);
    expect(run([entry(A, "e1"), entry(A, "e2")], [entry(A, "i1"), entry(A, "i2")])).toBe(ret);
    expect(log.matches).toEqual(matches);
    expect(log.finished).toEqual(finished);
    expect(k.warnings().length).toBe(ret === "EINVAL" && matches.length === 1 ? 1 : 0);
  });

  it("a type without match matches on identity alone; finish_match runs exactly once", () => {
    const P = mockType("P", log, () => "accept", false);
    expect(run([entry(P, "e1"), entry(P, "e2")], [entry(P, "i1"), entry(P, "i2")])).toBe("0");
    expect(log.matches).toEqual([]);
    expect(log.finished).toEqual(["e1/i1"]);
  });

  it("match receives args.dmabuf and the two entries", () => {
    const seen: unknown[] = [];
    const T: DmaBufMappingType = { name: "T", match: (d, e, i) => (seen.push(d, e, i), true), finishMatch: () => undefined };
    const e: DmaBufMappingMatch = { type: T };
    const i: DmaBufMappingMatch = { type: T };
    dmaBufMatchMapping({ dmabuf, attach: null, impMatches: [i] }, [e]);
    expect(seen).toEqual([dmabuf, e, i]);
  });

  it.each([
    {
      desc: "type mismatch, a refusal with its log line, then the winner",
      rule: (e: string, i: string): MatchBehaviour => (e === "e1" && i === "i2" ? "skip" : "accept"),
      ret: "0",
      tries: ["0/0 type-mismatch", "0/1 refused [refusing e1/i2]", "1/0 matched"],
    },
    { desc: "EOPNOTSUPP is a refusal with its errno", rule: (): MatchBehaviour => "throw-EOPNOTSUPP", ret: "0", tries: ["0/0 type-mismatch", "0/1 refused EOPNOTSUPP [refusing e1/i2]", "1/0 matched"] },
    { desc: "an abort ends the trace with its errno", rule: (): MatchBehaviour => "abort-ENODEV", ret: "ENODEV", tries: ["0/0 type-mismatch", "0/1 aborted ENODEV [refusing e1/i2]"] },
  ])("the dma_buf_match_mapping tracepoint: $desc", ({ rule, ret, tries }) => {
    const A = mockType("A", log, (e, i) => {
      const r = rule(e, i);
      if (r !== "accept") k.printk.info(`refusing ${e}/${i}`);
      return r;
    });
    const B = mockType("B", log, () => "accept");
    const traces: DmaBufMatchTrace[] = [];
    const off = registerTraceDmaBufMatchMapping(k, (t) => traces.push(t));
    const exp = [entry(A, "e1"), entry(B, "e2")];
    const imp = [entry(B, "i1"), entry(A, "i2")];
    expect(run(exp, imp)).toBe(ret);
    expect(traces).toHaveLength(1);
    expect(traces[0]!.exporter).toBe(exp);
    expect(traces[0]!.importer).toBe(imp);
    expect(traces[0]!.tries.map((t) => `${t.exp}/${t.imp} ${t.verdict}${t.errno ? ` ${t.errno}` : ""}${t.log.length ? ` [${t.log.join("|")}]` : ""}`)).toEqual(tries);
    off();
    run(exp, imp);
    expect(traces).toHaveLength(1);
  });

  it("leaves nothing behind", () => {
    dmaBufPut(dmabuf);
    expect(k.leakReport().empty).toBe(true);
  });
});
