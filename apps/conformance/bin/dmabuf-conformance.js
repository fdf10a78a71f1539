#!/usr/bin/env node
// Committed shim: pnpm links a workspace package's bins at install time, before
// the first build, and skips a bin whose file does not exist yet.
import "../dist/bin/dmabuf-conformance.js";
