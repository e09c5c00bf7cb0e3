package report

import (
	"time"

	"github.com/gpuwatch/gpuwatch/internal/gaps"
	"github.com/gpuwatch/gpuwatch/internal/live"
)

// WatchJSON is one object of `gpuwatch watch --json`: the live run's
// counters, then the shapes of the analysis document (Doc). The last object
// of a run has Final set and carries the gaps histogram and the input.
type WatchJSON struct {
	Time            string           `json:"time"`
	UptimeSeconds   float64          `json:"uptime_seconds"`
	Source          string           `json:"source"`
	Events          uint64           `json:"events"`
	LostEvents      uint64           `json:"lost_events"`
	EventsPerSecond float64          `json:"events_per_second"`
	Span            JSONSpan         `json:"span"`
	Timeslice       JSONTimeslice    `json:"timeslice"`
	Recent          JSONTimeslice    `json:"recent"`
	ThresholdSecs   float64          `json:"threshold_seconds"`
	WindowsTotal    JSONWindowTotals `json:"windows_total"`
	Windows         []JSONWindow     `json:"windows"`
	Rings           []JSONRing       `json:"rings,omitempty"`
	Gaps            *JSONHistogram   `json:"gaps,omitempty"`
	Verdict         *JSONVerdict     `json:"verdict,omitempty"`
	Final           bool             `json:"final,omitempty"`
	Input           *JSONInput       `json:"input,omitempty"`
}

// Watch builds the watch object of snapshot s and run stats st at wall
// time now. exp may be nil.
func Watch(s *gaps.Snapshot, st live.Stats, exp *Expectation, final bool, now time.Time) *WatchJSON {
	a := Build(s, InputStats{Format: st.Source, Events: st.Events, Lost: st.Lost}, exp)
	d := a.Doc()
	o := &WatchJSON{
		Time:            now.UTC().Format(time.RFC3339Nano),
		UptimeSeconds:   st.Uptime.Seconds(),
		Source:          st.Source,
		Events:          st.Events,
		LostEvents:      st.Lost,
		EventsPerSecond: st.Rate,
		Span:            d.Span,
		Timeslice:       d.Timeslice,
		Recent:          Timeslice(&s.Recent),
		ThresholdSecs:   d.ThresholdSeconds,
		WindowsTotal:    d.WindowsTotal,
		Windows:         d.Windows,
		Rings:           d.Rings,
		Verdict:         d.Verdict,
		Final:           final,
	}
	if final {
		o.Gaps = &d.Gaps
		o.Input = &d.Input
	}
	return o
}
