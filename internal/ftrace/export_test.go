package ftrace

// PageLoadDir is pageLoadDir, for the external tests that capture pages
// from a live kernel (they import livetest, which imports tracefs).
var PageLoadDir = pageLoadDir
