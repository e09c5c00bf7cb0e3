package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

func TestQuietWarning(t *testing.T) {
	sched := []string{"gpu_scheduler:drm_run_job", "gpu_scheduler:drm_sched_process_job", "dma_fence:dma_fence_signaled"}
	for _, tc := range []struct {
		attached []string
		byName   map[string]uint64
		want     string
	}{
		{[]string{"dma_fence:dma_fence_emit", "dma_fence:dma_fence_signaled"}, map[string]uint64{"dma_fence:dma_fence_signaled": 9}, "no GPU scheduler tracepoint attached (only dma_fence:dma_fence_emit dma_fence:dma_fence_signaled): no drm_sched driver"},
		{sched, nil, "no GPU scheduler events in 5s"},
		{sched, map[string]uint64{"dma_fence:dma_fence_signaled": 3}, "no GPU scheduler events in 5s"},
		{sched, map[string]uint64{"gpu_scheduler:drm_run_job": 1}, ""},
	} {
		got := quietWarning(tc.attached, tc.byName, 5*time.Second)
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q %v: %q, want %q...", tc.attached, tc.byName, got, tc.want)
		}
	}
}

// TestWatchStartupAndQuiet: a live watch names its source and tracepoints
// at start, and warns when no scheduler event comes.
func TestWatchStartupAndQuiet(t *testing.T) {
	h := livetest.Setup(t, tracepoint.GenDRM)
	bin := buildGpuwatch(t)
	p := startWatch(t, h, bin, "--json", "--listen", "", "--duration", "8s")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	errs := p.stderr.String()
	first, _, _ := strings.Cut(errs, "\n")
	if !strings.HasPrefix(first, "gpuwatch watch: source tracefs, attached to gpu_scheduler:drm_sched_job gpu_scheduler:drm_run_job gpu_scheduler:drm_sched_process_job") ||
		!strings.HasSuffix(first, " (instance "+p.inst+")") {
		t.Errorf("first line on stderr %q: want the source, its tracepoints and instance", first)
	}
	if strings.Count(errs, "warning: no GPU scheduler events in") != 1 {
		t.Errorf("stderr %q: want one warning about no scheduler events", errs)
	}
	ls := parseWatch(t, p.stdout.Bytes())
	if w := ls[len(ls)-1].Warnings; len(w) != 1 || !strings.Contains(w[0], "no GPU scheduler events") {
		t.Errorf("final object's warnings %q", w)
	}
}
