package livetest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireAllEnv names the variable under which a test that would skip for a
// missing kernel feature, privilege or tool fails instead: CI installs
// everything the tests use and sets it, so a skip there is a defect.
const RequireAllEnv = "GPUWATCH_REQUIRE_ALL"

// RequireAll reports whether RequireAllEnv is set (to anything but "" or "0").
func RequireAll() bool {
	v := os.Getenv(RequireAllEnv)
	return v != "" && v != "0"
}

// Skip skips t, saying why, because something the test needs is missing
// here (a kernel feature, root, a tool); under RequireAllEnv it fails the
// test with the same reason instead. Every such skip goes through it.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		t.Fatalf("%s=1 and the test cannot run: %s", RequireAllEnv, msg)
		return
	}
	t.Skip(msg)
}

// RequireRoot skips (or, under RequireAllEnv, fails) t unless it runs as
// root; what names what root is needed for.
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "%s needs root", what)
	}
}

// RequireTool returns the path of the program name, or skips (fails under
// RequireAllEnv) saying which package installs it.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}
