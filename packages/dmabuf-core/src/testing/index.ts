// Test kit of core (`@dmabuf-sdk/dmabuf-core/testing`): checks shared by every package's tests.
export { check, checkClean, expectErrno } from "./clean.js";
