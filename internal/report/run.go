package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// Run describes the command `gpuwatch run` ran, beside the snapshot of the
// GPU's work while it ran.
type Run struct {
	Command []string
	// PID is the command's process id: the jobs of its process tree are
	// credited to it (and Comm) in the snapshot's per-process tables.
	PID  int32
	Comm string
	Wall time.Duration // from its start to its exit
	// ExitStatus is the command's status as a shell gives it (128+N when
	// signal N ended it); Signal names that signal ("" when it exited).
	ExitStatus int
	Signal     string
}

// RunTotals is the command's part of the GPU's work, summed over the rings.
type RunTotals struct {
	Jobs      uint64        // completed jobs the command's tree submitted
	OtherJobs uint64        // completed jobs of every other task
	Busy      time.Duration // time with the tree's jobs outstanding (per ring, summed)
	Stalled   time.Duration // part of Busy inside switched-out windows
	// Others are the other tasks that completed jobs, summed over rings,
	// most jobs first.
	Others []gaps.ProcessStats
}

// Totals sums the command's rows of s's per-process tables.
func (r *Run) Totals(s *gaps.Snapshot) RunTotals {
	var t RunTotals
	type task struct {
		comm string
		pid  int32
	}
	others := map[task]int{} // → index in t.Others
	for _, ring := range s.Rings {
		var mine uint64
		for _, p := range ring.Processes {
			if p.PID == r.PID && p.Comm == r.Comm {
				mine += p.Jobs
				t.Busy += p.Busy
				t.Stalled += p.Stalled
				continue
			}
			k := task{p.Comm, p.PID}
			i, ok := others[k]
			if !ok {
				i = len(t.Others)
				others[k] = i
				t.Others = append(t.Others, gaps.ProcessStats{Comm: p.Comm, PID: p.PID})
			}
			o := &t.Others[i]
			o.Jobs += p.Jobs
			o.Busy += p.Busy
			o.Stalled += p.Stalled
		}
		t.Jobs += mine
		t.OtherJobs += ring.Jobs - min(mine, ring.Jobs)
	}
	slices.SortStableFunc(t.Others, func(a, b gaps.ProcessStats) int { return cmp.Compare(b.Jobs, a.Jobs) })
	return t
}

// JSONRun is the object `gpuwatch run --json FILE` writes: the final object
// of `watch --json`, the command and its part of the work.
type JSONRun struct {
	*WatchJSON
	Command    []string      `json:"command"`
	ExitStatus int           `json:"exit_status"`
	Signal     string        `json:"signal,omitempty"`
	Benchmark  JSONRunTotals `json:"benchmark"`
}

// JSONRunTotals is RunTotals with the wall time, in seconds.
type JSONRunTotals struct {
	PID            int32   `json:"pid"`
	WallSeconds    float64 `json:"wall_seconds"`
	Jobs           uint64  `json:"jobs"`
	OtherJobs      uint64  `json:"other_jobs"`
	BusySeconds    float64 `json:"busy_seconds"`
	StalledSeconds float64 `json:"stalled_seconds"`
	// StalledRatio is StalledSeconds over WallSeconds.
	StalledRatio float64 `json:"stalled_ratio"`
}

// JSON returns the run object around w, the final watch object.
func (r *Run) JSON(w *WatchJSON, s *gaps.Snapshot) *JSONRun {
	t := r.Totals(s)
	return &JSONRun{
		WatchJSON: w, Command: r.Command, ExitStatus: r.ExitStatus, Signal: r.Signal,
		Benchmark: JSONRunTotals{
			PID: r.PID, WallSeconds: dsec(r.Wall), Jobs: t.Jobs, OtherJobs: t.OtherJobs,
			BusySeconds: dsec(t.Busy), StalledSeconds: dsec(t.Stalled), StalledRatio: ratio(fraction(t.Stalled, r.Wall)),
		},
	}
}

func fraction(d, of time.Duration) float64 {
	if of <= 0 {
		return 0
	}
	return float64(d) / float64(of)
}

// VerdictWord is PASS, FAIL or UNDETERMINED; "" without a verdict.
func (a *Analysis) VerdictWord() string {
	if a.Verdict == nil {
		return ""
	}
	return strings.ToUpper(string(a.Verdict.Outcome))
}

// WriteRun prints the summary of a run in the manner of `perf stat`: the
// command's part of the GPU's work, the schedule it ran under, the
// verdict, and in words how long it waited for the host.
func WriteRun(w io.Writer, a *Analysis, r *Run) error {
	s := a.Snapshot
	t := r.Totals(s)
	ts := &s.Timeslice
	var b strings.Builder
	line := func(value, label, note string) {
		// Padded by characters, not bytes ("±" is two bytes).
		pad := strings.Repeat(" ", max(0, 20-utf8.RuneCountInString(value)))
		l := fmt.Sprintf("  %s%s  %-22s  %s", pad, value, label, note)
		b.WriteString(strings.TrimRight(l, " "))
		b.WriteString("\n")
	}
	secs := func(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
	ofWall := func(d time.Duration) string { return fmt.Sprintf("(%s of wall time)", pct(fraction(d, r.Wall))) }

	fmt.Fprintf(&b, "\n GPU time of '%s'", strings.Join(r.Command, " "))
	if a.Input.Format != "" {
		fmt.Fprintf(&b, " (gpuwatch run, %s)", a.Input.Format)
	}
	b.WriteString(":\n\n")
	line(secs(r.Wall), "wall time", exitNote(r))
	line(fmt.Sprint(t.Jobs), "GPU jobs", othersNote(t))
	line(secs(t.Busy), "GPU busy", ofWall(t.Busy))
	// The windows are switch-outs when they form the host's schedule;
	// otherwise they are stalls of unknown cause.
	stalledLabel := "stalled, switched out"
	if !ts.Detected {
		stalledLabel = "stalled, no progress"
	}
	line(secs(t.Stalled), stalledLabel, ofWall(t.Stalled))
	if sh := &a.Snapshot.Share; sh.Resolved {
		line(fmt.Sprintf("%s ± %s", pct(sh.Ratio), pct(sh.Err)), "share", "(of the time work was outstanding)")
	} else {
		note := "(unresolved)"
		if sh.Reason != "" {
			note = "(unresolved: " + sh.Reason + ")"
		}
		line("-", "share", note)
	}
	if ts.Detected {
		turn := ts.Slice
		if ts.Turn > 0 {
			turn = ts.Turn
		}
		line(pct(ts.ScheduleShare), "schedule share", fmt.Sprintf("(%s of every %s)", dur(turn), dur(ts.Period)))
	}
	if ts.Detected {
		if ts.Turn > 0 {
			line(fmt.Sprintf("%s ± %s", dur(ts.Slice), dur(ts.SliceErr)), "slice", fmt.Sprintf("(the quantum: turns last whole multiples of it, %s ± %s on average)", dur(ts.Turn), dur(ts.TurnErr)))
		} else {
			line(fmt.Sprintf("%s ± %s", dur(ts.Slice), dur(ts.SliceErr)), "slice", "")
		}
		if ts.PeriodSpread > 0 {
			line(fmt.Sprintf("%s ± %s", dur(ts.Period), dur(ts.PeriodErr)), "period", fmt.Sprintf("(mean turn to turn; spread %s)", dur(ts.PeriodSpread)))
		} else {
			line(fmt.Sprintf("%s ± %s", dur(ts.Period), dur(ts.PeriodErr)), "period", "")
		}
		if ts.VFs > 0 {
			line(fmt.Sprint(ts.VFs), "VFs", "")
		} else {
			line("unknown", "VFs", "")
		}
		line(string(ts.Mode), "mode", fmt.Sprintf("(confidence %.2f, %d switched-out windows)", ts.Confidence, ts.Windows))
	} else {
		note := "(no time slicing detected)"
		if ts.Reason != "" {
			note = "(" + ts.Reason + ")"
		}
		line(string(gaps.ModeNone), "mode", note)
	}
	if v := a.Verdict; v != nil {
		exp := pct(v.Expected)
		if a.Expect != nil && a.Expect.Text != "" {
			exp = fmt.Sprintf("%s (%s)", a.Expect.Text, pct(v.Expected))
		}
		line(a.VerdictWord(), "verdict", "expected "+exp)
		for _, n := range []string{v.Reason, v.Resolve} {
			if n != "" {
				fmt.Fprintf(&b, "  %20s  %s\n", "", n)
			}
		}
	}
	b.WriteString("\n ")
	switch {
	case t.Jobs == 0:
		b.WriteString("the benchmark submitted no GPU job that gpuwatch saw")
	case t.Stalled == 0:
		b.WriteString("the benchmark never waited for the host to switch this VM back in")
	case !ts.Detected:
		fmt.Fprintf(&b, "the benchmark's work waited %.2f s (%s) with the GPU making no progress; no switch-out schedule was found to blame the host", t.Stalled.Seconds(), pct(fraction(t.Stalled, r.Wall)))
	default:
		fmt.Fprintf(&b, "the benchmark waited %.2f s (%s) for the host to switch this VM back in", t.Stalled.Seconds(), pct(fraction(t.Stalled, r.Wall)))
	}
	b.WriteString("\n\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// maxOthers is how many other tasks the summary names.
const maxOthers = 3

// othersNote says how many jobs other tasks completed, naming the busiest.
func othersNote(t RunTotals) string {
	var b strings.Builder
	fmt.Fprintf(&b, "(%d by other processes", t.OtherJobs)
	for i, o := range t.Others {
		if i == maxOthers {
			b.WriteString(", ...")
			break
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s %d", sep, taskName(o), o.Jobs)
	}
	b.WriteString(")")
	return b.String()
}

func exitNote(r *Run) string {
	if r.Signal != "" {
		return fmt.Sprintf("(killed by %s, exit status %d)", r.Signal, r.ExitStatus)
	}
	return fmt.Sprintf("(exit status %d)", r.ExitStatus)
}
