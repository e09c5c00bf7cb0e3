package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/live"
)

// tracepointSource is a live source that says what it attached to.
type tracepointSource interface{ Tracepoints() []string }

// instanceSource is a live source with a tracefs instance.
type instanceSource interface{ Instance() string }

// staleRemover is a live source that removed, as it opened, the tracefs
// instances killed runs had left.
type staleRemover interface{ Removed() []string }

// startupLines name the source and the tracepoints it attached and, when
// it removed any, the stale tracefs instances of earlier runs (none for
// a replay, which says nothing at start).
func startupLines(ws *watchSource, cmd string) []string {
	tp, ok := ws.src.(tracepointSource)
	if !ok {
		return nil
	}
	line := fmt.Sprintf("gpuwatch %s: source %s, attached to %s", cmd, ws.name, strings.Join(tp.Tracepoints(), " "))
	if is, ok := ws.src.(instanceSource); ok {
		line += " (instance " + is.Instance() + ")"
	}
	lines := []string{line}
	if sr, ok := ws.src.(staleRemover); ok {
		if removed := sr.Removed(); len(removed) > 0 {
			lines = append(lines, fmt.Sprintf("gpuwatch %s: %s", cmd, removedStale(removed)))
		}
	}
	return lines
}

// removedStale says which stale tracefs instances were removed.
func removedStale(names []string) string {
	if len(names) == 1 {
		return "removed 1 stale tracefs instance left by an earlier run: " + names[0]
	}
	return fmt.Sprintf("removed %d stale tracefs instances left by earlier runs: %s", len(names), strings.Join(names, ", "))
}

// isSchedEvent reports whether a "system:event" name is a GPU scheduler
// tracepoint (the events that carry job lifecycles).
func isSchedEvent(name string) bool {
	return strings.HasPrefix(name, "gpu_scheduler:") || strings.HasPrefix(name, "gpu_sched:")
}

// quietAfter is how long watch waits for a first GPU scheduler event
// before it warns.
const quietAfter = 5 * time.Second

// quietWarning is the warning for a run that has read no GPU scheduler
// event in d, naming the likely cause; "" when it has read some.
func quietWarning(attached []string, byName map[string]uint64, d time.Duration) string {
	sched := false
	for _, n := range attached {
		sched = sched || isSchedEvent(n)
	}
	if !sched {
		return fmt.Sprintf("no GPU scheduler tracepoint attached (only %s): no drm_sched driver (amdgpu, xe, ...) is loaded, and without its events no switch-out can be measured", strings.Join(attached, " "))
	}
	for n, c := range byName {
		if isSchedEvent(n) && c > 0 {
			return ""
		}
	}
	return fmt.Sprintf("no GPU scheduler events in %v: the GPU is idle, or it is not driven through drm_sched (its events are attached)", d.Round(time.Second))
}

// watchQuiet warns (runner warning "quiet"; stderr unless the TUI owns
// the terminal) when no scheduler event came in the first quietAfter, and
// clears the warning when one comes. It returns when ctx ends.
func watchQuiet(ctx context.Context, r *live.Runner, ws *watchSource, cmd string, stderr io.Writer, tui bool) {
	tp, ok := ws.src.(tracepointSource)
	if !ok {
		return
	}
	attached := tp.Tracepoints()
	t := time.NewTimer(quietAfter)
	defer t.Stop()
	said := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, st := r.Snapshot()
		w := quietWarning(attached, s.Input.ByName, st.Uptime)
		r.Warn("quiet", w)
		if w == "" {
			return
		}
		if !said && !tui {
			fmt.Fprintf(stderr, "gpuwatch %s: warning: %s\n", cmd, w)
		}
		said = true
		t.Reset(time.Second)
	}
}

// sampleSteal makes the runner of a live source report steal time.
func sampleSteal(r *live.Runner, ws *watchSource) {
	if _, ok := ws.src.(tracepointSource); ok {
		r.SampleSteal("/proc/stat")
	}
}
