// The interleaving explorer: DFS with a preemption bound, PCT, preemption points, checks, schedule strings, replay and shrinking.
import { describe, expect, it } from "vitest";
import {
  ExploreError,
  Kernel,
  Mutex,
  SpinLock,
  countSchedules,
  decodeSchedule,
  encodeSchedule,
  explore,
  replaySchedule,
  requestIrq,
  type ExploreInstance,
  type ExploreScenario,
} from "@dmabuf-sdk/dmabuf-core";

function scenario(name: string, build: (k: Kernel) => ExploreInstance): ExploreScenario {
  return { name, boot: () => new Kernel(), build };
}

/** Two tasks each read a counter in one step and write it back incremented in the next: the lost update needs one preemption. */
const lostUpdate = scenario("lost-update", () => {
  const shared = { x: 0 };
  const incr = (name: string) => {
    let seen = 0;
    return { name, steps: [{ label: "read x", run: () => void (seen = shared.x) }, { label: "write x+1", run: () => void (shared.x = seen + 1) }] };
  };
  return { tasks: [incr("A"), incr("B")], check: () => (shared.x === 2 ? [] : [`x is ${shared.x}, not 2`]) };
});

/** One step checks a pointer and, after a preemption point, dereferences it; the other clears it (the check-then-use window). */
const checkThenUse = (withPoint: boolean): ExploreScenario =>
  scenario(`check-then-use${withPoint ? "" : " (no point)"}`, (k) => {
    const obj: { dev: { name: string } | null } = { dev: { name: "dev0" } };
    return {
      tasks: [
        {
          name: "user",
          steps: [
            {
              label: "lookup",
              run: () => {
                if (!obj.dev) return "ENODEV";
                if (withPoint) k.sched.point("between check and use");
                return obj.dev.name;
              },
            },
          ],
        },
        { name: "cleanup", steps: [{ label: "clear dev", run: () => void (obj.dev = null) }] },
      ],
    };
  });

describe("explore: DFS with a preemption bound", () => {
  it.each([
    [0, 2],
    [1, 4],
    [2, 6],
  ])("two tasks of two steps: bound %i gives %i schedules", (bound, n) => {
    const r = explore(lostUpdate, { preemptionBound: bound, shrink: false });
    expect([r.schedules, r.complete]).toEqual([n, true]);
  });

  it("countSchedules tabulates the same growth", () => {
    expect(countSchedules(lostUpdate, 2).map((x) => x.schedules)).toEqual([2, 4, 6]);
  });

  it("the lost update is not found without preemptions and is found with one, shrunk to one preemption", () => {
    expect(explore(lostUpdate, { preemptionBound: 0 }).failures).toEqual([]);
    const r = explore(lostUpdate, { preemptionBound: 1 });
    expect(r.failures.map((f) => [f.kind, f.signature, f.preemptions])).toEqual([["assertion", "assertion: x is 1, not 2", 1]]);
    const f = r.failures[0]!;
    expect(f.trace.filter((l) => l.includes("<- preemption"))).toHaveLength(1);
    // The shrunk string replays the same failure.
    expect(replaySchedule(lostUpdate, f.shrunk).failures.map((x) => x.signature)).toEqual([f.signature]);
  });

  it("maxSchedules stops early and says the space was not exhausted", () => {
    const r = explore(lostUpdate, { preemptionBound: 2, maxSchedules: 3, shrink: false });
    expect([r.schedules, r.complete]).toEqual([3, false]);
  });

  it("failFast stops at the first failing schedule", () => {
    const r = explore(lostUpdate, { preemptionBound: 2, failFast: true, shrink: false });
    expect(r.failures).toHaveLength(1);
    expect(r.schedules).toBeLessThan(6);
  });
});

describe("explore: preemption points", () => {
  it.each([
    [true, ["oops: Cannot read properties of null (reading 'name')"]],
    [false, []],
  ])("a window inside one step is reachable only through a point (point: %s)", (withPoint, sigs) => {
    const r = explore(checkThenUse(withPoint), { preemptionBound: 1 });
    expect(r.failures.map((f) => f.signature)).toEqual(sigs);
  });

  it("the oops trace shows the nested step at the point", () => {
    const f = explore(checkThenUse(true), { preemptionBound: 1 }).failures[0]!;
    expect(f.trace).toEqual(["user: lookup", "  cleanup: clear dev (at between check and use)  <- preemption"]);
    expect(f.log.split("\n").map((l) => l.replace(/^\[[ \d.]+\] /, ""))).toEqual(["BUG: Cannot read properties of null (reading 'name')", "in user: lookup"]);
  });
});

describe("explore: checks after every schedule", () => {
  it("an ABBA lock order across two tasks is a lockdep failure in every order", () => {
    const s = scenario("abba", (k) => {
      const env = { lockdep: k.lockdep, current: () => k.current };
      const a = new SpinLock(env, "a", "lock_a");
      const b = new SpinLock(env, "b", "lock_b");
      const nest = (x: SpinLock, y: SpinLock) => () => {
        x.lock();
        y.lock();
        y.unlock();
        x.unlock();
      };
      return { tasks: [{ name: "T1", steps: [{ label: "a then b", run: nest(a, b) }] }, { name: "T2", steps: [{ label: "b then a", run: nest(b, a) }] }] };
    });
    const r = explore(s, { preemptionBound: 0 });
    expect(r.failures.map((f) => f.signature)).toEqual(["lockdep: WARNING: possible circular locking dependency detected"]);
    expect(r.failures[0]!.lockdep).toContain("lock_a");
  });

  it("a step that never becomes ready is a hung task", () => {
    const s = scenario("hung", () => ({ tasks: [{ name: "waiter", steps: [{ label: "wait for go", ready: () => false, run: () => undefined }] }] }));
    const r = explore(s);
    expect(r.failures.map((f) => [f.kind, f.signature])).toEqual([["hung", "hung: waiter never ran wait for go"]]);
  });

  it("anything but a kernel error thrown by a step is an oops", () => {
    const s = scenario("oops", () => ({ tasks: [{ name: "t", steps: [{ label: "BUG_ON", run: () => (JSON.parse("null") as { name: string }).name }] }] }));
    expect(explore(s).failures.map((f) => f.kind)).toEqual(["oops"]);
  });

  it("an object left alive at the end is reported as a leak", () => {
    const s = scenario("leak", (k) => ({ tasks: [{ name: "alloc", steps: [{ label: "kmalloc", run: () => void k.objects.track("widget", {}, () => "a widget") }] }] }));
    expect(explore(s).failures.map((f) => f.signature)).toEqual(["leak: widget"]);
  });

  it("a kernel error is the step's outcome, given to the scenario's check", () => {
    const s = scenario("errno", (k) => ({
      tasks: [{ name: "t", steps: [{ label: "request_irq twice", run: () => (requestIrq(k, 9, () => "IRQ_HANDLED", {}, "a", undefined), requestIrq(k, 9, () => "IRQ_HANDLED", {}, "b", undefined)) }] }],
      check: (outcomes) => (outcomes[0]?.errno === "EBUSY" ? [] : [`outcome ${JSON.stringify(outcomes)}`]),
    }));
    expect(explore(s).failures).toEqual([]);
  });

  it("timeline events (work, IRQs) are alternatives of their own", () => {
    const s = scenario("events", (k) => {
      const order: string[] = [];
      return {
        tasks: [{ name: "user", steps: [{ label: "queue irq", run: () => void k.sched.raiseIrq("dev", () => void order.push("irq")) }, { label: "second", run: () => void order.push("user") }] }],
        check: () => (order[0] === "irq" ? ["the IRQ ran before the user's second step"] : []),
      };
    });
    expect(explore(s, { preemptionBound: 0 }).failures).toEqual([]);
    expect(explore(s, { preemptionBound: 1 }).failures.map((f) => f.signature)).toEqual(["assertion: the IRQ ran before the user's second step"]);
  });

  it("a nested step that needs a lock its suspended outer frame holds is pruned, not reported", () => {
    const s = scenario("mutex", (k) => {
      const m = new Mutex({ lockdep: k.lockdep, current: () => k.current }, "m", "&m");
      const take = (name: string) => ({ name, steps: [{ label: "lock; point; unlock", run: () => (m.lock(), k.sched.point("in m"), m.unlock()) }] });
      return { tasks: [take("T1"), take("T2")] };
    });
    const r = explore(s, { preemptionBound: 2 });
    expect(r.failures).toEqual([]);
    expect([r.complete, r.pruned > 0, r.schedules > r.pruned]).toEqual([true, true, true]);
  });
});

describe("explore: PCT", () => {
  it("finds the lost update with a seed, and the same seed gives the same result", () => {
    const a = explore(lostUpdate, { strategy: "pct", iterations: 200, seed: 7, pctDepth: 2 });
    const b = explore(lostUpdate, { strategy: "pct", iterations: 200, seed: 7, pctDepth: 2 });
    expect(a.failures.map((f) => f.signature)).toEqual(["assertion: x is 1, not 2"]);
    expect(b.failures.map((f) => [f.schedule, f.foundAt])).toEqual(a.failures.map((f) => [f.schedule, f.foundAt]));
  });
});

describe("schedule strings", () => {
  it.each<[number[], string]>([
    [[], "e1."],
    [[0, 0, 0], "e1."],
    [[0, 1, 0, 2], "e1.0102"],
    [[35, 36, 0], "e1.z~10"],
  ])("%j encodes as %s and decodes back (trailing defaults dropped)", (codes, s) => {
    expect(encodeSchedule(codes)).toBe(s);
    const back = decodeSchedule(s);
    expect(back).toEqual(codes.slice(0, back.length));
  });

  it.each(["x1.01", "e1.0!", "e1.~1"])("%s is a schedule-format error", (s) => {
    expect(() => decodeSchedule(s)).toThrow(ExploreError);
    try {
      decodeSchedule(s);
    } catch (e) {
      expect((e as ExploreError).kind).toBe("schedule-format");
    }
  });

  it("a schedule asking for an alternative the scenario does not offer is a divergence", () => {
    expect(() => replaySchedule(lostUpdate, "e1.9")).toThrow(/schedule divergence at decision 0/);
  });
});
