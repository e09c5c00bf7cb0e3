package model

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/report"
)

// Options are fixed for a run.
type Options struct {
	// Expect is the expected share in (0,1] (0: none); ExpectText is how
	// the user wrote it ("1/2").
	Expect     float64
	ExpectText string
}

// ZoomSteps are the strip's time steps per cell, finest first.
var ZoomSteps = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond,
}

// DefaultZoom is the index in ZoomSteps of the initial step (1 ms: a
// 6 ms slice spans six cells, 80 columns show ~70 ms; zoom out for more).
const DefaultZoom = 3

// Model holds the latest snapshot and the viewer's state. It is not safe
// for concurrent use: the UI goroutine owns it.
type Model struct {
	opts   Options
	zoom   int
	paused bool

	snap  *gaps.Snapshot
	stats live.Stats

	// job rates per ring, on the trace clock, between updates
	prevEnd  int64
	prevJobs map[string]uint64
	rates    map[string]float64
}

// New returns a model with no snapshot yet.
func New(opts Options) *Model {
	return &Model{opts: opts, zoom: DefaultZoom, prevJobs: map[string]uint64{}, rates: map[string]float64{}}
}

// rateInterval is the least trace time over which job rates are taken.
const rateInterval = 250 * time.Millisecond

// Update takes a new snapshot; it is ignored while paused.
func (m *Model) Update(s *gaps.Snapshot, st live.Stats) {
	if m.paused {
		return
	}
	if s == nil {
		m.stats = st
		return
	}
	if m.snap != nil && s.Input.Events < m.snap.Input.Events {
		m.resetRates() // the source was reset
	}
	if len(m.prevJobs) == 0 || s.End < m.prevEnd {
		m.recordJobs(s)
	} else if dt := s.End - m.prevEnd; dt >= int64(rateInterval) {
		for _, r := range s.Rings {
			if p, ok := m.prevJobs[r.Name]; ok && r.Jobs >= p {
				m.rates[r.Name] = float64(r.Jobs-p) / (float64(dt) / 1e9)
			}
		}
		m.recordJobs(s)
	}
	m.snap, m.stats = s, st
}

func (m *Model) recordJobs(s *gaps.Snapshot) {
	m.prevEnd = s.End
	clear(m.prevJobs)
	for _, r := range s.Rings {
		m.prevJobs[r.Name] = r.Jobs
	}
}

func (m *Model) resetRates() {
	m.prevEnd = 0
	clear(m.prevJobs)
	clear(m.rates)
}

// Stats are the run's stats on show.
func (m *Model) Stats() live.Stats { return m.stats }

// Snapshot is the snapshot on show (nil before the first).
func (m *Model) Snapshot() *gaps.Snapshot { return m.snap }

// TogglePause freezes or unfreezes the view.
func (m *Model) TogglePause() { m.paused = !m.paused }

// Paused reports whether the view is frozen.
func (m *Model) Paused() bool { return m.paused }

// Reset forgets the rates (the source was reset) and unpauses.
func (m *Model) Reset() {
	m.paused = false
	m.snap = nil
	m.resetRates()
}

// ZoomIn makes the strip's step finer; ZoomOut coarser.
func (m *Model) ZoomIn() {
	if m.zoom > 0 {
		m.zoom--
	}
}

// ZoomOut makes the strip's step coarser.
func (m *Model) ZoomOut() {
	if m.zoom < len(ZoomSteps)-1 {
		m.zoom++
	}
}

// Step is the strip's current time per cell.
func (m *Model) Step() time.Duration { return ZoomSteps[m.zoom] }

// SetStep zooms to the finest step at least d (d <= 0: the default).
func (m *Model) SetStep(d time.Duration) {
	m.zoom = DefaultZoom
	if d <= 0 {
		return
	}
	m.zoom = len(ZoomSteps) - 1
	for i, z := range ZoomSteps {
		if z >= d {
			m.zoom = i
			return
		}
	}
}

// Header is the top line: source, event rate, lost events, uptime, state.
func (m *Model) Header() string {
	st := m.stats
	src := st.Source
	if src == "" {
		src = "?"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gpuwatch · %s · %s ev/s · lost %s · up %s", src, Count(st.Rate), Count(float64(st.Lost)), Uptime(st.Uptime))
	if s := m.snap; s != nil && s.End > s.Start {
		fmt.Fprintf(&b, " · trace %s", Dur(time.Duration(s.End-s.Start)))
	}
	return b.String()
}

// Status is "PAUSED", "ENDED", "ERROR: ...", "WARN: ..." (the run's
// first warning: a failing push, a recording stopped) or "".
func (m *Model) Status() string {
	switch {
	case m.paused:
		return "PAUSED"
	case m.stats.Err != nil:
		return "ERROR: " + m.stats.Err.Error()
	case m.stats.Done:
		return "ENDED"
	case len(m.stats.Warnings) > 0:
		return "WARN: " + m.stats.Warnings[0]
	}
	return ""
}

// Level classifies the verdict for colouring.
type Level int

const (
	// LevelNone: no schedule detected (yet).
	LevelNone Level = iota
	// LevelInfo: a schedule, no expectation to compare with.
	LevelInfo
	// LevelLow: a schedule with low confidence.
	LevelLow
	// LevelOK: the share meets the expectation within its uncertainty.
	LevelOK
	// LevelBelow: the share is below the expectation beyond its uncertainty.
	LevelBelow
)

// LowConfidence is the confidence under which a schedule is shown as
// uncertain (and no pass/fail verdict is drawn).
const LowConfidence = 0.5

// Verdict is the schedule summary.
type Verdict struct {
	Level Level
	// Share is the headline ("share 48.7% ± 0.3 pp  expected 1/2 (50.0%)  OK").
	Share string
	// Schedule is "slice 6.02 ms ± 0.03 · period 12.45 ms · 2 VFs · fixed · confidence 0.93".
	Schedule string
	// Recent summarises the sliding horizon, "" when it equals the run's.
	Recent string
	// Totals counts the windows since start.
	Totals string
}

// Below reports whether the measured share fails expect by the rule
// `gpuwatch analyze --expect` applies (report.VerdictRule).
func Below(s *gaps.Snapshot, expect float64) bool {
	if expect <= 0 || s == nil {
		return false
	}
	v := report.Build(s, report.InputStats{}, &report.Expectation{Share: expect}).Verdict
	return v != nil && v.Outcome == report.Fail
}

// Verdict returns the summary of the whole run: the measured share and
// its verdict, then the schedule behind it.
func (m *Model) Verdict() Verdict {
	s := m.snap
	if s == nil {
		return Verdict{Level: LevelNone, Share: "waiting for events…"}
	}
	ts := s.Timeslice
	sh := s.Share
	var v Verdict
	switch {
	case sh.Resolved:
		v.Share = fmt.Sprintf("share %.1f%% ± %s pp", 100*sh.Ratio, ppErr(sh.Err))
	default:
		v.Share = "share unresolved"
	}
	v.Level = LevelInfo
	if !sh.Resolved {
		v.Level = LevelNone
	}
	if m.opts.Expect > 0 {
		rv := report.Build(s, report.InputStats{}, &report.Expectation{Share: m.opts.Expect, Text: m.opts.ExpectText}).Verdict
		switch rv.Outcome {
		case report.Pass:
			v.Level = LevelOK
			v.Share += fmt.Sprintf("  expected %s: PASS", m.expectText())
		case report.Fail:
			v.Level = LevelBelow
			v.Share += fmt.Sprintf("  expected %s: FAIL, %.1f pp below", m.expectText(), 100*(m.opts.Expect-sh.Ratio))
		default:
			v.Level = LevelLow
			v.Share += fmt.Sprintf("  expected %s: UNDETERMINED", m.expectText())
		}
		if rv.Reason != "" {
			v.Share += " · " + rv.Reason
		}
	} else if !sh.Resolved && sh.Reason != "" {
		v.Share += ": " + sh.Reason
	}
	if g := report.ShareGap(s); g != "" {
		v.Share += " · " + g
	}
	v.Totals = totals(s)
	if !ts.Detected {
		v.Schedule = "schedule: no time slicing detected"
		if ts.Reason != "" {
			v.Schedule += ": " + ts.Reason
		}
		return v
	}
	// On a liquid host the slice is the quantum, and the mean turn comes
	// next to it (before what a narrow screen cuts off).
	slice := fmt.Sprintf("slice %s ± %s", Dur(ts.Slice), Dur(ts.SliceErr))
	if ts.Turn > 0 {
		slice = fmt.Sprintf("quantum %s ± %s · turn %s ± %s", Dur(ts.Slice), Dur(ts.SliceErr), Dur(ts.Turn), Dur(ts.TurnErr))
	}
	v.Schedule = fmt.Sprintf("schedule %.1f%%: %s · period %s · %s · %s · confidence %.2f",
		100*ts.ScheduleShare, slice, Dur(ts.Period), vfs(ts.VFs), ts.Mode, ts.Confidence)
	if ts.Confidence < LowConfidence {
		v.Schedule += " (low confidence)"
	}
	if r := s.Recent; r != ts {
		if r.Detected {
			v.Recent = fmt.Sprintf("recent: schedule %.1f%% · slice %s · period %s · %s · %d windows", 100*r.ScheduleShare, Dur(r.Slice), Dur(r.Period), r.Mode, r.Windows)
		} else {
			v.Recent = "recent: no time slicing detected"
			if r.Reason != "" {
				v.Recent += ": " + r.Reason
			}
		}
	}
	return v
}

// ppErr formats a share's standard error in percentage points.
func ppErr(e float64) string {
	if e > 0 && 100*e < 0.01 {
		return "<0.01"
	}
	return sig(100 * e)
}

func totals(s *gaps.Snapshot) string {
	span := time.Duration(s.End - s.Start)
	t := fmt.Sprintf("%d windows · switched out %s (%s) · guest idle %s", s.WindowsTotal, Dur(s.SwitchedOutTotal), Pct(s.SwitchedOutTotal, span), Dur(s.GuestIdleTotal))
	if s.StallTotal > 0 {
		t += " · stalled " + Dur(s.StallTotal)
	}
	return t
}

func vfs(n int) string {
	if n <= 0 {
		return "VFs ?"
	}
	return fmt.Sprintf("%d VFs", n)
}

func (m *Model) expectText() string {
	pct := fmt.Sprintf("%.1f%%", 100*m.opts.Expect)
	switch t := m.opts.ExpectText; {
	case t == "" || t == pct:
		return pct
	case strings.Contains(t, "%"):
		return t
	default:
		return t + " (" + pct + ")"
	}
}

// Cell is the state of one strip cell.
type Cell uint8

const (
	// CellNone: no data (before the trace or the last reset).
	CellNone Cell = iota
	// CellActive: no window: the VF held the GPU or the guest made progress.
	CellActive
	// CellSwitchedOut: a switched-out window.
	CellSwitchedOut
	// CellIdle: guest idle, nothing outstanding.
	CellIdle
	// CellStall: no progress with work outstanding, not a schedule.
	CellStall
)

// Strip is the timeline strip: Cells[len-1] ends at the snapshot's End.
type Strip struct {
	Cells []Cell
	Step  time.Duration
	// Title names the step and the span ("1 ms/cell · last 72 ms").
	Title string
	// Axis is a line of len(Cells) runes with time labels.
	Axis string
	// Now describes the right edge ("now: switched out for 3.1 ms").
	Now     string
	NowCell Cell
}

func cellOf(k gaps.WindowKind) Cell {
	switch k {
	case gaps.SwitchedOut:
		return CellSwitchedOut
	case gaps.GuestIdle:
		return CellIdle
	case gaps.Stall:
		return CellStall
	}
	return CellActive
}

// Strip computes n cells at the current zoom. Cost: O(n + windows in view
// + log windows).
func (m *Model) Strip(n int) Strip {
	step := ZoomSteps[m.zoom]
	st := Strip{Step: step}
	if n <= 0 {
		return st
	}
	st.Cells = make([]Cell, n)
	st.Title = fmt.Sprintf("%s/cell · last %s", Dur(step), Dur(time.Duration(n)*step))
	st.Axis = axis(n, step)
	s := m.snap
	if s == nil || s.End <= s.Start {
		st.Now = "no data yet"
		return st
	}
	end := s.End
	from := end - int64(n)*int64(step)
	// coverage per cell of each window kind, in ns
	var cov [5][]int64
	for c := CellSwitchedOut; c <= CellStall; c++ {
		cov[c] = make([]int64, n)
	}
	ws := s.Windows
	i := sort.Search(len(ws), func(i int) bool { return ws[i].End > from })
	for ; i < len(ws) && ws[i].Start < end; i++ {
		w := ws[i]
		c := cellOf(w.Kind)
		if c == CellActive {
			continue
		}
		a, b := max(w.Start, from), min(w.End, end)
		for a < b {
			k := int((a - from) / int64(step))
			if k >= n {
				break
			}
			cellEnd := from + int64(k+1)*int64(step)
			seg := min(b, cellEnd) - a
			cov[c][k] += seg
			a += seg
		}
	}
	for k := 0; k < n; k++ {
		c0, c1 := from+int64(k)*int64(step), from+int64(k+1)*int64(step)
		if c1 <= s.Start {
			continue // CellNone
		}
		data := c1 - max(c0, s.Start)
		best, bestCov := CellActive, int64(0)
		for c := CellSwitchedOut; c <= CellStall; c++ {
			if cov[c][k] > bestCov {
				best, bestCov = c, cov[c][k]
			}
		}
		if 2*bestCov < data {
			best = CellActive
		}
		st.Cells[k] = best
	}
	st.NowCell = CellActive
	st.Now = "now: active"
	if len(ws) > 0 {
		if w := ws[len(ws)-1]; w.Open {
			st.NowCell = cellOf(w.Kind)
			st.Now = fmt.Sprintf("now: %s for %s", KindText(w.Kind), Dur(w.Duration()))
		}
	}
	return st
}

// KindText is a window kind for people.
func KindText(k gaps.WindowKind) string {
	switch k {
	case gaps.SwitchedOut:
		return "switched out"
	case gaps.GuestIdle:
		return "guest idle"
	case gaps.Stall:
		return "stalled"
	case gaps.Steal:
		return "vCPU held up (steal)"
	}
	return string(k)
}

// axis labels the strip: "-72ms" at the left edge, the middle, "now" at
// the right.
func axis(n int, step time.Duration) string {
	line := []rune(strings.Repeat(" ", n))
	put := func(at int, s string) {
		r := []rune(s)
		if at < 0 {
			at = 0
		}
		if at+len(r) > n {
			at = n - len(r)
		}
		if at < 0 {
			return
		}
		copy(line[at:], r)
	}
	put(0, "-"+Dur(time.Duration(n)*step))
	if n >= 30 {
		mid := n / 2
		lbl := "-" + Dur(time.Duration(n-mid)*step)
		put(mid-len(lbl)/2, lbl)
	}
	put(n-3, "now")
	return string(line)
}

// Bar is one histogram row.
type Bar struct {
	Label string // the bucket's upper bound ("≤ 8.4ms", "> 275s")
	Count uint64
	Frac  float64 // log(1+Count) relative to the fullest bar's, in [0,1]
	// Window: the bucket lies above the window threshold (gaps this long
	// count as windows).
	Window bool
}

// Hist returns at most rows bars spanning the non-empty buckets of the gap
// histogram; neighbouring buckets merge when they do not fit.
func (m *Model) Hist(rows int) []Bar {
	s := m.snap
	if s == nil || rows <= 0 {
		return nil
	}
	h := s.Gaps
	if len(h.Bounds) == 0 || len(h.Counts) > len(h.Bounds)+1 {
		return nil
	}
	lo, hi := -1, -1
	for i, c := range h.Counts {
		if c > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return nil
	}
	per := (hi - lo + rows) / rows // buckets per bar
	var bars []Bar
	var top uint64
	for i := lo; i <= hi; i += per {
		j := min(i+per-1, hi)
		var b Bar
		for k := i; k <= j; k++ {
			b.Count += h.Counts[k]
		}
		if j < len(h.Bounds) {
			b.Label = "≤" + Dur(h.Bounds[j]+1)
			b.Window = s.Threshold > 0 && h.Bounds[j] >= s.Threshold
		} else {
			b.Label = ">" + Dur(h.Bounds[len(h.Bounds)-1]+1)
			b.Window = s.Threshold > 0
		}
		top = max(top, b.Count)
		bars = append(bars, b)
	}
	// Log scale: the few switch-out gaps stay visible beside the many
	// short gaps between jobs.
	for i := range bars {
		bars[i].Frac = math.Log1p(float64(bars[i].Count)) / math.Log1p(float64(top))
	}
	return bars
}

// RingRow is one row of the ring table, formatted.
type RingRow struct {
	Name, JobsPerSec, Jobs, Busy, Stalled, InFlight, P50, P99 string
}

// RingHeader names the ring table's columns.
var RingHeader = RingRow{"ring", "jobs/s", "jobs", "busy", "stalled", "infl", "p50", "p99"}

// Rings returns one row per ring, in the snapshot's order. Busy and
// stalled are fractions of the trace span.
func (m *Model) Rings() []RingRow {
	s := m.snap
	if s == nil {
		return nil
	}
	span := time.Duration(s.End - s.Start)
	rows := make([]RingRow, 0, len(s.Rings))
	for _, r := range s.Rings {
		rows = append(rows, RingRow{
			Name:       r.Name,
			JobsPerSec: m.rate(r.Name),
			Jobs:       Count(float64(r.Jobs)),
			Busy:       Pct(r.Busy, span),
			Stalled:    Pct(r.Stalled, span),
			InFlight:   fmt.Sprint(r.InFlight),
			P50:        Dur(r.LatencyP50),
			P99:        Dur(r.LatencyP99),
		})
	}
	return rows
}

func (m *Model) rate(ring string) string {
	if r, ok := m.rates[ring]; ok {
		return Count(r)
	}
	return "-"
}

// ProcRow is one submitting task, formatted.
type ProcRow struct {
	Process, Ring, Jobs, Busy, Stalled string
}

// ProcHeader names the process table's columns.
var ProcHeader = ProcRow{"process", "ring", "jobs", "busy", "stalled"}

// Procs returns up to n tasks, most jobs first (ties by name).
func (m *Model) Procs(n int) []ProcRow {
	s := m.snap
	if s == nil || n <= 0 {
		return nil
	}
	// Keep the top n in order while scanning: O(tasks × log n) compares
	// plus O(n) moves per insertion, bounded by the drawn rows.
	type pr struct {
		ring string
		p    gaps.ProcessStats
	}
	before := func(a, b *pr) bool {
		if a.p.Jobs != b.p.Jobs {
			return a.p.Jobs > b.p.Jobs
		}
		if a.p.Comm != b.p.Comm {
			return a.p.Comm < b.p.Comm
		}
		if a.p.PID != b.p.PID {
			return a.p.PID < b.p.PID
		}
		return a.ring < b.ring
	}
	all := make([]pr, 0, n)
	for _, r := range s.Rings {
		for _, p := range r.Processes {
			if p.Comm == "" && p.PID == 0 {
				continue
			}
			c := pr{r.Name, p}
			if len(all) == n && !before(&c, &all[n-1]) {
				continue
			}
			i := sort.Search(len(all), func(i int) bool { return before(&c, &all[i]) })
			if len(all) < n {
				all = append(all, pr{})
			}
			copy(all[i+1:], all[i:len(all)-1])
			all[i] = c
		}
	}
	span := time.Duration(s.End - s.Start)
	rows := make([]ProcRow, 0, min(n, len(all)))
	for _, x := range all[:min(n, len(all))] {
		name := x.p.Comm
		if x.p.PID != 0 {
			name = fmt.Sprintf("%s[%d]", name, x.p.PID)
		}
		rows = append(rows, ProcRow{name, x.ring, Count(float64(x.p.Jobs)), Pct(x.p.Busy, span), Pct(x.p.Stalled, span)})
	}
	return rows
}

// Help lists the keys.
var Help = []string{
	"q      quit",
	"p      pause / resume the display (measuring goes on)",
	"r      reset statistics",
	"+ / -  zoom the timeline strip in / out",
	"?      this help (any key closes it)",
	"^Z     suspend to the shell (fg to come back)",
	"",
	"strip: █ active   ▒ switched out   · guest idle   ▄▓ stalled",
	"histogram: gaps between completions while work was outstanding",
	"(log scale); red bars are at or above the window threshold",
	"verdict (--expect): BELOW when share + 2·err < expected",
}

// Dur formats a duration with three significant digits ("6.02ms").
func Dur(d time.Duration) string {
	a := d
	if a < 0 {
		a = -a
	}
	switch {
	case d == 0:
		return "0"
	case a < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case a < time.Millisecond:
		return sig(float64(d)/1e3) + "µs"
	case a < time.Second:
		return sig(float64(d)/1e6) + "ms"
	default:
		return sig(float64(d)/1e9) + "s"
	}
}

// sig formats x with three significant digits, without trailing zeros.
func sig(x float64) string {
	a := math.Abs(x)
	var s string
	switch {
	case a >= 100:
		s = fmt.Sprintf("%.0f", x)
	case a >= 10:
		s = fmt.Sprintf("%.1f", x)
	default:
		s = fmt.Sprintf("%.2f", x)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// Count formats a count or rate compactly ("950", "12.3k", "1.5M").
func Count(x float64) string {
	switch {
	case x < 0 || math.IsNaN(x):
		return "?"
	case x < 1000:
		return fmt.Sprintf("%.0f", x)
	case x < 1e6:
		return sig(x/1e3) + "k"
	case x < 1e9:
		return sig(x/1e6) + "M"
	default:
		return sig(x/1e9) + "G"
	}
}

// Pct formats part/whole as a percentage ("97.1%").
func Pct(part, whole time.Duration) string {
	if whole <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

// Uptime formats a wall-clock duration as h:mm:ss or m:ss.
func Uptime(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Cells lists the row's columns in RingHeader's order.
func (r RingRow) Cells() []string {
	return []string{r.Name, r.JobsPerSec, r.Jobs, r.Busy, r.Stalled, r.InFlight, r.P50, r.P99}
}

// RingOptional are the ring columns dropped first when space is short
// (indexes into Cells, first dropped first).
var RingOptional = []int{2}

// Cells lists the row's columns in ProcHeader's order.
func (p ProcRow) Cells() []string { return []string{p.Process, p.Ring, p.Jobs, p.Busy, p.Stalled} }

// FitTable lays rows out in width columns: the first column left-aligned,
// the others right-aligned, one space apart. When they do not fit, the
// optional columns are dropped in order, then the first column is
// truncated (with "…").
func FitTable(rows [][]string, width int, optional []int) []string {
	if len(rows) == 0 || width <= 0 {
		return nil
	}
	ncol := len(rows[0])
	w := make([]int, ncol)
	for _, r := range rows {
		for i := 0; i < ncol && i < len(r); i++ {
			w[i] = max(w[i], len([]rune(r[i])))
		}
	}
	keep := make([]bool, ncol)
	for i := range keep {
		keep[i] = true
	}
	total := func() int {
		t := -1
		for i := range w {
			if keep[i] {
				t += w[i] + 1
			}
		}
		return t
	}
	for _, o := range optional {
		if total() <= width {
			break
		}
		if o > 0 && o < ncol {
			keep[o] = false
		}
	}
	if over := total() - width; over > 0 {
		w[0] = max(1, w[0]-over)
	}
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		for i := 0; i < ncol; i++ {
			if !keep[i] {
				continue
			}
			c := ""
			if i < len(r) {
				c = r[i]
			}
			rs := []rune(c)
			if len(rs) > w[i] {
				if w[i] > 1 {
					rs = append(rs[:w[i]-1], '…')
				} else {
					rs = rs[:w[i]]
				}
			}
			pad := strings.Repeat(" ", w[i]-len(rs))
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			if i == 0 {
				b.WriteString(string(rs) + pad)
			} else {
				b.WriteString(pad + string(rs))
			}
		}
		line := []rune(b.String())
		if len(line) > width {
			line = line[:width]
		}
		lines = append(lines, string(line))
	}
	return lines
}
