package gaps

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// These tests measure the engine against the simulator's ground truth
// (internal/simulate, through scenario_test.go): the targets of the project are slice and period
// within 1 %, share within 0.5 percentage points, window F1 ≥ 0.98 on
// saturating and frame-paced loads under a fixed schedule.

func TestAccuracyFixed(t *testing.T) {
	cases := []scenario{
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 3, Duration: 3 * time.Second, Seed: 21},
		{VFs: 4, Slice: 3 * time.Millisecond, Cost: 150 * time.Microsecond, Job: 150 * time.Microsecond, JobDist: "uniform", Depth: 3, Duration: 3 * time.Second, Seed: 22, Gen617: true},
		{VFs: 16, Slice: 1 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 50 * time.Microsecond, JobDist: "const", Depth: 2, Duration: 4 * time.Second, Seed: 23},
		{VFs: 8, Slice: 12 * time.Millisecond, Cost: 300 * time.Microsecond, Job: 600 * time.Microsecond, JobDist: "uniform", Depth: 3, Duration: 4 * time.Second, Seed: 24, Gen617: true},
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 500 * time.Microsecond, JobDist: "uniform", Frames: 16667 * time.Microsecond, FrameJobs: 4, Duration: 4 * time.Second, Seed: 25},
		{VFs: 4, Slice: 12 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 800 * time.Microsecond, JobDist: "uniform", Frames: 33333 * time.Microsecond, FrameJobs: 6, Duration: 6 * time.Second, Seed: 26, Gen617: true},
		// heavy exponential jobs (mean a sixth of the slice): some jobs
		// leave in-turn gaps as long as a window, and the straddling
		// job's remainder spreads the window ends over milliseconds
		{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 1 * time.Millisecond, JobDist: "exp", Depth: 3, Duration: 4 * time.Second, Seed: 9, Gen617: true},
	}
	for _, sc := range cases {
		evs, tr := sc.run(t)
		s := New(Config{}).feedAll(evs).Snapshot()
		ts := s.Timeslice
		slice, period, share := tr.slice, tr.period, tr.share
		f1, prec, rec := windowF1(s.Windows, tr)
		t.Logf("vfs=%d slice=%v: %+v F1=%.3f", sc.VFs, sc.Slice, ts, f1)
		if !ts.Detected || ts.Mode != ModeFixed {
			t.Errorf("vfs=%d slice=%v: not detected as fixed: %s", sc.VFs, sc.Slice, ts.Reason)
			continue
		}
		if e := relErr(ts.Slice, slice); e > 0.01 {
			t.Errorf("vfs=%d slice=%v: slice %v off by %.2f%%", sc.VFs, sc.Slice, ts.Slice, 100*e)
		}
		if e := relErr(ts.Period, period); e > 0.01 {
			t.Errorf("vfs=%d slice=%v: period %v (true %v) off by %.2f%%", sc.VFs, sc.Slice, ts.Period, period, 100*e)
		}
		if d := math.Abs(ts.ScheduleShare - share); d > 0.005 {
			t.Errorf("vfs=%d slice=%v: share %.4f (true %.4f)", sc.VFs, sc.Slice, ts.ScheduleShare, share)
		}
		if ts.VFs != sc.VFs {
			t.Errorf("vfs=%d slice=%v: VFs %d", sc.VFs, sc.Slice, ts.VFs)
		}
		if f1 < 0.98 {
			t.Errorf("vfs=%d slice=%v: window F1 %.3f (precision %.3f recall %.3f)", sc.VFs, sc.Slice, f1, prec, rec)
		}
		if ts.Confidence < 0.5 {
			t.Errorf("vfs=%d slice=%v: confidence %.2f on a clean trace", sc.VFs, sc.Slice, ts.Confidence)
		}
	}
}

func TestAccuracyVariable(t *testing.T) {
	cases := []scenario{
		{VFs: 4, Slice: 3 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 150 * time.Microsecond, JobDist: "uniform", Depth: 3, Duration: 4 * time.Second, Seed: 31, Variable: true, SkipProb: 0.3},
		{VFs: 8, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 3, Duration: 4 * time.Second, Seed: 32, Variable: true, SkipProb: 0.3, Gen617: true},
	}
	for _, sc := range cases {
		evs, tr := sc.run(t)
		s := New(Config{}).feedAll(evs).Snapshot()
		ts := s.Timeslice
		f1, _, _ := windowF1(s.Windows, tr)
		t.Logf("vfs=%d slice=%v: %+v F1=%.3f true period %v", sc.VFs, sc.Slice, ts, f1, tr.period)
		if !ts.Detected || ts.Mode != ModeVariable {
			t.Errorf("vfs=%d: not detected as variable: %s", sc.VFs, ts.Reason)
			continue
		}
		if e := relErr(ts.Slice, tr.slice); e > 0.01 {
			t.Errorf("vfs=%d: slice %v off by %.2f%%", sc.VFs, ts.Slice, 100*e)
		}
		if e := relErr(ts.Period, tr.period); e > 0.01 {
			t.Errorf("vfs=%d: period %v (true mean %v) off by %.2f%%", sc.VFs, ts.Period, tr.period, 100*e)
		}
		if f1 < 0.98 {
			t.Errorf("vfs=%d: window F1 %.3f", sc.VFs, f1)
		}
	}
}

// TestNoConfidentWrongNumbers: passthrough traces, jobs longer than a
// slice and too short traces give Detected=false or a low confidence.
func TestNoConfidentWrongNumbers(t *testing.T) {
	cases := []struct {
		name string
		sc   scenario
	}{
		{"passthrough-exp", scenario{Passthrough: true, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 3, Duration: 3 * time.Second, Seed: 41}},
		{"passthrough-bimodal", scenario{Passthrough: true, Job: 300 * time.Microsecond, JobDist: "bimodal", Depth: 3, Duration: 3 * time.Second, Seed: 42}},
		{"passthrough-frames", scenario{Passthrough: true, Job: 2 * time.Millisecond, JobDist: "uniform", Frames: 16667 * time.Microsecond, FrameJobs: 3, Duration: 3 * time.Second, Seed: 43}},
		{"long-jobs-2vf", scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 9 * time.Millisecond, JobDist: "uniform", Depth: 2, Duration: 3 * time.Second, Seed: 44}},
		{"long-jobs-4vf", scenario{VFs: 4, Slice: 3 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 5 * time.Millisecond, JobDist: "exp", Depth: 2, Duration: 3 * time.Second, Seed: 45}},
		{"long-jobs-8vf-const", scenario{VFs: 8, Slice: 1 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 2 * time.Millisecond, JobDist: "const", Depth: 2, Duration: 3 * time.Second, Seed: 46}},
		{"too-short", scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "exp", Depth: 3, Duration: 20 * time.Millisecond, Seed: 47}},
	}
	for _, c := range cases {
		evs, tr := c.sc.run(t)
		s := New(Config{}).feedAll(evs).Snapshot()
		ts := s.Timeslice
		t.Logf("%s: %+v", c.name, ts)
		if c.sc.Passthrough {
			if ts.Detected {
				t.Errorf("%s: detected a schedule in passthrough", c.name)
			}
			for _, w := range s.Windows {
				if w.Kind == SwitchedOut {
					t.Errorf("%s: switched-out window %+v", c.name, w)
					break
				}
			}
			continue
		}
		if !ts.Detected {
			if ts.Reason == "" {
				t.Errorf("%s: no reason given", c.name)
			}
			continue
		}
		slice := tr.slice
		if relErr(ts.Slice, slice) > 0.05 && ts.Confidence > 0.3 {
			t.Errorf("%s: confident (%.2f) wrong slice %v (true %v)", c.name, ts.Confidence, ts.Slice, slice)
		}
	}
}

// TestLostEventsKeepEstimate drops a share of the events, marking each
// loss as a source would; the estimate must survive and no window may span
// a loss.
func TestLostEventsKeepEstimate(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 300 * time.Microsecond, JobDist: "uniform", Depth: 3, Duration: 4 * time.Second, Seed: 51, Gen617: true}
	evs, tr := sc.run(t)
	e := New(Config{})
	var lostAt []int64
	for i, ev := range evs {
		if i%997 == 500 { // lose a burst of 20 events
			lostAt = append(lostAt, evs[i+20].Time)
			e.Feed(lostMarker(evs[i+20].Time, 20))
		}
		if i%997 >= 500 && i%997 < 520 {
			continue
		}
		e.Feed(ev)
	}
	s := e.Snapshot()
	ts := s.Timeslice
	t.Logf("%+v lost=%d", ts, s.Input.Lost)
	if !ts.Detected || relErr(ts.Slice, tr.slice) > 0.02 {
		t.Errorf("estimate after losses: %+v (true slice %v)", ts, tr.slice)
	}
	for _, w := range s.Windows {
		for _, l := range lostAt {
			if w.Start < l && w.End > l {
				t.Errorf("window %+v spans the loss at %d", w, l)
			}
		}
	}
}

// Frame-paced work under a work-conserving host: the guest is rarely busy
// at two consecutive turns, and a turn whose neighbours were all idle
// leaves no window, so the mean turn-to-turn time cannot be measured. The
// engine must say so (no schedule) and still report the windows, which lie
// on the host's slot grid, as switch-outs.
func TestVariableSparseWindowsWithoutPeriod(t *testing.T) {
	sc := scenario{VFs: 4, Slice: 12 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 500 * time.Microsecond, JobDist: "uniform",
		Frames: 16667 * time.Microsecond, FrameJobs: 4, Duration: 4 * time.Second, Seed: 132, Variable: true, SkipProb: 0.3}
	evs, tr := sc.run(t)
	s := New(Config{}).feedAll(evs).Snapshot()
	f1, prec, rec := windowF1(s.Windows, tr)
	t.Logf("%+v F1=%.3f P=%.3f R=%.3f", s.Timeslice, f1, prec, rec)
	if s.Timeslice.Detected {
		if relErr(s.Timeslice.Slice, tr.slice) > 0.01 || math.Abs(s.Timeslice.ScheduleShare-tr.share) > 0.005 {
			t.Errorf("detected with wrong numbers: %+v (true period %v)", s.Timeslice, tr.period)
		}
	} else if !strings.Contains(s.Timeslice.Reason, "slot") {
		t.Errorf("reason does not name the slot grid: %q", s.Timeslice.Reason)
	}
	if prec < 1 || rec < 0.95 {
		t.Errorf("windows precision %.3f recall %.3f", prec, rec)
	}
	if s.SwitchedOutTotal == 0 || s.StallTotal != 0 {
		t.Errorf("switched-out total %v stall total %v", s.SwitchedOutTotal, s.StallTotal)
	}
}

// A few completions delivered late (a stalled interrupt handler, a tracer
// held up by other work) shorten their windows from the start. The
// extremes of the window edges must not follow them: the estimate stays
// on the schedule.
func TestLateCompletionsDoNotSkewSlice(t *testing.T) {
	sc := scenario{VFs: 2, Slice: 6 * time.Millisecond, Cost: 200 * time.Microsecond, Job: 250 * time.Microsecond, JobDist: "exp", Depth: 2, Duration: 3 * time.Second, Seed: 61}
	evs, tr := sc.run(t)
	late := 0
	for k, w := range tr.offs {
		if k%12 != 5 {
			continue
		}
		// the last completion before the switch-out arrives 1.5–3 ms late
		for i := len(evs) - 1; i >= 0; i-- {
			if evs[i].Kind == event.KindDone && evs[i].Time <= w[0] {
				evs[i].Time = w[0] + int64(1500+k%4*500)*us
				late++
				break
			}
		}
	}
	sortEvents(evs)
	s := New(Config{}).feedAll(evs).Snapshot()
	ts := s.Timeslice
	slice, period, share := tr.slice, tr.period, tr.share
	t.Logf("%d late completions: %+v", late, ts)
	if !ts.Detected || relErr(ts.Slice, slice) > 0.02 || relErr(ts.Period, period) > 0.01 || math.Abs(ts.ScheduleShare-share) > 0.01 {
		t.Errorf("estimate %+v, true slice %v period %v share %.4f", ts, slice, period, share)
	}
}
