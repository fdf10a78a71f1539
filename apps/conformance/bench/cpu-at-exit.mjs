// Preloaded (`node --import`) by the conformance bench: prints the process's CPU time at exit on fd 3-free stderr line.
process.on("exit", () => {
  const c = process.cpuUsage();
  process.stderr.write(`\ncpu-ms ${(c.user + c.system) / 1000}\n`);
});
