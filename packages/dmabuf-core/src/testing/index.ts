// Test kit of core (`@dmabuf-sdk/dmabuf-core/testing`): checks and the fault-injection sweep shared by every package's tests.
export { check, checkClean, expectErrno } from "./clean.js";
export { faultSweep, syscallOk, type FaultSweep } from "./fault-sweep.js";
