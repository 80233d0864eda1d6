// tap's coverage map (package.json "tap"."coverage-map"): whatever test runs, coverage is
// recorded for the service's own code only, src/ (TypeScript through tsx; c8 maps it back to
// the .ts lines with tsx's source maps). Not test/, bench/, scripts/ or node_modules/.
// tap globs the returned patterns; a src file that no test loads is not in the report.
export default function coverageMap(_testFile) {
  return ['src/**/*.ts'];
}
