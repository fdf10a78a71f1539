#!/usr/bin/env node
// The real validators the tests use, installed from Debian when the machine lacks them:
// chromium (the conformance HTML report, driven by playwright-core), xmllint from
// libxml2-utils (the JUnit report against junit-10.xsd), python3 and the kernel's own
// KTAP parser, tools/testing/kunit/kunit_parser.py, extracted from Debian's
// linux-source-6.1 tarball (the kernel tree is not otherwise reachable from here).
// Prints what it did; exits non-zero when a tool could not be installed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
/** Where kunit_parser.py and its kunit_printer.py land (the tests look here, or in $KUNIT_DIR). */
export const KUNIT_DIR = process.env.KUNIT_DIR ?? join(root, "node_modules", ".cache", "linux-kunit");
const LINUX_SOURCE = "linux-source-6.1";

function sh(cmd) {
  return spawnSync("bash", ["-c", cmd], { stdio: "inherit", timeout: 900_000 }).status === 0;
}

function has(cmd) {
  return spawnSync("bash", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** apt-get install, with one `apt-get update` if the package lists are stale. */
function apt(pkgs) {
  console.log(`> installing Debian's ${pkgs.join(", ")}`);
  const list = pkgs.join(" ");
  return sh(`apt-get install -y -q ${list} || (apt-get update -q && apt-get install -y -q ${list})`);
}

let ok = true;
const need = [];
if (!process.env.CHROMIUM_PATH && !existsSync("/usr/bin/chromium")) need.push("chromium");
if (!has("xmllint")) need.push("libxml2-utils");
if (!has("python3")) need.push("python3");
const kunitParser = join(KUNIT_DIR, "kunit_parser.py");
const tarball = `/usr/src/${LINUX_SOURCE}.tar.xz`;
if (!existsSync(kunitParser) && !existsSync(tarball)) need.push(LINUX_SOURCE);
if (need.length && !apt(need)) {
  console.log(`could not install ${need.join(", ")}: the tests that need them will fail`);
  ok = false;
}
if (!existsSync(kunitParser)) {
  console.log(`> extracting tools/testing/kunit/kunit_parser.py from ${tarball}`);
  mkdirSync(KUNIT_DIR, { recursive: true });
  const files = ["kunit_parser.py", "kunit_printer.py"].map((f) => `${LINUX_SOURCE}/tools/testing/kunit/${f}`).join(" ");
  if (!sh(`tar -xJf ${tarball} -C ${JSON.stringify(KUNIT_DIR)} --strip-components=4 ${files}`)) {
    console.log("kunit_parser.py could not be extracted: the KTAP test will fail");
    ok = false;
  }
}
process.exitCode = ok ? 0 : 1;
