package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/exporter"
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// feedPattern runs the engine on a 2-VF pattern: 6 ms on, 6.4 ms off.
func feedPattern(turns int) *gaps.Snapshot {
	e := gaps.New(gaps.Config{})
	t := int64(1e9)
	var fence uint64 = 0x1000
	run := func(at int64, f uint64) {
		e.Feed(event.Event{Time: at, Kind: event.KindRun, Name: "gpu_scheduler:drm_run_job", Ring: "gfx", Job: event.JobKey{Fence: f}, JobCount: -1, HWJobCount: -1, Comm: "glmark2", PID: 2211})
	}
	done := func(at int64, f uint64) {
		e.Feed(event.Event{Time: at, Kind: event.KindDone, Name: "gpu_scheduler:drm_sched_process_job", Job: event.JobKey{Fence: f}, JobCount: -1, HWJobCount: -1})
	}
	for i := 0; i < turns; i++ {
		end := t + 6e6
		for ; t+250e3 <= end; t += 250e3 {
			fence += 0x40
			run(t, fence)
			done(t+250e3-1, fence)
		}
		fence += 0x40
		run(t, fence)
		t += 6.4e6
		done(t+10e3, fence)
		t += 10e3
	}
	return e.Snapshot()
}

// TestMetricsSnapshotMatchesEngine renders the conversion of an engine
// snapshot and checks the scrape against the snapshot, series by series.
func TestMetricsSnapshotMatchesEngine(t *testing.T) {
	s := feedPattern(100)
	if !s.Timeslice.Detected || !s.Share.Resolved {
		t.Fatalf("engine detected nothing on the pattern: %s; %s", s.Timeslice.Reason, s.Share.Reason)
	}
	e := exporter.New(exporter.Options{Source: "tracefs", Version: "test", Labels: exporter.Labels{{Name: "guest", Value: "vm1"}}})
	e.Update(metricsSnapshot(s))
	var buf bytes.Buffer
	e.WritePrometheus(&buf)
	scrape := buf.String()
	var longest time.Duration
	for _, w := range s.Windows {
		if w.Kind == gaps.SwitchedOut {
			longest = max(longest, time.Duration(w.End-w.Start))
		}
	}
	if longest < 6*time.Millisecond {
		t.Fatalf("longest switched-out window %v on a 6.4 ms off pattern", longest)
	}
	g := `guest="vm1"`
	proc := s.Rings[0].Processes[0]
	for series, want := range map[string]float64{
		"gpuwatch_share_ratio{" + g + "}":                                                        s.Share.Ratio,
		"gpuwatch_schedule_share_ratio{" + g + "}":                                               s.Timeslice.ScheduleShare,
		"gpuwatch_slice_seconds{" + g + "}":                                                      s.Timeslice.Slice.Seconds(),
		"gpuwatch_period_seconds{" + g + "}":                                                     s.Timeslice.Period.Seconds(),
		"gpuwatch_vfs{" + g + "}":                                                                float64(s.Timeslice.VFs),
		"gpuwatch_confidence_ratio{" + g + "}":                                                   s.Timeslice.Confidence,
		"gpuwatch_switched_out_seconds_total{" + g + "}":                                         s.SwitchedOutTotal.Seconds(),
		"gpuwatch_recent_longest_switch_out_seconds{" + g + "}":                                  longest.Seconds(),
		"gpuwatch_trace_seconds{" + g + "}":                                                      float64(s.End-s.Start) / 1e9,
		`gpuwatch_jobs_total{ring="gfx",` + g + "}":                                              float64(s.Rings[0].Jobs),
		`gpuwatch_stalled_seconds_total{ring="gfx",` + g + "}":                                   s.Rings[0].Stalled.Seconds(),
		`gpuwatch_process_stalled_seconds_total{ring="gfx",comm="glmark2",pid="2211",` + g + "}": proc.Stalled.Seconds(),
		`gpuwatch_process_busy_seconds_total{ring="gfx",comm="glmark2",pid="2211",` + g + "}":    proc.Busy.Seconds(),
		`gpuwatch_events_total{event="gpu_scheduler:drm_run_job",` + g + "}":                     float64(s.Input.ByName["gpu_scheduler:drm_run_job"]),
		"gpuwatch_gap_seconds_count{" + g + "}":                                                  float64(s.Gaps.Count),
		`gpuwatch_mode{mode="fixed",` + g + "}":                                                  1,
	} {
		// The same float64 the exporter formats, to the last digit.
		if line := series + " " + strconv.FormatFloat(want, 'g', -1, 64) + "\n"; !strings.Contains(scrape, line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if proc.Comm != "glmark2" || proc.Jobs == 0 {
		t.Errorf("process %+v", proc)
	}
}
