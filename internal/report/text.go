package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
)

// MaxTextWindows is how many of the longest windows WriteText lists.
const MaxTextWindows = 10

const barWidth = 40

// WriteText writes a's report for people.
func WriteText(w io.Writer, a *Analysis) error {
	bw := bufio.NewWriter(w)
	t := textWriter{w: bw, prec: timePrecision(a.Snapshot)}
	t.header(a)
	t.share(a)
	t.schedule(a)
	t.rings(a.Snapshot)
	t.gaps(a.Snapshot)
	t.windows(a.Snapshot)
	t.verdict(a)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return nil
}

type textWriter struct {
	w    *bufio.Writer
	prec int // decimals of timestamps: 6 when the trace is in µs, else 9
}

func (t *textWriter) printf(format string, args ...any) { fmt.Fprintf(t.w, format, args...) }

// timePrecision prints timestamps like the report: µs unless a time has
// sub-microsecond digits.
func timePrecision(s *gaps.Snapshot) int {
	ns := func(v int64) bool { return v%1000 != 0 }
	if ns(s.Start) || ns(s.End) {
		return 9
	}
	for _, w := range s.Windows {
		if ns(w.Start) || ns(w.End) {
			return 9
		}
	}
	return 6
}

func (t *textWriter) ts(ns int64) string {
	sign := ""
	if ns < 0 {
		sign, ns = "-", -ns
	}
	s := fmt.Sprintf("%s%d.%09d", sign, ns/1e9, ns%1e9)
	return s[:len(s)-(9-t.prec)]
}

// dur prints a duration in ms (µs exact), or in s from 10 s on.
func dur(d time.Duration) string {
	if d >= 10*time.Second || d <= -10*time.Second {
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.3f ms", float64(d)/1e6)
}

func pct(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

func plural(n uint64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (t *textWriter) header(a *Analysis) {
	s := a.Snapshot
	name := a.Input.File
	if name == "" {
		name = "(input)"
	}
	t.printf("gpuwatch analysis of %s", name)
	if a.Input.Format != "" {
		t.printf(" (%s)", a.Input.Format)
	}
	t.printf("\n")
	if s.Input.Events == 0 && s.Start == 0 && s.End == 0 {
		t.printf("  span        (no events)\n")
	} else {
		t.printf("  span        %s → %s (%s)\n", t.ts(s.Start), t.ts(s.End), dur(time.Duration(s.End-s.Start)))
	}
	t.printf("  events      %d", a.Input.Events)
	if a.Input.Lines > 0 {
		t.printf(" from %s", plural(a.Input.Lines, "line", "lines"))
	}
	t.printf("; %d lost, %s, %s\n", a.Input.Lost,
		plural(a.Input.Unknown, "unknown line", "unknown lines"),
		plural(a.Input.Malformed, "malformed line", "malformed lines"))
	in := &s.Input
	if in.Unmatched+in.Implied+in.Expired+in.OutOfOrder > 0 {
		t.printf("  jobs        %d completions without submission, %d implied, %d expired, %d events out of order\n",
			in.Unmatched, in.Implied, in.Expired, in.OutOfOrder)
	}
	if in.FencesOther+in.FencesUnmatched+in.Duplicate > 0 {
		t.printf("  fences      %d ending no job (hardware, other drivers), %d scheduler fences of no job seen, %d events left out as duplicates\n",
			in.FencesOther, in.FencesUnmatched, in.Duplicate)
	}
	if in.CompleteFrom > s.Start {
		t.printf("  complete    from %s: some CPUs' buffers began later, no window before\n", t.ts(in.CompleteFrom))
	}
	if in.RingsCapped+in.TasksCapped > 0 {
		t.printf("  capped      %d events of rings and %d jobs of tasks beyond the tables' caps, counted under \"(other)\"\n",
			in.RingsCapped, in.TasksCapped)
	}
}

func (t *textWriter) share(a *Analysis) {
	s := a.Snapshot
	m := &s.Share
	t.printf("\nShare\n")
	switch {
	case m.Resolved:
		t.printf("  measured    %s ± %s of the time work was outstanding\n", pct(m.Ratio), pct(m.Err))
	case m.Ratio > 0:
		t.printf("  measured    unresolved (%s at most)\n", pct(m.Ratio))
	default:
		t.printf("  measured    unresolved\n")
	}
	t.printf("  busy        %s, %s of it switched out or stalled (%d windows)\n", dur(m.Busy), dur(m.Unserved), m.Windows)
	if m.Reason != "" {
		t.printf("  %-11s %s\n", map[bool]string{true: "note", false: "reason"}[m.Resolved], m.Reason)
	}
	if g := ShareGap(s); g != "" {
		t.printf("  why         %s\n", g)
	}
}

func (t *textWriter) schedule(a *Analysis) {
	ts := &a.Snapshot.Timeslice
	t.printf("\nSchedule\n")
	if !ts.Detected {
		t.printf("  detected    no\n")
		t.printf("  mode        %s\n", gaps.ModeNone)
		if ts.Reason != "" {
			t.printf("  reason      %s\n", ts.Reason)
		}
		return
	}
	t.printf("  detected    yes\n")
	if ts.Turn > 0 {
		t.printf("  slice       %s ± %s (the quantum: turns last whole multiples of it)\n", dur(ts.Slice), dur(ts.SliceErr))
		t.printf("  turn        %s ± %s on average\n", dur(ts.Turn), dur(ts.TurnErr))
	} else {
		t.printf("  slice       %s ± %s\n", dur(ts.Slice), dur(ts.SliceErr))
	}
	if ts.PeriodSpread > 0 {
		t.printf("  period      %s ± %s (mean turn to turn; spread %s)\n", dur(ts.Period), dur(ts.PeriodErr), dur(ts.PeriodSpread))
	} else {
		t.printf("  period      %s ± %s\n", dur(ts.Period), dur(ts.PeriodErr))
	}
	if ts.Turn > 0 {
		t.printf("  schedule    %s ± %s of the time (mean turn over period)\n", pct(ts.ScheduleShare), pct(ts.ScheduleShareErr))
	} else {
		t.printf("  schedule    %s ± %s of the time (slice over period)\n", pct(ts.ScheduleShare), pct(ts.ScheduleShareErr))
	}
	switch {
	case ts.VFs > 0 && ts.SwitchCost > 0:
		t.printf("  VFs         %d (switch cost %s per turn)\n", ts.VFs, dur(ts.SwitchCost))
	case ts.VFs > 0:
		t.printf("  VFs         %d\n", ts.VFs)
	default:
		t.printf("  VFs         unknown\n")
	}
	t.printf("  mode        %s\n", ts.Mode)
	t.printf("  confidence  %.2f (%d switched-out windows)\n", ts.Confidence, ts.Windows)
	if ts.Reason != "" {
		t.printf("  note        %s\n", ts.Reason)
	}
}

func taskName(p gaps.ProcessStats) string {
	task := p.Comm
	if task == "" {
		task = "(unknown task)"
	}
	if p.PID > 0 {
		task = fmt.Sprintf("%s-%d", task, p.PID)
	}
	return task
}

func stalledPct(busy, stalled time.Duration) string {
	if busy <= 0 {
		return "-"
	}
	return pct(float64(stalled) / float64(busy))
}

func (t *textWriter) rings(s *gaps.Snapshot) {
	t.printf("\nRings\n")
	if len(s.Rings) == 0 {
		t.printf("  (no jobs)\n")
		return
	}
	// Tasks are listed under their ring, indented by two.
	w := len("ring / task")
	for _, r := range s.Rings {
		w = max(w, len(r.Name))
		for _, p := range r.Processes {
			w = max(w, 2+len(taskName(p)))
		}
	}
	t.printf("  %-*s %8s %13s %13s %8s %11s %11s %9s\n", w, "ring / task", "jobs", "busy", "stalled", "stalled%", "p50 lat", "p99 lat", "in-flight")
	for _, r := range s.Rings {
		t.printf("  %-*s %8d %13s %13s %8s %11s %11s %9d\n", w, r.Name, r.Jobs, dur(r.Busy), dur(r.Stalled), stalledPct(r.Busy, r.Stalled),
			dur(r.LatencyP50), dur(r.LatencyP99), r.InFlight)
		for _, p := range r.Processes {
			t.printf("    %-*s %8d %13s %13s %8s\n", w-2, taskName(p), p.Jobs, dur(p.Busy), dur(p.Stalled), stalledPct(p.Busy, p.Stalled))
		}
	}
}

func (t *textWriter) gaps(s *gaps.Snapshot) {
	h := &s.Gaps
	t.printf("\nGaps between completions while busy (%d", h.Count)
	if s.Threshold > 0 {
		t.printf(", window threshold %s", dur(s.Threshold))
	}
	t.printf(")\n")
	lo, hi := -1, -1
	var max uint64
	for i, c := range h.Counts {
		if c > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
			if c > max {
				max = c
			}
		}
	}
	if lo < 0 {
		t.printf("  (none)\n")
		return
	}
	for i := lo; i <= hi; i++ {
		var label string
		if i < len(h.Bounds) {
			label = "≤ " + dur(h.Bounds[i])
		} else {
			label = "> " + dur(h.Bounds[len(h.Bounds)-1])
		}
		n := int((h.Counts[i]*barWidth + max - 1) / max)
		t.printf("  %12s |%-*s %d\n", label, barWidth, strings.Repeat("#", n), h.Counts[i])
	}
}

func (t *textWriter) windows(s *gaps.Snapshot) {
	wt := WindowTotals(s)
	t.printf("\nWindows\n")
	t.printf("  switched out %3d  %13s\n", wt.SwitchedOut.Count, dur(s.SwitchedOutTotal))
	t.printf("  guest idle   %3d  %13s\n", wt.GuestIdle.Count, dur(s.GuestIdleTotal))
	t.printf("  stall        %3d  %13s\n", wt.Stall.Count, dur(s.StallTotal))
	if s.StealTotal > 0 {
		t.printf("  vCPU steal   %3d  %13s  (the GPU ran; completions delivered late)\n", wt.Steal.Count, dur(s.StealTotal))
	}
	ws := longest(s.Windows, MaxTextWindows)
	t.printf("\nLongest windows (%d of %d)\n", len(ws), len(s.Windows))
	if len(ws) == 0 {
		t.printf("  (none)\n")
		return
	}
	tw := len(t.ts(s.End))
	t.printf("  %-*s %-*s %12s  %-13s %9s\n", tw, "start", tw, "end", "duration", "kind", "in-flight")
	for _, w := range ws {
		kind := string(w.Kind)
		if w.Open {
			kind += " (open)"
		}
		t.printf("  %-*s %-*s %12s  %-13s %9d\n", tw, t.ts(w.Start), tw, t.ts(w.End), dur(w.Duration()), kind, w.InFlight)
	}
}

func (t *textWriter) verdict(a *Analysis) {
	v := a.Verdict
	if v == nil {
		return
	}
	t.printf("\n")
	for _, l := range VerdictLines(a, 80) {
		t.printf("%s\n", l)
	}
}

// VerdictLines renders a's verdict for people in lines of at most width
// columns: the outcome and the share first, then the reason and what
// would resolve an undetermined verdict.
func VerdictLines(a *Analysis, width int) []string {
	v := a.Verdict
	if v == nil {
		return nil
	}
	exp := pctf1(v.Expected)
	if a.Expect != nil && a.Expect.Text != "" {
		exp = a.Expect.Text
	}
	var head string
	switch v.Outcome {
	case Undetermined:
		head = fmt.Sprintf("Verdict: UNDETERMINED  (expected %s)", exp)
		if v.Measured > 0 {
			head = fmt.Sprintf("Verdict: UNDETERMINED  share %s ± %s (expected %s)", pctf1(v.Measured), pctf1(v.ShareErr), exp)
		}
	default:
		head = fmt.Sprintf("Verdict: %s  share %s ± %s (expected %s", strings.ToUpper(string(v.Outcome)), pctf1(v.Measured), pctf1(v.ShareErr), exp)
		if v.Confidence > 0 {
			head += fmt.Sprintf("; confidence %.2f", v.Confidence)
		}
		head += ")"
	}
	lines := []string{head}
	for _, s := range []string{v.Reason, v.Resolve} {
		if s != "" {
			lines = append(lines, wrap(s, "  ", width)...)
		}
	}
	return lines
}

// wrap breaks s into lines of at most width columns (words longer than
// a line stand alone), each starting with indent.
func wrap(s, indent string, width int) []string {
	var out []string
	line := indent
	for _, w := range strings.Fields(s) {
		if len([]rune(line))+1+len([]rune(w)) > width && line != indent {
			out = append(out, line)
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	if line != indent {
		out = append(out, line)
	}
	return out
}
