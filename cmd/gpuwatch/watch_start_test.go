package main

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// plainSource is a source that is not live (a replay's kind).
type plainSource struct{}

func (plainSource) Next() (event.Event, error) { return event.Event{}, io.EOF }

// fakeLive is a live source as startupLines sees one.
type fakeLive struct{ removed []string }

func (fakeLive) Next() (event.Event, error) { return event.Event{}, io.EOF }
func (fakeLive) Tracepoints() []string      { return []string{"gpu_scheduler:drm_run_job"} }
func (fakeLive) Instance() string           { return "/t/instances/gpuwatch-7-0a" }
func (f fakeLive) Removed() []string        { return f.removed }

// TestStartupLines: the source line, then a line naming the stale
// instances the source removed, only when it removed some; nothing for a
// replay.
func TestStartupLines(t *testing.T) {
	const first = "gpuwatch run: source tracefs, attached to gpu_scheduler:drm_run_job (instance /t/instances/gpuwatch-7-0a)"
	for _, tc := range []struct {
		removed []string
		want    []string
	}{
		{nil, []string{first}},
		{[]string{"gpuwatch-123-1f"}, []string{first, "gpuwatch run: removed 1 stale tracefs instance left by an earlier run: gpuwatch-123-1f"}},
		{[]string{"gpuwatch-123-1f", "gpuwatch-456-2e"}, []string{first, "gpuwatch run: removed 2 stale tracefs instances left by earlier runs: gpuwatch-123-1f, gpuwatch-456-2e"}},
	} {
		got := startupLines(&watchSource{src: fakeLive{tc.removed}, name: "tracefs"}, "run")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("removed %q: lines %q, want %q", tc.removed, got, tc.want)
		}
	}
	if got := startupLines(&watchSource{src: plainSource{}, name: "replay"}, "watch"); got != nil {
		t.Errorf("replay: lines %q, want none", got)
	}
}

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
