package livetest

import (
	"errors"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recTB records how Skip ended a test.
type recTB struct {
	testing.TB
	skipped, failed string
}

func (r *recTB) Helper()                           {}
func (r *recTB) Skip(args ...any)                  { r.skipped = args[0].(string) }
func (r *recTB) Fatalf(format string, args ...any) { r.failed = format }

func TestSkipOrFail(t *testing.T) {
	t.Setenv(RequireAllEnv, "")
	r := &recTB{TB: t}
	Skip(r, "no %s here", "tool")
	if r.skipped != "no tool here" || r.failed != "" {
		t.Errorf("without %s: skipped %q failed %q", RequireAllEnv, r.skipped, r.failed)
	}
	t.Setenv(RequireAllEnv, "1")
	r = &recTB{TB: t}
	Skip(r, "no %s here", "tool")
	if r.skipped != "" || !strings.Contains(r.failed, "cannot run") {
		t.Errorf("with %s=1: skipped %q failed %q", RequireAllEnv, r.skipped, r.failed)
	}
}

func TestUprobeDefined(t *testing.T) {
	text := "p:gpu_scheduler/drm_run_job /tmp/x/gpusim:0x1139 entity=%di:u64\nr:other/ev /bin/true:0x10\n"
	for _, tc := range []struct {
		group, name string
		want        bool
	}{{"gpu_scheduler", "drm_run_job", true}, {"other", "ev", true}, {"gpu_scheduler", "drm_sched_job", false}, {"gpu_scheduler", "drm_run", false}} {
		if got := uprobeDefined(text, tc.group, tc.name); got != tc.want {
			t.Errorf("%s/%s: %v, want %v", tc.group, tc.name, got, tc.want)
		}
	}
}

// TestCreateRealScheduler: where the kernel has the scheduler's own
// tracepoints (a tracefs tree with the events, no uprobe defining them),
// Create says so with ErrRealScheduler, which Setup turns into a skip.
func TestCreateRealScheduler(t *testing.T) {
	// The harness's own names, and another generation's (6.17 names while
	// the harness would create 4.16-6.16 ones).
	for _, ev := range []string{"drm_run_job", "drm_sched_job_run"} {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "events", "gpu_scheduler", ev), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, "events", "gpu_scheduler", "enable"), nil, 0o644)
		os.WriteFile(filepath.Join(root, "uprobe_events"), nil, 0o644)
		_, err := Create(root, "/nonexistent/gpusim", tracepoint.GenDRM)
		if !errors.Is(err, ErrRealScheduler) {
			t.Errorf("%s: Create: %v, want ErrRealScheduler", ev, err)
		}
	}
}
