package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

func TestParseExpectation(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"1/2", 0.5}, {" 1 / 3 ", 1.0 / 3}, {"0.5", 0.5}, {"50%", 0.5}, {"12.5 %", 0.125}, {"1", 1}, {"2/2", 1},
	} {
		e, err := ParseExpectation(c.in)
		if err != nil || e.Share != c.want {
			t.Errorf("ParseExpectation(%q) = %v, %v; want %v", c.in, e, err, c.want)
		}
	}
	for _, in := range []string{"", "half", "0", "-0.5", "1.5", "150%", "1/0", "3/2", "0/2", "NaN", "1/x"} {
		if e, err := ParseExpectation(in); err == nil {
			t.Errorf("ParseExpectation(%q) = %v, want an error", in, e)
		}
	}
}

// measured is a snapshot of a saturating guest over 10 s whose measured
// share is r ± e, with no schedule inferred.
func measured(r, e float64) *gaps.Snapshot {
	return &gaps.Snapshot{
		Start: 0, End: 10e9,
		Rings: []gaps.RingStats{{Name: "gfx", Jobs: 1000}},
		Share: gaps.ShareEstimate{Ratio: r, Err: e, Resolved: true, Busy: 10 * time.Second, Windows: 400},
	}
}

// halfHost adds a fair 1/2 S7150 schedule (6 ms of every 12.4 ms, 0.2 ms
// switches) at confidence conf.
func halfHost(s *gaps.Snapshot, conf float64, sw time.Duration) *gaps.Snapshot {
	s.Timeslice = gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, Period: 12*time.Millisecond + 2*sw,
		ScheduleShare: 6 / (12 + 2*sw.Seconds()*1e3), ScheduleShareErr: 0.0005, VFs: 2, SwitchCost: sw, Mode: gaps.ModeFixed, Confidence: conf}
	return s
}

func TestVerdictRule(t *testing.T) {
	sw := 200 * time.Microsecond
	outage := halfHost(measured(0.36, 0.004), 0.9, sw)
	outage.Long = []gaps.Window{{Start: 2e9, End: 3.5e9, Kind: gaps.SwitchedOut, InFlight: 4}}
	sparse := halfHost(measured(0.35, 0.004), 0.9, sw)
	sparse.Share.Busy = 5 * time.Second
	for _, c := range []struct {
		name   string
		s      *gaps.Snapshot
		expect float64
		want   Outcome
		reason string
	}{
		{"within a tight interval", measured(0.498, 0.002), 0.5, Pass, ""},
		{"within a wide interval", measured(0.49, 0.005), 0.5, Undetermined, "known only to ±1.0 pp"},
		{"above", measured(0.30, 0), 0.25, Pass, ""},
		{"far below", measured(0.52, 0.01), 0.9, Fail, "pp below"},
		{"short, schedule unknown", measured(0.485, 0.005), 0.5, Undetermined, "world switches could explain"},
		{"short by the switches", halfHost(measured(0.484, 0.001), 0.9, sw), 0.5, Pass, "world-switch overhead"},
		{"short, low confidence", halfHost(measured(0.484, 0.001), 0.3, sw), 0.5, Undetermined, "not known with confidence"},
		{"a neighbour's longer slice", halfHost(measured(0.46, 0.001), 0.9, time.Millisecond), 0.5, Fail, ""},
		{"below the schedule", halfHost(measured(0.40, 0.005), 0.9, sw), 0.5, Fail, "outside the schedule's off-times"},
		{"outage", outage, 0.45, Fail, "no GPU progress for 1.50 s from 2.0 s with 4 jobs waiting"},
		{"work waits for its turn", sparse, 0.5, Undetermined, "waited for your turn"},
		{"passthrough", &gaps.Snapshot{Rings: []gaps.RingStats{{Name: "gfx", Jobs: 3}},
			Share: gaps.ShareEstimate{Ratio: 1, Resolved: true, Passthrough: true}}, 1, Pass, "held the GPU whenever"},
		{"unresolved", &gaps.Snapshot{Share: gaps.ShareEstimate{Ratio: 1, Reason: "jobs too long"}}, 0.5, Undetermined, "jobs too long"},
		{"nothing to measure", &gaps.Snapshot{}, 0.5, Undetermined, ""},
	} {
		v := Build(c.s, InputStats{}, &Expectation{Share: c.expect}).Verdict
		if v.Outcome != c.want || v.OK != (c.want == Pass) || v.Undetermined != (c.want == Undetermined) || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("%s: %s (ok %v, undetermined %v, %q), want %s with %q", c.name, v.Outcome, v.OK, v.Undetermined, v.Reason, c.want, c.reason)
		}
		a := Build(c.s, InputStats{}, &Expectation{Share: c.expect, Text: "1/2"})
		for _, l := range VerdictLines(a, 80) {
			if n := len([]rune(l)); n > 80 {
				t.Errorf("%s: verdict line of %d columns: %q", c.name, n, l)
			}
		}
		if a.Failed() != (c.want != Pass) {
			t.Errorf("%s: Failed() = %v", c.name, a.Failed())
		}
	}
	if a := Build(measured(0.5, 0.01), InputStats{}, nil); a.Verdict != nil || a.Failed() {
		t.Errorf("no expectation: verdict %+v", a.Verdict)
	}
}

func sampleSnapshot(start int64) *gaps.Snapshot {
	ms := int64(time.Millisecond)
	return &gaps.Snapshot{
		Input: gaps.Input{Events: 100, ByName: map[string]uint64{"gpu_sched:amd_sched_job": 50}},
		Start: start, End: start + 40*ms,
		Rings: []gaps.RingStats{{Name: "gfx", Jobs: 50, Busy: 40 * time.Millisecond, Stalled: 12 * time.Millisecond, InFlight: 2,
			LatencyP50: 400 * time.Microsecond, LatencyP99: 6 * time.Millisecond,
			Processes: []gaps.ProcessStats{{Comm: "glmark2", PID: 2211, Jobs: 50}}}},
		Timeslice: gaps.Timeslice{Detected: true, Slice: 6 * time.Millisecond, SliceErr: 50 * time.Microsecond,
			Period: 12 * time.Millisecond, ScheduleShare: 0.5, ScheduleShareErr: 0.004, VFs: 2, Mode: gaps.ModeFixed, Confidence: 0.4, Windows: 2},
		Windows: []gaps.Window{
			{Start: start + 6*ms, End: start + 12*ms, Kind: gaps.SwitchedOut, InFlight: 2},
			{Start: start + 18*ms, End: start + 24*ms + 1000, Kind: gaps.SwitchedOut, InFlight: 2},
			{Start: start + 30*ms, End: start + 31*ms, Kind: gaps.GuestIdle},
		},
		Share:            gaps.ShareEstimate{Ratio: 0.7, Err: 0.01, Resolved: true, Busy: 40 * time.Millisecond, Unserved: 12 * time.Millisecond, Windows: 2},
		SwitchedOutTotal: 12 * time.Millisecond, GuestIdleTotal: time.Millisecond, WindowsTotal: 3,
		Threshold: 2 * time.Millisecond,
		Gaps:      gaps.Histogram{Bounds: []time.Duration{time.Millisecond, 4 * time.Millisecond}, Counts: []uint64{40, 0, 2}, Count: 42},
	}
}

func TestJSONExactTimes(t *testing.T) {
	s := sampleSnapshot(1437803888000)
	var b bytes.Buffer
	if err := WriteJSON(&b, Build(s, InputStats{File: "x"}, nil)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"start_seconds": 1437.803888`, `"start_seconds": 1437.809888,`, `"end_seconds": 1437.827889,`,
		`"duration_seconds": 0.006001`, `"schema": "gpuwatch.analysis/v1"`, `"le_seconds": null`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b.String())
		}
	}
	var d Doc
	if err := json.Unmarshal(b.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.WindowsTotal.SwitchedOut.Count != 2 || d.WindowsTotal.GuestIdle.Count != 1 || d.WindowsTotal.All != 3 {
		t.Errorf("windows_total %+v", d.WindowsTotal)
	}
	if d.Rings[0].StalledRatio != 0.3 {
		t.Errorf("stalled ratio %v", d.Rings[0].StalledRatio)
	}
}

func TestTextPrecision(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, Build(sampleSnapshot(1437803888000), InputStats{File: "x"}, nil)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "1437.803888 → 1437.843888") {
		t.Errorf("µs timestamps:\n%s", b.String())
	}
	b.Reset()
	if err := WriteText(&b, Build(sampleSnapshot(1437803888123), InputStats{File: "x"}, &Expectation{Share: 0.5, Text: "1/2"})); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"1437.803888123 → ", "Verdict: PASS", "schedule    50.0% ± 0.4%", "switched_out", "Longest windows (3 of 3)"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// Longest first.
	if i, j := strings.Index(out, "6.001 ms"), strings.Index(out, "1.000 ms  guest_idle"); i < 0 || j < 0 || i > j {
		t.Errorf("windows not longest first:\n%s", out)
	}
}

func TestEmptySnapshot(t *testing.T) {
	a := Build(&gaps.Snapshot{}, InputStats{}, &Expectation{Share: 0.5})
	var b bytes.Buffer
	if err := WriteText(&b, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Verdict: UNDETERMINED") || !strings.Contains(b.String(), "no completed GPU job") || !a.Failed() {
		t.Errorf("empty analysis:\n%s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"windows": []`) || !strings.Contains(b.String(), `"rings": []`) {
		t.Errorf("empty JSON must have empty arrays, not null:\n%s", b.String())
	}
}
